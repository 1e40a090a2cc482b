"""The same rows as one model and as a fleet: `run hourly` (every job) beside a bare scan.

    .venv/bin/python benchmarks/bench_fleet.py [--rows 200000] [--models 100]
        [--hours 24] [--keep DIR]

Rows of a binary model with 20 numeric and 5 categorical features over `--hours` hours
(the first half its baseline window, every label delivered a minute after its
prediction), generated once. Two lakes are built from them: one model, and `--models`
models (copies of one description; row i belongs to model i mod `--models`). In one
process and one Spark session, for each lake: the rows and labels are ingested, then
every job of `hourly` runs once (the first run of a fleet: partition, labels, every
model's profile, baseline built and calibrated, drift, multivariate, performance,
quality, alerts), each timed; then one bare Spark aggregation of the same Parquet rows
(count and the mean of every feature per model and hour). Prints each job's seconds for
both lakes and the ratios fleet / one model and job / scan.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from pyspark.sql import functions as F  # noqa: E402

from inferwatch.context import open_context  # noqa: E402
from inferwatch.ingest import ingest_files  # noqa: E402
from inferwatch.jobs import PIPELINE, run_job  # noqa: E402
from workdir import work_folder  # noqa: E402

CONF = str(Path(__file__).resolve().parents[1] / "conf" / "local.yaml")
START = pd.Timestamp("2026-03-02T00:00:00Z")
NUMERIC = [f"x{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]


def rows(n: int, hours: int, seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(inferences, labels) of one binary model; model ids are dealt out later."""
    rng = np.random.default_rng(seed)
    ts = (START + pd.to_timedelta(np.sort(rng.uniform(0, hours * 3600, n)), unit="s")
          ).astype("datetime64[us, UTC]")  # Spark reads nanosecond Parquet times as numbers
    frame = pd.DataFrame({"inference_id": [f"r{i:09d}" for i in range(n)], "ts": ts,
                          "model_version": "v1"})
    x = rng.normal(0, 1, (n, len(NUMERIC)))
    for i, name in enumerate(NUMERIC):
        frame[name] = np.round(x[:, i] * (1 + i) + 10 * i, 3)
    for i, name in enumerate(CATEGORICAL):
        frame[name] = rng.choice([f"v{j}" for j in range(3 + 2 * i)], n)
    logit = x[:, :4] @ np.array([1.0, -0.8, 0.6, 0.4]) - 1.0
    frame["prediction"] = np.round(1 / (1 + np.exp(-logit)), 5)
    labels = pd.DataFrame({
        "inference_id": frame.inference_id,
        "label": (rng.random(n) < frame.prediction).astype(float),
        "label_ts": frame.ts + pd.Timedelta(minutes=1), "inference_ts": frame.ts})
    return frame, labels


def description(model_id: str, baseline: dict) -> dict:
    return {"model_id": model_id, "problem_type": "binary_classification",
            "prediction": "prediction", "threshold": 0.5, "label": "label",
            "features": {"numeric": NUMERIC, "categorical": CATEGORICAL},
            "slices": ["c0"], "baseline": baseline}


def first_hours(hours: int) -> dict:
    """The `baseline:` key of the first `hours` hours' window."""
    return {"window": [START.isoformat(), (START + pd.Timedelta(hours=hours)).isoformat()]}


def lake(work: Path, inferences: pd.DataFrame, labels: pd.DataFrame, models: int,
         baseline: dict):
    """A context whose lake holds the rows as `models` models (each with `baseline`),
    ingested."""
    root = work / f"models{models}"
    (root / "models").mkdir(parents=True)
    names = [f"m{i:03d}" for i in range(models)]
    for name in names:
        (root / "models" / f"{name}.yaml").write_text(
            yaml.safe_dump(description(name, baseline), sort_keys=False))
    owner = np.array(names)[np.arange(len(inferences)) % models]
    inferences.assign(model_id=owner).to_parquet(root / "inferences.parquet")
    labels.assign(model_id=owner).to_parquet(root / "labels.parquet")
    ctx = open_context(CONF, lake=str(root / "lake"), models_dir=root / "models")
    ingest_files(ctx.lake, "inferences", [root / "inferences.parquet"], ctx.models)
    ingest_files(ctx.lake, "labels", [root / "labels.parquet"], ctx.models)
    return ctx, root


def hourly(ctx) -> dict[str, float]:
    seconds = {}
    for job in PIPELINE:
        started = time.perf_counter()
        run = run_job(ctx, job)
        seconds[job] = time.perf_counter() - started
        if run.status != "ok":
            raise SystemExit(f"{job}: {run.status}: {run.error or run.notes[-3:]}")
        print(f"  {job:13s} {seconds[job]:7.1f} s", flush=True)
    return seconds


def scan(ctx, root: Path) -> float:
    started = time.perf_counter()
    frame = ctx.spark.read.parquet(str(root / "inferences.parquet"))
    (frame.groupBy("model_id", F.date_trunc("hour", "ts"))
     .agg(F.count(F.lit(1)), *[F.avg(c) for c in NUMERIC], F.avg("prediction")).collect())
    return time.perf_counter() - started


COLD_SCAN = """
import sys, time
started = time.perf_counter()
from pyspark.sql import SparkSession, functions as F
spark = SparkSession.builder.master("local[*]").getOrCreate()
up = time.perf_counter() - started
frame = spark.read.parquet(sys.argv[1])
(frame.groupBy("model_id", F.date_trunc("hour", "ts"))
 .agg(F.count(F.lit(1)), *[F.avg(c) for c in sys.argv[2].split(",")], F.avg("prediction"))
 .collect())
print(up, time.perf_counter() - started)
spark.stop()
"""


def cold_scan(root: Path) -> tuple[float, float]:
    """(seconds to a Spark session, seconds in all) of the bare scan in its own process,
    as a user runs one with `spark-submit`."""
    out = subprocess.run([sys.executable, "-c", COLD_SCAN, str(root / "inferences.parquet"),
                          ",".join(NUMERIC)], capture_output=True, text=True, check=True)
    up, total = out.stdout.split()[-2:]
    return float(up), float(total)


def one_model(work: Path, inferences: pd.DataFrame, labels: pd.DataFrame, baseline: dict,
              target: str) -> None:
    """Ingest the rows as one model with `baseline`, time every job of `hourly` and the
    best of three bare scans, and print each job's seconds and share, the total (with
    `target`) and its ratio to the scan."""
    ctx, root = lake(work, inferences, labels, 1, baseline)
    scan(ctx, root)  # warm: the first read of the file pays the JVM's start
    seconds = hourly(ctx)
    bare = min(scan(ctx, root) for _ in range(3))
    total = sum(seconds.values())
    print(f"\n{'job':13s} {'seconds':>8s} {'share':>6s}")
    for job in PIPELINE:
        print(f"{job:13s} {seconds[job]:8.1f} {seconds[job] / total:6.1%}")
    print(f"{'run hourly':13s} {total:8.1f}\n{'bare scan':13s} {bare:8.1f} (best of 3)")
    print(f"run hourly / bare scan: {total / bare:.1f}x; target: {target}")
    up, cold = cold_scan(root)
    print(f"bare scan in its own process: {cold:.1f} s ({up:.1f} s of it the session's "
          f"start); run hourly plus a session's start / it: {(total + up) / cold:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--keep")
    args = parser.parse_args()
    work = work_folder(args.keep, "inferwatch-bench-fleet-")
    try:
        inferences, labels = rows(args.rows, args.hours)
        measured = {}
        for models in (1, args.models):
            print(f"{args.rows:,} rows over {args.hours} hours as {models} model(s):",
                  flush=True)
            ctx, root = lake(work, inferences, labels, models,
                             first_hours(args.hours // 2))
            scan(ctx, root)  # warm: the first read of the file pays the JVM's start
            seconds = hourly(ctx)
            seconds["scan"] = scan(ctx, root)
            measured[models] = seconds
            print(f"  {'bare scan':13s} {seconds['scan']:7.1f} s", flush=True)
        one, fleet = measured[1], measured[args.models]
        print(f"\n{'job':13s} {'1 model':>9s} {f'{args.models} models':>11s} {'ratio':>7s}")
        for job in [*PIPELINE, "scan"]:
            print(f"{job:13s} {one[job]:8.1f}s {fleet[job]:10.1f}s {fleet[job] / one[job]:6.2f}x")
        total = {n: sum(v for k, v in s.items() if k != "scan") for n, s in measured.items()}
        print(f"{'run hourly':13s} {total[1]:8.1f}s {total[args.models]:10.1f}s "
              f"{total[args.models] / total[1]:6.2f}x")
        for n in (1, args.models):
            print(f"run hourly / bare scan, {n} model(s): {total[n] / measured[n]['scan']:.1f}x")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
