"""A year of hourly history against a fresh lake: the lake layer and the hourly jobs, in one run.

    .venv/bin/python benchmarks/bench_year.py [--days 365] [--models fraud,eta]
        [--rows-per-hour 200] [--keep DIR] [--skip-maintain] [--no-dead-files]

One hour of new raw inferences and their labels (the demo scenario's, at the current
hour) goes to three lakes: a fresh one, one with `--days` of hourly history (built by
`year_lake.py` in minutes, with the Delta logs written directly: >= 8,760 commits per
hourly table, 32 index files per hour), and a copy of that one after `maintain`. Each
lake ingests the hour, then runs partition, join-labels and performance once (the same
new work everywhere), then the lake-layer operations three times each (median):
`Table.delta()` (open), `files(one partition)`, `append` and `replace_partitions` of a
small frame, and the job_runs progress read. Prints seconds per lake, the ratios
old/fresh and maintained/fresh, and each table's file counts before and after maintain.
A first real run on a scratch lake gives the builder its schemas and rows, and warms the
JVM up so that no column pays it.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

import deltalake  # noqa: E402
import pyarrow  # noqa: E402
import pyspark  # noqa: E402

import year_lake  # noqa: E402
from workdir import work_folder  # noqa: E402
from inferwatch.context import Context, open_context  # noqa: E402
from inferwatch.ingest import ingest_files  # noqa: E402
from inferwatch.jobs import join_labels, partition, performance  # noqa: E402
from inferwatch.jobs import maintain as maintain_job  # noqa: E402
from inferwatch.runs import Progress  # noqa: E402
from inferwatch.lake import Table  # noqa: E402

REPS = 3
TABLES = ("raw/inferences", "raw/labels", "quarantine", "inferences", "inference_index",
          "labels", "labels_pending", "job_runs", "state/performance", "metrics/performance",
          "state/fairness", "metrics/fairness")
OPENED = ("inferences", "inference_index", "labels", "job_runs", "state/performance")
JOBS = (("partition", partition), ("join-labels", join_labels), ("performance", performance))


def _ok(run):
    """A run, refused unless it (and each of its models) succeeded."""
    failed = [r for r in [run, *run.models.values()] if r.status != "ok"]
    if failed:
        raise RuntimeError(f"{run.job} did not succeed: {[(r.model_id, r.error) for r in failed]}")
    return run


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _median(fn: Callable[[int], object]) -> float:
    times = []
    for rep in range(REPS):
        t0 = time.perf_counter()
        fn(rep)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ingest_hour(ctx: Context, batch: year_lake.Batch) -> dict[str, float]:
    return {
        "ingest inferences": _timed(lambda: _ok(ingest_files(
            ctx.lake, "inferences", [batch.inferences], ctx.models))),
        "ingest labels": _timed(lambda: _ok(ingest_files(
            ctx.lake, "labels", [batch.labels], ctx.models))),
    }


def run_jobs(ctx: Context) -> dict[str, float | None]:
    """One run of each hourly job, in pipeline order; a failed job's time is None."""
    times: dict[str, float | None] = {}
    for name, job in JOBS:
        t0 = time.perf_counter()
        try:
            run = _ok(job.run(ctx))
        except Exception:  # noqa: BLE001 - reported; the next job still runs
            print(f"    {name:<12} FAILED:\n{traceback.format_exc()}", flush=True)
            times[name] = None
            continue
        times[name] = time.perf_counter() - t0
        print(f"    {name:<12} {times[name]:8.2f} s  {run.summary()}", flush=True)
    done = [times[name] for name, _ in JOBS]
    times["hourly (3 jobs)"] = None if None in done else sum(done)
    return times


def lake_ops(ctx: Context, batch: year_lake.Batch) -> dict[str, float]:
    """The lake layer's operations, each the median of REPS repetitions."""
    spark, root = ctx.spark, ctx.lake.root
    times = {}
    for name in OPENED:
        times[f"open {name}"] = _median(lambda _, n=name: Table(spark, f"{root}/{n}").delta())
    model = sorted(ctx.models)[0]
    part = {"model_id": model, "hour": batch.hour}
    inferences = Table(spark, f"{root}/inferences")
    inferences.files(partitions=[part])  # the snapshot is loaded once, then kept
    times["files(1 partition) inferences"] = _median(
        lambda _: inferences.files(partitions=[part]))
    index = Table(spark, f"{root}/inference_index")
    index.version()
    times["files(1 bucket) inference_index"] = _median(
        lambda _: index.files(partitions=[{"id_bucket": 0}]))
    times["progress read (job_runs)"] = _median(lambda _: Progress(ctx.lake, "performance"))
    sample = inferences.read(partitions=[part]).limit(20)
    rows, schema = sample.collect(), sample.schema
    times["append inferences"] = _median(
        lambda _: inferences.append(spark.createDataFrame(rows, schema)))
    times["replace_partitions inferences"] = _median(
        lambda _: inferences.replace_partitions(spark.createDataFrame(rows, schema), [part],
                                                read_version=inferences.version()))
    return times


def measure(label: str, ctx: Context, batch: year_lake.Batch
            ) -> tuple[dict[str, float | None], dict[str, dict]]:
    """Times of the hour's ingest, jobs and lake operations; the lake's facts after the
    jobs (before the lake operations add their commits)."""
    print(f"[{label}] {ctx.lake.root}", flush=True)
    times: dict[str, float | None] = {}
    after_jobs = {}
    for step in (ingest_hour, run_jobs, lake_ops):
        try:
            times.update(step(ctx, batch) if step is not run_jobs else step(ctx))
        except Exception:  # noqa: BLE001 - a failure is a result; the other lakes go on
            print(f"[{label}] {step.__name__} FAILED:\n{traceback.format_exc()}", flush=True)
            times[f"{step.__name__} FAILED"] = None
        if step is run_jobs:
            after_jobs = facts(Path(ctx.lake.root))
        if step is lake_ops:  # printed as measured: a run cut short still tells something
            for op, value in times.items():
                if op.startswith(("open ", "files(", "progress", "append", "replace")):
                    print(f"    {op:<34} {value:8.3f} s", flush=True)
    return times, after_jobs


def copy_lake(source: Path, target: Path) -> None:
    """Data files hard-linked (never rewritten in place), each _delta_log copied."""
    subprocess.run(["cp", "-al", str(source), str(target)], check=True)
    for log in source.glob("**/_delta_log"):
        copied = target / log.relative_to(source)
        shutil.rmtree(copied)
        shutil.copytree(log, copied)


def facts(root: Path) -> dict[str, dict]:
    return {name: year_lake.table_facts(root / name) for name in TABLES}


def print_facts(columns: dict[str, dict[str, dict]]) -> None:
    labels = list(columns)
    head = " ".join(f"{label:>34}" for label in labels)
    print(f"\n{'table':<20} {head}")
    print(f"{'':<20} " + " ".join(f"{'files  parts  max/part  JSON  ckpt MB':>34}"
                                   for _ in labels))
    for name in TABLES:
        cells = []
        for label in labels:
            f = columns[label].get(name) or {}
            cells.append(f"{f.get('files', 0):>9,} {f.get('partitions', 0):>6,} "
                         f"{f.get('max_per_partition', 0):>9,} {f.get('json', 0):>5,} "
                         f"{f.get('checkpoint_mb', 0):>7.1f}" if f else f"{'-':>34}")
        print(f"{name:<20} " + " ".join(cells))


def print_times(results: dict[str, dict[str, float | None]]) -> None:
    labels = list(results)
    ops = []
    for times in results.values():
        ops += [op for op in times if op not in ops]
    head = "".join(f"{label + ' s':>16}" for label in labels)
    ratios = "".join(f"{label + '/fresh':>18}" for label in labels[1:])
    print(f"\n{'operation':<34}{head}{ratios}")
    for op in ops:
        values = [results[label].get(op) for label in labels]
        cells = "".join(f"{v:>16.3f}" if v is not None else f"{'-':>16}" for v in values)
        fresh = values[0]
        cells += "".join(f"{v / fresh:>17.2f}x" if v is not None and fresh else f"{'-':>18}"
                         for v in values[1:])
        print(f"{op:<34}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--models", default="fraud,eta")
    parser.add_argument("--rows-per-hour", type=int, default=200,
                        help="mean raw inferences per model per hour")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--keep", metavar="DIR", help="build the lakes in DIR and keep them")
    parser.add_argument("--skip-maintain", action="store_true",
                        help="no maintained copy (faster: the first maintain of a year takes most of the time)")
    parser.add_argument("--no-dead-files", action="store_true",
                        help="do not leave replaced files on disk (as if vacuumed)")
    args = parser.parse_args()
    maintain = None if args.skip_maintain else maintain_job
    work = work_folder(args.keep, "inferwatch-bench-year-")
    now = datetime.now(timezone.utc)
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    try:
        batch = year_lake.make_batch(work / "input", hour, models, args.rows_per_hour,
                                     args.seed)
        print(f"current hour {hour:%Y-%m-%d %H:%M} UTC: {batch.n_inferences:,} raw inferences, "
              f"{batch.n_labels:,} labels; models {', '.join(models)}; history {args.days} days")

        t0 = time.perf_counter()
        ctx = open_context("conf/local.yaml", lake=str(work / "template"),
                           models_dir=batch.models_dir, quiet=True)
        spark = ctx.spark
        print("[template] the real jobs on a scratch lake (schemas and rows for the builder; "
              "warms the JVM up)", flush=True)
        ingest_hour(ctx, batch)
        run_jobs(ctx)
        template_s = time.perf_counter() - t0

        print(f"[build] {args.days} days of hourly history", flush=True)
        report = year_lake.build(work / "old", year_lake.Template(work / "template", hour),
                                 hour, args.days, now, dead_files=not args.no_dead_files)
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items() if k != "total")
        print(f"[build] {report.seconds['total']:.1f} s ({steps}); {report.files_linked:,} data "
              f"files linked from {report.sources_written:,} written", flush=True)

        before = facts(work / "old")
        lakes = {"fresh": work / "fresh", "old": work / "old"}
        copy_s = None
        if maintain is not None:
            t0 = time.perf_counter()
            copy_lake(work / "old", work / "maintained")
            copy_s = time.perf_counter() - t0
            lakes["maintained"] = work / "maintained"

        results, columns, maintain_s = {}, {}, None
        for label, root in lakes.items():
            ctx = open_context("conf/local.yaml", lake=str(root), models_dir=batch.models_dir,
                               spark=spark)
            if label == "maintained":
                print("[maintained] maintain ...", flush=True)
                t0 = time.perf_counter()
                run = maintain.run(ctx)
                maintain_s = time.perf_counter() - t0
                print(f"[maintained] maintain {getattr(run, 'status', run)} in {maintain_s:.1f} s"
                      f"{': ' + '; '.join(run.notes) if getattr(run, 'notes', None) else ''}",
                      flush=True)
                columns["old after maintain"] = facts(root)
            results[label], after_jobs = measure(label, ctx, batch)
            if label == "fresh":
                columns["fresh (after the hour)"] = after_jobs
        columns = {"old (as built)": before, **columns}

        print("\n== machine")
        print(f"cores {os.cpu_count()} (Spark default parallelism "
              f"{spark.sparkContext.defaultParallelism}), load {os.getloadavg()[0]:.2f}; "
              f"python {platform.python_version()}, pyspark {pyspark.__version__}, "
              f"deltalake {deltalake.__version__}, pyarrow {pyarrow.__version__}")
        print(f"\n== setup: template run {template_s:.1f} s; build {report.seconds['total']:.1f} s"
              + (f"; lake copy {copy_s:.1f} s" if copy_s is not None else "")
              + (f"; maintain {maintain_s:.1f} s" if maintain_s is not None else ""))
        print_facts(columns)
        print_times(results)
        if maintain is None:
            print("\n(no maintained column: --skip-maintain)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"\nlakes kept in {work}")


if __name__ == "__main__":
    main()
