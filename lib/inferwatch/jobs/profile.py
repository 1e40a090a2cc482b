"""The profile job: every feature, the prediction and the label of each changed hour,
for every model in one plan.

For each model, the hours whose inferences or labels changed since that model's last
run (`jobs.todo`): the hour's rows, sliced like performance, are profiled in one pass
over all columns and slices (`metrics.profile`), every model's states side by side in
one Spark plan; the hourly state replaces those hours in `state/profile` and the days and
weeks they fall in are merged again from the stored hourly states (never from raw rows);
`metrics/profile` gets the compact rows of the same windows: one commit per table for
all models (`metrics.windows.write_fleet_windows`). If the joint plan fails, each model
is computed alone: a model's failure is recorded and the others go on; a slice that
fails on the rows is dropped for the run with a note (`metrics.slices.compute_sliced`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.frames import release
from inferwatch.context import Context
from inferwatch.jobs.states import share, write_states
from inferwatch.jobs.todo import alike, run_fleet
from inferwatch.metrics.families import PROFILE
from inferwatch.metrics.joined import joined_rows
from inferwatch.metrics.profile import computed, profile_state, profiled_columns
from inferwatch.metrics.slices import compute_sliced, sliced
from inferwatch.metrics.windows import union, write_fleet_windows
from inferwatch.model_config import ModelConfig
from inferwatch.runs import Progress, Run

JOB = "profile"
INPUTS = ("inferences", "labels")


@dataclass
class _Plan:
    model: ModelConfig
    hours: set[datetime]
    part: Run
    notes: list[str] = field(default_factory=list)  # kept once the plan has run


def run(ctx: Context) -> Run:
    return run_fleet(ctx, JOB, INPUTS, _prepare, _compute, _write, shape=_shape)


def _prepare(ctx: Context, model: ModelConfig, hours: set[datetime], part: Run,
             done: Progress) -> _Plan:
    return _Plan(model, hours, part)


def _shape(plan: _Plan) -> tuple:
    """What a model's profile plan depends on besides its rows: models alike in it are
    profiled as one (one read of all their hours, one aggregation keyed by model)."""
    model = plan.model
    return (model.problem_type, model.numeric, model.categorical, model.slices)


def _states(ctx: Context, group: list[_Plan], versions: dict[str, int], alone: bool
            ) -> DataFrame:
    """The hourly profile state of models alike (`_shape`): lazy for a joint plan,
    computed when `alone` (one model; then a slice that fails on the rows is dropped,
    `compute_sliced`)."""
    first = group[0]
    rows = joined_rows(ctx.lake, [{"model_id": plan.model.model_id, "hour": h}
                                  for plan in group for h in sorted(plan.hours)], versions)
    numeric, categorical = profiled_columns(first.model, rows.columns)
    notes: list[str] = []
    missing = sorted(set(first.model.features) - set(numeric) - set(categorical))
    if missing:
        notes.append(f"features {missing} are not in the inferences")
    extra = [*numeric, *categorical]
    details: dict = {}
    try:
        if alone:
            return compute_sliced(rows, first.model, notes, lambda sliced_rows: computed(
                ctx.spark, lambda: profile_state(sliced_rows, numeric, categorical)),
                extra=extra, details=details)
        return profile_state(sliced(rows, first.model, notes, extra, details),
                             numeric, categorical)
    finally:
        share(group, notes, details)


def _compute(ctx: Context, plans: dict[str, _Plan], versions: dict[str, int]) -> dict:
    if len(plans) == 1:
        state = _states(ctx, list(plans.values()), versions, alone=True)
    else:
        state = computed(ctx.spark, lambda: union(
            [_states(ctx, group, versions, alone=False) for group in alike(plans, _shape)]))
    try:
        whole = (state.where(F.col("slice_key") == "*")
                 .groupBy("model_id", "window_start").agg(F.max("count").alias("n"))
                 .groupBy("model_id").agg(F.sum("n")).collect())
    except Exception:
        release(state)
        raise
    rows_out = dict.fromkeys(plans, 0) | {m: int(n or 0) for m, n in whole}
    return {m: (plans[m], state, rows_out[m]) for m in plans}


def _write(ctx: Context, results: dict, parts: dict[str, Run]) -> dict[str, int]:
    return write_states(ctx, results, parts, lambda changed, fresh: write_fleet_windows(
        ctx.lake, PROFILE, changed, fresh))
