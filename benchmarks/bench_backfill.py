"""Nine months of one sparse model from an empty lake: `run hourly` beside a bare scan.

    .venv/bin/python benchmarks/bench_backfill.py [--rows 260000] [--hours 6500]
        [--baseline-hours 720] [--keep DIR]

`--rows` rows of one binary model (20 numeric and 5 categorical features, every label
a minute after its prediction) spread over `--hours` hours (about 40 an hour: a model
with sparse traffic and a long history), its baseline the first `--baseline-hours` hours.
From an empty lake, in one process and one Spark session: the rows and labels are
ingested and every job of `hourly` runs once, each timed: the backfill of every hour,
day and week of the history. Then one bare Spark aggregation of the same Parquet rows
(count and the mean of every feature per hour). Prints each job's seconds, `run hourly`
(target: within 10 minutes here) and its ratio to the bare scan.
"""
from __future__ import annotations

import argparse
import shutil

from bench_fleet import first_hours, one_model, rows
from workdir import work_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=260_000)
    parser.add_argument("--hours", type=int, default=6_500)
    parser.add_argument("--baseline-hours", type=int, default=720)
    parser.add_argument("--keep")
    args = parser.parse_args()
    work = work_folder(args.keep, "inferwatch-bench-backfill-")
    try:
        inferences, labels = rows(args.rows, args.hours)
        print(f"{args.rows:,} rows over {args.hours:,} hours "
              f"({args.rows / args.hours:.0f} an hour), baseline the first "
              f"{args.baseline_hours} hours:", flush=True)
        one_model(work, inferences, labels, first_hours(args.baseline_hours),
                  "run hourly within 600 s")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
