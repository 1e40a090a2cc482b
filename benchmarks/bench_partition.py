"""Partition job throughput vs a bare Spark Parquet scan of the same rows, in one run.

    .venv/bin/python benchmarks/bench_partition.py [--days 7] [--rows-per-hour 1500]

Prints rows/s per core of the partition job (validate, dedup by inference_id against
the touched hours, write partitioned Delta, commit) and the time of a plain
`spark.read.parquet(...).count()`-style full scan of the same raw rows, and their ratio.
Then the same Parquet rows as each model's `inferences_table` (a Delta table per model,
written by delta-rs, read in place: no ingest) in a second lake: partition's time there
beside ingest + partition of the files.
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
        raw = ctx.lake.table("raw/inferences")
        cores = ctx.spark.sparkContext.defaultParallelism
        t0 = time.perf_counter()
        ingest_files(ctx.lake, "inferences", files["inferences"], ctx.models)
        ingest_s = time.perf_counter() - t0
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
        tables_s, rows_in = _from_tables(ctx, files["inferences"], work)
        print(f"ingest of the files:                           {ingest_s:8.2f} s")
        print(f"partition of the Parquet rows as {len(ctx.models)} models' inferences_table "
              f"({rows_in:,} rows, no ingest): {tables_s:.2f} s = "
              f"{tables_s / (ingest_s + job_s):.2f}x ingest + partition of the files")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _from_tables(ctx, inference_files: list, work: Path) -> tuple[float, int]:
    """(seconds, rows in) of partition reading each model's rows of the Parquet files
    as its own Delta table, in a lake of its own."""
    import dataclasses

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from deltalake import write_deltalake

    rows = pa.concat_tables([pq.read_table(f) for f in inference_files
                             if str(f).endswith(".parquet")], promote_options="default")
    models = {}
    for model_id, model in ctx.models.items():
        root = work / "serving" / model_id
        write_deltalake(str(root), rows.filter(pc.equal(rows["model_id"], model_id)))
        models[model_id] = dataclasses.replace(model, inferences_table=str(root))
    other = open_context("conf/local.yaml", lake=str(work / "tables-lake"),
                         models_dir=work / "input" / "models", quiet=True)
    other = dataclasses.replace(other, models=models)
    t0 = time.perf_counter()
    run = partition.run(other)
    seconds = time.perf_counter() - t0
    assert run.status == "ok", [(m, r.error) for m, r in run.models.items()]
    return seconds, sum(r.rows_in for r in run.models.values())


if __name__ == "__main__":
    main()
