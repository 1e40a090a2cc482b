"""The jobs, in pipeline order. Each module has `run(ctx) -> Run` and `main(argv)`.

`jobs/<name>.py` at the top of the checkout is a spark-submit entry point that imports
the module's `main`: one import from the job's logic.
"""
from __future__ import annotations

import importlib
import time
from typing import TYPE_CHECKING

from inferwatch.errors import UnknownNameError

if TYPE_CHECKING:
    from inferwatch.context import Context
    from inferwatch.jobs.runs import Run

# Pipeline order; later stages add their names here.
PIPELINE = ("partition", "join-labels", "profile", "drift", "multivariate", "performance",
            "quality", "alerts")
# Not part of `hourly`: scheduled daily.
DAILY = ("rollup", "maintain")
JOB_NAMES = (*PIPELINE, *DAILY, "hourly")


def job_module(name: str):
    if name not in JOB_NAMES:
        raise UnknownNameError("job", name, JOB_NAMES)
    return importlib.import_module(f"inferwatch.jobs.{name.replace('-', '_')}")


def run_job(ctx: Context, name: str) -> Run:
    """Run one pipeline job with a progress line before and after."""
    if name not in PIPELINE + DAILY:
        raise UnknownNameError("job", name, PIPELINE + DAILY)
    t0 = time.monotonic()
    print(f"[{name}] running ...", flush=True)
    run = job_module(name).run(ctx)
    extra = f" ({'; '.join(run.notes)})" if run.notes else ""
    print(f"[{name}] {run.status} in {time.monotonic() - t0:.1f}s: {run.summary()}{extra}",
          flush=True)
    return run
