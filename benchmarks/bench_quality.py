"""Quality job (Great Expectations on Spark) vs one aggregation pass, in one run.

    .venv/bin/python benchmarks/bench_quality.py [--rows-per-hour 20000] [--hours 4] [--keep DIR]

The scenario's eta model (`inferwatch.scenario`, 2 days at `--rows-per-hour`) is
ingested and partitioned into a lake, and its `default` baseline stored from day 1. Then,
for `--hours` hours of day 2, in one process and one Spark session:

1. quality: the quality job bounded to those hours (each hour cached, reduced to its
   columns, validated once by GX with the ~45 expectations suggested from the baseline,
   results replaced in `metrics/quality`);
2. one pass: for each hour, one `agg` over the cached hour computing every statistic the
   suite's expectations need (non-null counts, in-range and in-set counts, mean, stddev,
   approximate median, distinct counts, the identity's distinct count, the row count);
3. scan: one `count` of the same hours, for scale.
Prints seconds per model-hour of each and the ratio quality / one pass.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from pyspark.sql import functions as F  # noqa: E402

from inferwatch import scenario  # noqa: E402
from inferwatch.context import open_context  # noqa: E402
from inferwatch.ingest import ingest_files  # noqa: E402
from inferwatch.jobs import baseline, partition, quality  # noqa: E402
from inferwatch.quality.suite import model_suite  # noqa: E402
from inferwatch.quality.suggest import for_hour  # noqa: E402
from workdir import work_folder  # noqa: E402

CONF = str(Path(__file__).resolve().parents[1] / "conf" / "local.yaml")


def one_pass(rows, specs: list[dict]) -> list:
    """Every statistic the suite's expectations check, in one aggregation."""
    exprs = [F.count(F.lit(1)), F.count_distinct("model_version", "inference_id")]
    for spec in specs:
        kwargs, kind = spec.get("kwargs") or {}, spec["type"]
        column = F.col(kwargs["column"]) if "column" in kwargs else None
        if kind == "expect_column_values_to_not_be_null":
            exprs.append(F.count(column))
        elif kind == "expect_column_values_to_be_between":
            exprs.append(F.count_if(column.between(kwargs["min_value"], kwargs["max_value"])))
        elif kind == "expect_column_values_to_be_in_set":
            exprs.append(F.count_if(column.isin(kwargs["value_set"])))
        elif kind == "expect_column_mean_to_be_between":
            exprs.append(F.avg(column))
        elif kind == "expect_column_stdev_to_be_between":
            exprs.append(F.stddev(column))
        elif kind == "expect_column_median_to_be_between":
            exprs.append(F.percentile_approx(column, 0.5))
        elif kind == "expect_column_unique_value_count_to_be_between":
            exprs.append(F.count_distinct(column))
    return rows.agg(*exprs).collect()


def build(work: Path, rows_per_hour: int):
    generated = scenario.generate(seed=7, days=2, rows_per_hour=rows_per_hour, models=("eta",))
    files = scenario.write(generated, work / "input")
    ctx = open_context(CONF, lake=str(work / "lake"), models_dir=work / "input" / "models")
    ingest_files(ctx.lake, "inferences", files["inferences"], ctx.models)
    partition.run(ctx)
    start = scenario.DEFAULT_START
    baseline.create(dataclasses.replace(ctx, model="eta", start=start,
                                        end=start + timedelta(days=1)), "default")
    return ctx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-hour", type=int, default=20_000)
    parser.add_argument("--hours", type=int, default=4)
    parser.add_argument("--keep", default=None, help="Build in this folder and keep it.")
    args = parser.parse_args()
    work = work_folder(args.keep, "bench_quality_")
    t0 = time.monotonic()
    ctx = build(work, args.rows_per_hour)
    print(f"lake built in {time.monotonic() - t0:.0f}s at {work}", flush=True)
    first = scenario.DEFAULT_START + timedelta(days=1, hours=10)
    hours = [first + timedelta(hours=i) for i in range(args.hours)]
    model = ctx.models["eta"]
    name, specs = model_suite(ctx.lake, model)
    table = ctx.lake.table("inferences")
    version = table.version()
    parts = [{"model_id": "eta", "hour": h} for h in hours]
    n = table.read(version, partitions=parts).count()  # warm the files and the JVM

    t0 = time.monotonic()
    run = quality.run(dataclasses.replace(ctx, model="eta", start=hours[0],
                                          end=hours[-1] + timedelta(hours=1)))
    t_quality = time.monotonic() - t0
    assert run.status == "ok", run.notes

    t0 = time.monotonic()
    for h in hours:
        rows = table.read(version, partitions=[{"model_id": "eta", "hour": h}]).persist()
        one_pass(rows, for_hour(specs, h.hour))
        rows.unpersist()
    t_pass = time.monotonic() - t0

    t0 = time.monotonic()
    for h in hours:
        table.read(version, partitions=[{"model_id": "eta", "hour": h}]).count()
    t_scan = time.monotonic() - t0

    k = len(hours)
    print(f"{n} rows in {k} model-hours, {len(specs)} expectations ({name})")
    print(f"quality job (GX):  {t_quality / k:7.2f} s per model-hour")
    print(f"one aggregation:   {t_pass / k:7.2f} s per model-hour")
    print(f"bare scan (count): {t_scan / k:7.2f} s per model-hour")
    print(f"quality / one pass = {t_quality / t_pass:.1f}x")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
