"""Cost of one batch of labels against 1, 7 and 30 days of inference history, in one run.

    .venv/bin/python benchmarks/bench_labels.py [--rows-per-hour 20] [--labels 100]

The same label batch (labels for inferences of the last day, half with hints, half
without) is joined and its performance recomputed on lakes holding 1, 7 and 30 days of
inferences. The join should cost about the same: it reads the inference partitions the
hints name, the id-index buckets of unhinted ids and the hours it lands in, not the
history. Performance re-merges the week of the touched hours from up to 7 days of stored
hourly states, so it may grow up to a week of history, then not. Three batches per
lake; prints the median times and their ratios.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from inferwatch import scenario  # noqa: E402
from inferwatch.context import open_context  # noqa: E402
from inferwatch.ingest import ingest_files, ingest_records  # noqa: E402
from inferwatch.jobs import join_labels, partition, performance  # noqa: E402

BATCHES = 3


def _ok(run):
    """A job's run, refused unless it (and each of its models) succeeded: a benchmark
    must not time a run that recorded a failure as a value."""
    failed = [r for r in [run, *run.models.values()] if r.status != "ok"]
    if failed:
        raise SystemExit(f"{run.job} did not succeed: {[(r.model_id, r.error) for r in failed]}")
    return run


def _measure(work: Path, days: int, rows_per_hour: int, n_labels: int, spark,
             again: bool = False) -> tuple[float, float]:
    made = scenario.generate(seed=5, days=days, rows_per_hour=rows_per_hour, models=("fraud",))
    name = f"{days}{'b' if again else ''}"
    files = scenario.write(made, work / f"in{name}")
    ctx = open_context("conf/local.yaml", lake=str(work / f"lake{name}"),
                       models_dir=work / f"in{name}" / "models", spark=spark)
    ingest_files(ctx.lake, "inferences", files["inferences"], ctx.models)
    _ok(partition.run(ctx))
    _ok(performance.run(ctx))  # history's metrics exist before the batch
    last = made.inferences[made.inferences["ts"] >= made.inferences["ts"].max() - timedelta(days=1)]
    last = last.drop_duplicates("inference_id")
    times = []
    for batch in range(BATCHES):  # distinct labels per batch; the median is reported
        chosen = last.iloc[batch * n_labels:(batch + 1) * n_labels]
        labels = [{"inference_id": r.inference_id, "label": 1.0,
                   "label_ts": r.ts + timedelta(days=2),
                   "model_id": r.model_id if i % 2 else None,
                   "inference_ts": r.ts if i % 2 else None}
                  for i, r in enumerate(chosen.itertuples())]
        ingest_records(ctx.lake, "labels", labels, ctx.models)
        t0 = time.perf_counter()
        _ok(join_labels.run(ctx))
        join_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        _ok(performance.run(ctx))
        times.append((join_s, time.perf_counter() - t0))
    return tuple(statistics.median(t[i] for t in times) for i in (0, 1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows-per-hour", type=int, default=20)
    parser.add_argument("--labels", type=int, default=100, help="labels per batch")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="inferwatch-bench-labels-"))
    try:
        spark = open_context("conf/local.yaml", lake=str(work / "warm"), quiet=True).spark
        # 1 day first warms the JVM up; it is measured again after 30 days and that
        # second, warm measurement is the one compared.
        cold = _measure(work, 1, args.rows_per_hour, args.labels, spark)
        results = {30: _measure(work, 30, args.rows_per_hour, args.labels, spark),
                   7: _measure(work, 7, args.rows_per_hour, args.labels, spark),
                   1: _measure(work, 1, args.rows_per_hour, args.labels, spark, again=True)}
        print(f" 1 day  (cold JVM, not compared): join-labels {cold[0]:6.2f} s, "
              f"performance {cold[1]:6.2f} s")
        for days, (join_s, perf_s) in sorted(results.items()):
            print(f"{days:>2} days of history: join-labels {join_s:6.2f} s, performance {perf_s:6.2f} s")
        (j1, p1), (j7, p7), (j30, p30) = results[1], results[7], results[30]
        print(f"ratio 30d / 1d: join-labels {j30 / j1:.2f}x, performance {p30 / p1:.2f}x")
        # the weekly rollup merges up to 7 days of hourly states, so performance may grow
        # up to a week of history and must be flat after it
        print(f"ratio 30d / 7d: join-labels {j30 / j7:.2f}x, performance {p30 / p7:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
