"""The serving-side logger: call latency, throughput, commits, and what it costs downstream.

    .venv/bin/python benchmarks/bench_logger.py [--rows 200000] [--hour-rows 72000]
        [--hour-flush-rows 100] [--keep DIR]

Prints, in one run:
1. `log()` call latency (p50, p99, max) and sustained rows/s of one logging process
   (default flush settings: all rows logged, then flushed, over the total time), with the
   commits it produced (rows, bytes and rate);
2. one model-hour logged as a serving process would (`--hour-rows` in flushes of
   `--hour-flush-rows`, 720 commits by default: 20 rows/s flushed every 5 s) beside the
   same rows ingested as one Parquet file: the partition job's time on each, on the logged
   lake before and after `maintain` (which compacts the small files), and the ratios.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from deltalake import DeltaTable  # noqa: E402

from inferwatch.log import InferenceLogger  # noqa: E402
from workdir import work_folder  # noqa: E402

T0 = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)


def rows(n: int, prefix: str) -> list[dict]:
    rng = np.random.default_rng(7)
    amount, score = rng.gamma(2, 40, n), rng.random(n)
    countries = np.array(["DE", "FR", "US", "BR", "IN"])[rng.integers(0, 5, n)]
    return [{"inference_id": f"{prefix}-{i}", "ts": T0 + timedelta(seconds=i * 3600 / n),
             "prediction": float(score[i]), "model_version": "v1",
             "features": {"amount": float(amount[i]), "country": str(countries[i]),
                          "account_age_days": float(i % 900)}} for i in range(n)]


def commits(lake: Path) -> tuple[int, float, float]:
    """(commits, mean rows per data file, mean bytes per data file) of raw/inferences."""
    dt = DeltaTable(str(lake / "raw/inferences"))
    adds = pa.table(dt.get_add_actions(flatten=True)).to_pydict()
    return dt.version(), float(np.mean(adds["num_records"])), float(np.mean(adds["size_bytes"]))


def log_all(lake: Path, spill: Path, data: list[dict], flush_every: int = 0,
            **options) -> dict:
    logger = InferenceLogger(str(lake), model_id="fraud", models_dir="conf/models",
                             spill_dir=spill, **options)
    latencies = np.empty(len(data), dtype=np.int64)
    start = time.perf_counter()
    clock = time.perf_counter_ns
    for i, r in enumerate(data):
        t = clock()
        logger.log(r["inference_id"], ts=r["ts"], prediction=r["prediction"],
                   model_version=r["model_version"], features=r["features"])
        latencies[i] = clock() - t
        if flush_every and i % flush_every == flush_every - 1:
            logger.flush()  # as the timer would, every `flush_seconds` of slower traffic
    logged_s = time.perf_counter() - start
    logger.close()
    total_s = time.perf_counter() - start
    stats = logger.stats()
    assert stats["flushed"] == len(data) and stats["dropped"] == 0, stats
    return {"latency_us": np.percentile(latencies, [50, 99, 100]) / 1000, "logged_s": logged_s,
            "total_s": total_s, "stats": stats}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--hour-rows", type=int, default=72_000)
    parser.add_argument("--hour-flush-rows", type=int, default=100)
    parser.add_argument("--keep")
    args = parser.parse_args()
    work = work_folder(args.keep, "inferwatch-bench-logger-")
    try:
        got = log_all(work / "speed", work / "spill", rows(args.rows, "s"))
        n_commits, per_file, file_bytes = commits(work / "speed")
        p50, p99, worst = got["latency_us"]
        print(f"log() latency: p50 {p50:.1f} us, p99 {p99:.1f} us, max {worst / 1000:.1f} ms "
              f"({args.rows:,} calls)")
        print(f"sustained: {args.rows / got['total_s']:,.0f} rows/s logged and committed "
              f"({args.rows / got['logged_s']:,.0f} rows/s into the buffer)")
        print(f"commits: {n_commits} in {got['total_s']:.1f} s = "
              f"{n_commits / got['total_s']:.1f}/s, {per_file:,.0f} rows and "
              f"{file_bytes / 1e6:.2f} MB per file")

        hour = rows(args.hour_rows, "h")
        log_all(work / "logged", work / "spill", hour, flush_every=args.hour_flush_rows,
                flush_seconds=3600)
        n_commits, per_file, _ = commits(work / "logged")
        flat = [{k: v for k, v in r.items() if k != "features"} | r["features"]
                | {"model_id": "fraud"} for r in hour]
        (work / "file").mkdir()
        pq.write_table(pa.Table.from_pylist(flat), work / "file" / "hour.parquet")
        shutil.copytree(work / "logged", work / "maintained")
        downstream(work, n_commits, per_file)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def downstream(work: Path, n_commits: int, per_file: float) -> None:
    from inferwatch.context import open_context
    from inferwatch.ingest import ingest_files
    from inferwatch.jobs import maintain, partition

    ctx = {name: open_context("conf/local.yaml", lake=str(work / name), quiet=True)
           for name in ("warm-up", "file", "logged", "maintained")}
    for name in ("warm-up", "file"):
        ingest_files(ctx[name].lake, "inferences", [str(work / "file" / "hour.parquet")],
                     ctx[name].models)
    maintain.run(ctx["maintained"])
    partition.run(ctx["warm-up"])  # the first run of a session pays the JIT warm-up
    seconds = {}
    for name in ("file", "logged", "maintained"):
        t = time.perf_counter()
        run = partition.run(ctx[name])
        seconds[name] = time.perf_counter() - t
        assert run.status == "ok" and run.rows_out > 0, run.summary()
    print(f"one hour logged in {n_commits} commits ({per_file:,.0f} rows each): partition "
          f"{seconds['logged']:.2f} s; after maintain {seconds['maintained']:.2f} s; "
          f"the same rows as one file {seconds['file']:.2f} s")
    print(f"ratio logged / one file: {seconds['logged'] / seconds['file']:.2f}x; after "
          f"maintain: {seconds['maintained'] / seconds['file']:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
