"""Shared argument parsing of the spark-submit entry points (no job logic here)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

# spark-submit runs these files directly; make the library importable from a checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))


def main(job: str) -> None:
    parser = argparse.ArgumentParser(prog=f"jobs/{job.replace('-', '_')}.py")
    parser.add_argument("--conf", default="conf/local.yaml")
    parser.add_argument("--lake", default=None)
    parser.add_argument("--models", default=None)
    parser.add_argument("--start", default=None)
    parser.add_argument("--end", default=None)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    from inferwatch.cli import main as cli

    argv = ["run", job, "--conf", args.conf]
    for flag in ("lake", "models", "start", "end", "model"):
        value = getattr(args, flag)
        if value is not None:
            argv += [f"--{flag}", value]
    cli(argv, standalone_mode=True)
