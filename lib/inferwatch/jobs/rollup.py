"""The rollup job (daily): day and week windows merged again from the stored hourly state.

The hourly jobs already merge the days and weeks of the hours they change. This job
re-merges every day and ISO week that the hours of `--start/--end` fall in (default: the
`DEFAULT_DAYS` days before now, so that yesterday and the last full week are final) for
every family with state: profiles, performance and fairness. It reads no raw rows and
is idempotent: a re-run writes the same windows. Use it after a late repair of hourly
state, or to finalize days in a schedule that ran hourly jobs bounded to their hour.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from inferwatch.context import Context
from inferwatch.runs import Run, track
from inferwatch.metrics.families import FAIRNESS, PROFILE, performance
from inferwatch.granularity import truncate, utc
from inferwatch.metrics.windows import rollup_windows, write_rollups

JOB = "rollup"
DEFAULT_DAYS = 8


def hours_of(ctx: Context, now: datetime) -> list[datetime]:
    """Every hour of the job's range."""
    end = utc(ctx.end) if ctx.end else truncate(now, "hour")
    start = utc(ctx.start) if ctx.start else end - timedelta(days=DEFAULT_DAYS)
    hours, hour = [], truncate(start, "hour")
    while hour < end:
        hours.append(hour)
        hour += timedelta(hours=1)
    return hours


def run(ctx: Context, now: datetime | None = None) -> Run:
    hours = hours_of(ctx, now or datetime.now(timezone.utc))
    windows = rollup_windows(hours)
    models = ctx.selected_models()
    params = {"start": hours[0] if hours else None,
              "end": hours[-1] + timedelta(hours=1) if hours else None, "models": sorted(models)}
    with track(ctx.lake, JOB, params) as job:
        for model_id, model in sorted(models.items()):
            part = job.for_model(model_id)
            try:
                for family in (PROFILE, performance(model.problem_type), FAIRNESS):
                    part.outputs.update(write_rollups(ctx.lake, family, model_id, windows))
            except Exception as err:  # noqa: BLE001 - failures are values; others go on
                part.fail(err)
                job.notes.append(f"{model_id}: failed: {part.error[:200]}")
                continue
            job.notes.append(f"{model_id}: {len(windows['1d'])} days, "
                             f"{len(windows['1w'])} weeks merged")
        job.add_totals()
    return job
