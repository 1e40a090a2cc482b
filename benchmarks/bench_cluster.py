"""The fleet benchmark's rows on a standalone cluster beside local mode: what a user pays
for executors that are other processes on the same machine.

    .venv/bin/python benchmarks/bench_cluster.py [--rows 200000] [--models 100]
        [--hours 24] [--memory 2g] [--keep DIR]

The rows of `bench_fleet.py` (20 numeric and 5 categorical features, the first half of
the hours the baseline window), as `--models` models, ingested once and copied into two
lakes. Each lake gets `run hourly` (every job) as a user submits it, one spark-submit
process each: `--master local[2]` (the driver runs the tasks), and `--master
spark://127.0.0.1:PORT` of a master and two one-core workers of `--memory` started here
(tests/cluster/processes.py), the package shipped with `--py-files`, executors of
`--memory`. Prints each job's seconds as the job printed them, and cluster / local.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_fleet import first_hours, lake, rows  # noqa: E402
from tests.cluster.processes import BIN, spark_env, standalone  # noqa: E402
from workdir import work_folder  # noqa: E402

from inferwatch.jobs import PIPELINE  # noqa: E402
from inferwatch.shipping import build  # noqa: E402

DONE = re.compile(r"^\[([a-z-]+)\] ok in ([0-9.]+)s", re.M)


def submit(master_args: list[str], ctx_root: Path, env: dict) -> tuple[dict[str, float], float]:
    """Each job's seconds (as printed) and the whole spark-submit's wall time."""
    command = [str(BIN / "spark-submit"), *master_args, str(REPO / "jobs" / "submit.py"),
               "hourly", "--lake", str(ctx_root / "lake"), "--models",
               str(ctx_root / "models")]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)}: exit {done.returncode}\n{done.stderr[-3000:]}")
    seconds = {job: float(s) for job, s in DONE.findall(done.stdout)}
    if set(seconds) != set(PIPELINE):
        raise SystemExit(f"jobs not ok: {sorted(set(PIPELINE) - set(seconds))}\n{done.stdout}")
    return seconds, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--memory", default="2g")
    parser.add_argument("--keep")
    args = parser.parse_args()
    work = work_folder(args.keep, "inferwatch-bench-cluster-")
    try:
        inferences, labels = rows(args.rows, args.hours)
        ctx, root = lake(work, inferences, labels, args.models, first_hours(args.hours // 2))
        ctx.spark.stop()  # the ingest's session: the runs below are processes of their own
        for name in ("local", "cluster"):
            shutil.copytree(root, work / name)
        zipped = build(work / "inferwatch.zip")
        env = {**spark_env(work), "PYSPARK_PYTHON": sys.executable}
        env.pop("SPARK_SUBMIT_OPTS", None)
        print(f"{args.rows:,} rows over {args.hours} hours as {args.models} models", flush=True)
        local = submit(["--master", "local[2]", "--driver-memory", "4g"], work / "local", env)
        print(f"  local[2]: {local[1]:.1f} s", flush=True)
        with standalone(work / "spark", memory=args.memory) as master:
            cluster = submit(["--master", master, "--executor-memory", args.memory,
                              "--driver-memory", "2g", "--py-files", str(zipped)],
                             work / "cluster", env)
        print(f"  standalone, 2 workers of 1 core: {cluster[1]:.1f} s", flush=True)
        print(f"\n{'job':13s} {'local':>8s} {'cluster':>8s} {'ratio':>7s}")
        for job in PIPELINE:
            a, b = local[0][job], cluster[0][job]
            print(f"{job:13s} {a:7.1f}s {b:7.1f}s {b / a:6.2f}x")
        a, b = sum(local[0].values()), sum(cluster[0].values())
        print(f"{'run hourly':13s} {a:7.1f}s {b:7.1f}s {b / a:6.2f}x")
        print(f"{'spark-submit':13s} {local[1]:7.1f}s {cluster[1]:7.1f}s "
              f"{cluster[1] / local[1]:6.2f}x (wall, the session's start included)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    main()
