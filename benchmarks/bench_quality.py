"""The quality job (one pass) beside GX validating each model-hour and a bare scan, in one run.

    .venv/bin/python benchmarks/bench_quality.py [--rows-per-hour 20000] [--hours 24]
        [--gx-hours 4] [--keep DIR]

The scenario's eta model (`inferwatch.scenario`, day 1 plus enough days for `--hours`,
at `--rows-per-hour`) is ingested and partitioned into a lake, and its `default`
baseline stored from day 1. Then, for the first `--hours` hours of day 2, in one process
and one Spark session, after one warm-up count of those rows:

1. job: the quality job bounded to those hours, whole (its todo, one grouped
   aggregation of every statistic of the ~45 expectations suggested from the baseline
   judged by GX's rules, `quality.fleet`, the delivery signals, one commit of
   `metrics/quality`);
2. GX: Great Expectations validating each model-hour on its cached rows
   (`quality.hour.validate_hour`, what the job did per hour before the one pass), on the
   first `--gx-hours` of those hours only, as it costs seconds per hour;
3. scan: one bare Spark `groupBy(hour)` of the same rows, counting them and averaging the
   prediction.
Prints seconds per model-hour of each and the ratios job / scan and GX / job.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import shutil
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
from inferwatch.quality.hour import validate_hour  # noqa: E402
from inferwatch.quality.suite import model_suite  # noqa: E402
from workdir import work_folder  # noqa: E402

CONF = str(Path(__file__).resolve().parents[1] / "conf" / "local.yaml")


def build(work: Path, rows_per_hour: int, days: int):
    generated = scenario.generate(seed=7, days=days, rows_per_hour=rows_per_hour,
                                  models=("eta",))
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
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--gx-hours", type=int, default=4,
                        help="Hours GX validates one by one (the first of --hours).")
    parser.add_argument("--keep", default=None, help="Build in this folder and keep it.")
    args = parser.parse_args()
    if args.hours < 1 or args.gx_hours < 1:
        raise SystemExit("--hours and --gx-hours must be at least 1")
    work = work_folder(args.keep, "bench_quality_")
    t0 = time.monotonic()
    ctx = build(work, args.rows_per_hour, days=1 + math.ceil(args.hours / 24))
    print(f"lake built in {time.monotonic() - t0:.0f}s at {work}", flush=True)
    first = scenario.DEFAULT_START + timedelta(days=1)
    hours = [first + timedelta(hours=i) for i in range(args.hours)]
    gx_hours = hours[:args.gx_hours]
    model = ctx.models["eta"]
    name, specs = model_suite(ctx.lake, model)
    table = ctx.lake.table("inferences")
    version = table.version()
    parts = [{"model_id": "eta", "hour": h} for h in hours]
    n = table.read(version, partitions=parts).count()  # warm the files and the JVM

    t0 = time.monotonic()
    run = quality.run(dataclasses.replace(ctx, model="eta", start=hours[0],
                                          end=hours[-1] + timedelta(hours=1)))
    t_job = time.monotonic() - t0
    assert run.status == "ok", run.notes

    t0 = time.monotonic()
    for h in gx_hours:
        validate_hour(ctx.lake, model, name, specs, h, version)
    t_gx = time.monotonic() - t0

    t0 = time.monotonic()
    (table.read(version, partitions=parts).groupBy("hour")
     .agg(F.count(F.lit(1)), F.avg(model.prediction)).collect())
    t_scan = time.monotonic() - t0

    k, g = len(hours), len(gx_hours)
    job, gx, scan = t_job / k, t_gx / g, t_scan / k
    print(f"{n} rows in {k} model-hours, {len(specs)} expectations ({name})")
    print(f"quality job (one pass, commit): {job:7.3f} s per model-hour ({t_job:.1f} s)")
    print(f"GX per model-hour:              {gx:7.3f} s per model-hour "
          f"(measured on {g} of the {k} hours, {t_gx:.1f} s)")
    print(f"bare scan (groupBy hour):       {scan:7.3f} s per model-hour ({t_scan:.1f} s)")
    print(f"job / scan = {job / scan:.1f}x   GX / job = {gx / job:.1f}x")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
