"""The jobs, in pipeline order. Each module has `run(ctx) -> Run` and knows nothing of
the command line: `inferwatch run JOB` (and `jobs/submit.py JOB`, the spark-submit entry
point at the top of the checkout, which calls it) builds the `Context` and calls
`run_job` or `hourly.run`.
"""
from __future__ import annotations

import importlib
import time
from typing import TYPE_CHECKING

from inferwatch.errors import UnknownNameError
from inferwatch.redact import redact

if TYPE_CHECKING:
    from inferwatch.context import Context
    from inferwatch.runs import Run
    from inferwatch.lake.lease import LeaseSettings

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


def run_job(ctx: Context, name: str, lease: LeaseSettings | None = None,
            step: tuple[int, int] | None = None) -> Run:
    """Run one pipeline job with a progress line before and after (`step`: its place
    (n, of) in a sequence of jobs, e.g. `hourly`'s), holding the job's lease on the lake
    (`lake.lease`): while another run holds it, this one waits, then does nothing and
    says who holds it (recorded by `runs.skipped`, status `ok`)."""
    from inferwatch.runs import skipped
    from inferwatch.lake.lease import LeaseSettings, held

    if name not in PIPELINE + DAILY:
        raise UnknownNameError("job", name, PIPELINE + DAILY)
    t0 = time.monotonic()
    place = f" (job {step[0]}/{step[1]})" if step else ""
    print(f"[{name}] running{place} ...", flush=True)
    with held(ctx.lake, name, lease or LeaseSettings.from_environ()) as taken:
        run = (skipped(ctx.lake, name, taken.refused_by) if taken.refused_by
               else job_module(name).run(ctx))
    run.notes += taken.notes
    extra = f" ({'; '.join(run.notes)})" if run.notes else ""
    # the notes carry models' errors, which may quote a webhook URL or a storage key
    print(redact(f"[{name}] {run.status} in {time.monotonic() - t0:.1f}s: {run.summary()}"
                 f"{extra}"), flush=True)
    return run
