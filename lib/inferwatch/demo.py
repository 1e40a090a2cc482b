"""`inferwatch demo`: a generated scenario through the whole pipeline, end to end."""
from __future__ import annotations

import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

from inferwatch import scenario
from inferwatch.ingest import ingest_files
from inferwatch.context import open_context
from inferwatch.jobs.hourly import run as run_hourly
from inferwatch import read
from inferwatch.alerts import scorecard
from inferwatch.summary import first_drift, first_quality_failures, lake_summary

MARKER = ".inferwatch-demo"


def _fresh(lake: Path) -> None:
    """Recreate the demo lake, but never wipe a folder the demo did not make."""
    if lake.exists():
        if any(lake.iterdir()) and not (lake / MARKER).exists():
            raise SystemExit(f"{lake} exists and was not made by the demo; pass --lake NEW_DIR")
        shutil.rmtree(lake)
    lake.mkdir(parents=True)
    (lake / MARKER).write_text("made by `inferwatch demo`; recreated on every demo run\n")


def run_demo(conf: str, lake: str, days: int, rows_per_hour: int, models: list[str],
             seed: int) -> None:
    t0 = time.monotonic()
    lake_path = Path(lake)
    _fresh(lake_path)
    inputs = lake_path.parent / "input"
    shutil.rmtree(inputs, ignore_errors=True)
    print(f"[demo 1/4] generating {days} days x {len(models)} models x ~{rows_per_hour} rows/hour "
          f"(seed {seed}) ...", flush=True)
    generated = scenario.generate(seed=seed, days=days, rows_per_hour=rows_per_hour,
                                  models=models)
    files = scenario.write(generated, inputs)
    counts = generated.manifest["counts"]
    print(f"  {counts['inferences_unique']:,} inferences + {counts['duplicates']:,} duplicate "
          f"deliveries + {counts['malformed']} malformed rows; {counts['labels']:,} label events; "
          f"{len(generated.manifest['incidents'])} incidents in {inputs}/manifest.json", flush=True)
    ctx = open_context(conf, lake=str(lake_path), models_dir=inputs / "models")
    print(f"[demo 2/4] ingesting into {lake_path} ...", flush=True)
    print("  " + ingest_files(ctx.lake, "inferences", files["inferences"], ctx.models).summary())
    arrived, late = files["labels"][:-1], files["labels"][-1:]
    print("  " + ingest_files(ctx.lake, "labels", arrived, ctx.models).summary()
          + f" (labels arriving after {generated.manifest['end']} held back: {late[0].name})")
    print("[demo 3/4] running the hourly pipeline ...", flush=True)
    run_hourly(ctx)
    print("[demo 4/4] running it again (incremental: nothing new, nothing changes) ...",
          flush=True)
    run_hourly(ctx)
    print()
    print(lake_summary(str(lake_path)))
    for model_id in models:
        print()
        print(first_drift(str(lake_path), model_id))
        print(first_quality_failures(str(lake_path), model_id))
    print()
    card = scorecard.score(read.table(str(lake_path), "alerts"), generated.manifest)
    print("\n".join(scorecard.text(card)))
    print()
    print(f"demo finished in {time.monotonic() - t0:.0f}s at "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Try:")
    print(f"  inferwatch show inferences --lake {lake_path} --limit 5")
    print(f"  inferwatch show performance --lake {lake_path} --model fraud --granularity 1d")
    print(f"  inferwatch show estimates --lake {lake_path} --model eta --granularity 1d")
    print(f"  inferwatch show fairness --lake {lake_path} --model fraud --granularity 1d")
    print(f"  inferwatch show drift --lake {lake_path} --model fraud")
    print(f"  inferwatch show quality --lake {lake_path} --model eta")
    print(f"  inferwatch show alerts --lake {lake_path} --model fraud")
    print(f"  inferwatch explain --lake {lake_path} --model eta --window <an alert's first_window>")
    print(f"  python -c \"import deltalake; print(deltalake.DeltaTable('{lake_path}/inferences')"
          ".to_pandas().groupby('model_id').size())\"")
