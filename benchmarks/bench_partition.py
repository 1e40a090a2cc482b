"""Partition job throughput vs a bare Spark Parquet scan of the same rows, in one run.

    .venv/bin/python benchmarks/bench_partition.py [--days 7] [--rows-per-hour 1500]

Prints rows/s per core of the partition job (validate, dedup by inference_id against
the touched hours, write partitioned Delta, commit) and the time of a plain
`spark.read.parquet(...).count()`-style full scan of the same raw rows, and their ratio.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from pyspark.sql import functions as F  # noqa: E402

from inferwatch import scenario  # noqa: E402
from inferwatch.context import open_context  # noqa: E402
from inferwatch.ingest import ingest_files  # noqa: E402
from inferwatch.jobs import partition  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--rows-per-hour", type=int, default=1500)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="inferwatch-bench-"))
    try:
        made = scenario.generate(seed=11, days=args.days, rows_per_hour=args.rows_per_hour)
        files = scenario.write(made, work / "input")
        ctx = open_context("conf/local.yaml", lake=str(work / "lake"),
                           models_dir=work / "input" / "models", quiet=True)
        ingest_files(ctx.lake, "inferences", files["inferences"], ctx.models)
        raw = ctx.lake.table("raw/inferences")
        cores = ctx.spark.sparkContext.defaultParallelism
        # warm the JVM once so neither side pays JIT start-up
        raw.read().agg(F.count("*")).collect()

        t0 = time.perf_counter()
        scanned = raw.read().agg(F.count("*"), F.countDistinct("inference_id"),
                                 F.max("ts")).collect()[0][0]
        scan_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        run = partition.run(ctx)
        job_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        rerun = partition.run(ctx)
        assert rerun.rows_in == 0, "a re-run with nothing new must find nothing"
        rerun_s = time.perf_counter() - t0

        print(f"rows: {scanned:,} raw rows, {run.rows_out:,} out, {run.rows_duplicate:,} "
              f"duplicates, {run.rows_quarantined} quarantined; cores: {cores}")
        print(f"bare Spark scan (count, distinct ids, max ts): {scan_s:8.2f} s")
        print(f"partition job:                                 {job_s:8.2f} s  "
              f"= {scanned / job_s / cores:,.0f} rows/s per core")
        print(f"ratio job / bare scan:                         {job_s / scan_s:8.1f}x")
        print(f"incremental re-run (nothing new):              {rerun_s:8.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
