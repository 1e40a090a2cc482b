"""`hourly`: every job of the pipeline, in order, each incrementally, in one Spark session."""
from __future__ import annotations

from inferwatch.context import Context
from inferwatch.jobs import PIPELINE, run_job
from inferwatch.runs import Run


def run(ctx: Context) -> list[Run]:
    return [run_job(ctx, name, step=(i, len(PIPELINE))) for i, name in enumerate(PIPELINE, 1)]
