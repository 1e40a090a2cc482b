"""The performance job: per-slice performance, estimates and fairness per (model_id, hour),
for every model in one plan.

For each model: find the hours whose inferences or labels changed since the model's own
progress (plus the hours an earlier bounded run owes it), keep those inside
`--start/--end`, and compute their hourly state from the joined rows, every model's side
by side in one Spark plan (a model's problem type, threshold, classes and slices are its
own projection); `metrics.windows.write_fleet_windows` then replaces those hours and
their days and weeks in `state/performance` and `metrics/performance` (and
`state/fairness`, `metrics/fairness` for binary models with `protected` attributes),
one commit per table for all models. A model whose settings or baseline break is failed
alone while planning; if the joint plan fails, each model is computed alone, so only the
breaking one is recorded failed; a slice that fails on the rows is dropped for the run,
with a note, and the model's other rows are written (`metrics.slices.compute_sliced`).
`--rebuild` recomputes every stored hour in the range.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.context import Context
from inferwatch.jobs.todo import accounted, failed, run_fleet
from inferwatch.metrics.estimation import Reference, build_reference, with_expectations
from inferwatch.metrics.fairness import fairness_state
from inferwatch.metrics.families import FAIRNESS, performance
from inferwatch.metrics.joined import baseline_rows, joined_rows
from inferwatch.metrics.performance import BINARY
from inferwatch.metrics.performance_state import hourly_state
from inferwatch.metrics.slices import compute_sliced, sliced
from inferwatch.metrics.windows import union, write_fleet_windows
from inferwatch.model_config import ModelConfig
from inferwatch.runs import Progress, Run

JOB = "performance"
INPUTS = ("inferences", "labels")


@dataclass
class _Plan:
    model: ModelConfig
    hours: set[datetime]
    part: Run
    reference: Reference | None
    notes: list[str] = field(default_factory=list)  # kept once the plan has run
    rows: DataFrame | None = None  # the joined rows, persisted while the run writes


def run(ctx: Context) -> Run:
    return run_fleet(ctx, JOB, INPUTS, _prepare, _compute, _write)


def _prepare(ctx: Context, model: ModelConfig, hours: set[datetime], part: Run,
             done: Progress) -> _Plan:
    """The model's plan, with the estimation reference of its labelled baseline (a
    baseline that cannot be read fails the model here, alone)."""
    baseline = baseline_rows(ctx.lake, model, part.inputs)
    reference = None if baseline is None else build_reference(
        baseline, model.problem_type, model.threshold, model.classes)
    part.notes.append("estimates from " + (
        f"a reference of {reference.rows} labelled baseline rows" if reference
        else "confidence (no labelled baseline)"))
    return _Plan(model, hours, part, reference)


def _state(ctx: Context, plan: _Plan, versions: dict[str, int], alone: bool) -> DataFrame:
    """One model's hourly performance state: lazy for a joint plan, persisted and
    computed when `alone` (then a slice that fails on the rows is dropped,
    `compute_sliced`). The model's joined rows are persisted for the fairness state."""
    model = plan.model
    if plan.rows is None:
        rows = joined_rows(ctx.lake, [{"model_id": model.model_id, "hour": h}
                                      for h in sorted(plan.hours)], versions)
        plan.rows = with_expectations(rows, plan.reference, model.problem_type).persist()
    plan.notes = []

    def state(sliced_rows: DataFrame) -> DataFrame:
        return hourly_state(sliced_rows, model.problem_type, model.threshold,
                            model.classes or None)

    if alone:
        return compute_sliced(plan.rows, model, plan.notes,
                              lambda rows: _persisted(state(rows)), details=plan.part.details)
    return state(sliced(plan.rows, model, plan.notes, details=plan.part.details))


def _persisted(state: DataFrame) -> DataFrame:
    state = state.persist()
    try:
        state.count()
    except Exception:
        state.unpersist()  # a failed plan leaves nothing cached behind
        raise
    return state


def _compute(ctx: Context, plans: dict[str, _Plan], versions: dict[str, int]) -> dict:
    try:
        if len(plans) == 1:
            state = _state(ctx, next(iter(plans.values())), versions, alone=True)
        else:
            state = _persisted(union([_state(ctx, plan, versions, alone=False)
                                      for plan in plans.values()]))
        try:
            whole = dict(state.where(F.col("slice_key") == "*")
                         .groupBy("model_id").agg(F.sum("n")).collect())
        except Exception:
            state.unpersist()
            raise
    except Exception:
        _release(plans.values())
        raise
    return {m: (plan, state, int(whole.get(m) or 0)) for m, plan in plans.items()}


def _write(ctx: Context, results: dict, parts: dict[str, Run]) -> dict[str, int]:
    states = {id(state): state for _plan, state, _n in results.values()}
    plans = {m: plan for m, (plan, _s, _n) in results.items()}
    try:
        for model_id, plan in plans.items():
            parts[model_id].notes += plan.notes
        changed = accounted(ctx, {m: (plan.hours, n) for m, (plan, _s, n) in results.items()},
                            parts)
        if not changed:
            return {}
        fresh = union(list(states.values())).where(F.col("model_id").isin(list(changed)))
        family = performance({m: plans[m].model.problem_type for m in changed})
        outputs = write_fleet_windows(ctx.lake, family, changed, fresh)
        return outputs | _fairness(ctx, {m: plans[m] for m in changed})
    finally:
        for state in states.values():
            state.unpersist()
        _release(plans.values())


def _fairness(ctx: Context, plans: dict[str, _Plan]) -> dict[str, int]:
    """Fairness counts of the binary models with `protected` attributes, every model's in
    one plan and one commit per table."""
    states = {}
    for model_id, plan in plans.items():
        model = plan.model
        if model.problem_type != BINARY or not model.protected:
            continue
        protected = [c for c in model.protected if c in plan.rows.columns]
        absent = sorted(set(model.protected) - set(protected))
        if absent:
            plan.part.notes.append(f"protected attributes {absent} are not in the inferences; "
                                   "no fairness rows for them")
        if protected:
            states[model_id] = fairness_state(plan.rows, protected, model.threshold)
    try:
        return _write_fairness(ctx, plans, states)
    except Exception:  # noqa: BLE001 - isolate the model whose fairness rows break
        if len(states) == 1:
            raise
    outputs: dict[str, int] = {}
    for model_id, state in sorted(states.items()):
        try:
            outputs.update(_write_fairness(ctx, plans, {model_id: state}))
        except Exception as err:  # noqa: BLE001 - failures are values; others go on
            failed(plans[model_id].part, err)
    return outputs


def _write_fairness(ctx: Context, plans: dict[str, _Plan], states: dict[str, DataFrame]
                    ) -> dict[str, int]:
    if not states:
        return {}
    return write_fleet_windows(ctx.lake, FAIRNESS, {m: plans[m].hours for m in states},
                               union(list(states.values())))


def _release(plans) -> None:
    for plan in plans:
        if plan.rows is not None:
            plan.rows.unpersist()
            plan.rows = None
