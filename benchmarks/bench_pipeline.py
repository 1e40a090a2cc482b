"""A million rows of one model in one day: `run hourly` (every job) beside a bare scan.

    .venv/bin/python benchmarks/bench_pipeline.py [--rows 1000000] [--hours 24]
        [--reference 100000] [--keep DIR]

`--rows` rows of one binary model with 20 numeric and 5 categorical features over
`--hours` hours, every label delivered a minute after its prediction, and a reference
file of `--reference` rows of the same distribution as its baseline (`baseline: source`).
In one process and one Spark session: the rows and labels are ingested, every job of
`hourly` runs once (partition, labels, profile, the baseline built and calibrated, drift,
multivariate, performance, quality, alerts), each timed; then one bare Spark aggregation
of the same Parquet rows (count and the mean of every feature per hour). Prints each
job's seconds, its share, and `run hourly` / bare scan (target: at most 4x).
"""
from __future__ import annotations

import argparse
import shutil

from bench_fleet import one_model, rows
from workdir import work_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--reference", type=int, default=100_000)
    parser.add_argument("--keep")
    args = parser.parse_args()
    work = work_folder(args.keep, "inferwatch-bench-pipeline-")
    try:
        inferences, labels = rows(args.rows, args.hours)
        reference, truth = rows(args.reference, args.hours, seed=12)
        reference.drop(columns=["ts"]).assign(label=truth.label.to_numpy()).to_parquet(
            work / "reference.parquet")
        print(f"{args.rows:,} rows over {args.hours} hours, baseline of {args.reference:,} "
              "reference rows:", flush=True)
        one_model(work, inferences, labels, {"source": str(work / "reference.parquet")},
                  "at most 4x")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
