"""The performance job: per-slice performance, estimates and fairness per (model_id, hour),
for every model in one plan.

For each model: find the hours whose inferences or labels changed since the model's own
progress (plus the hours an earlier bounded run owes it), keep those inside
`--start/--end`, and compute their hourly state from the joined rows, every model's side
by side in one Spark plan (a model's problem type, threshold, classes and slices are its
own projection); `metrics.windows.write_fleet_windows` then replaces those hours and
their days and weeks in `state/performance` and `metrics/performance` (and
`state/fairness`, `metrics/fairness` for binary models with `protected` attributes),
one commit per table for all models. A model whose baseline breaks is failed alone: if
the joint plan fails, each group of models alike is computed alone, and a failing group
in halves, so only the breaking one is recorded failed; a slice that fails on the rows
is dropped for the run, with a note, and the model's other rows are written
(`metrics.slices.compute_sliced`).
`--rebuild` recomputes every stored hour in the range.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.lake.sql_text import sql_in
from inferwatch.frames import materialized, release
from inferwatch.context import Context
from inferwatch.jobs.states import share, write_states
from inferwatch.jobs.todo import alike, failed, run_fleet
from inferwatch.metrics.estimation import Reference, build_references, with_expectations
from inferwatch.metrics.fairness import fairness_state
from inferwatch.metrics.families import FAIRNESS, performance
from inferwatch.metrics.joined import baselines_rows, joined_rows
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
    referenced: bool = False  # the reference was looked for (built, or there is none)
    notes: list[str] = field(default_factory=list)  # kept once the plan has run
    rows: DataFrame | None = None  # the joined rows, persisted while the run writes


def run(ctx: Context) -> Run:
    return run_fleet(ctx, JOB, INPUTS, _prepare, _compute, _write, shape=_shape)


def _prepare(ctx: Context, model: ModelConfig, hours: set[datetime], part: Run,
             done: Progress) -> _Plan:
    return _Plan(model, hours, part, None)


def _references(ctx: Context, plans: list[_Plan], versions: dict[str, int]) -> None:
    """Each model's estimation reference from its labelled baseline, models alike in one
    read and one Spark job (`baselines_rows`, `build_references`); a model without a
    baseline estimates from confidence."""
    wanted = [p for p in plans if not p.referenced and p.model.baseline]
    by_id = {p.model.model_id: p for p in wanted}
    for models, rows in baselines_rows(ctx.lake, [p.model for p in wanted], versions):
        if rows is None:
            continue
        first = models[0]
        built = build_references(rows, [m.model_id for m in models], first.problem_type,
                                 first.threshold, first.classes)
        for model_id, reference in built.items():
            by_id[model_id].reference = reference
    for plan in plans:
        if not plan.referenced:
            plan.referenced = True
            reference = plan.reference
            plan.part.notes.append("estimates from " + (
                f"a reference of {reference.rows} labelled baseline rows" if reference
                else "confidence (no labelled baseline)"))


def _shape(plan: _Plan) -> tuple:
    """What a model's performance plan depends on besides its rows and its reference's
    per-bucket values: models alike in it are one branch of the joint plan (one read of
    all their hours, one aggregation keyed by model)."""
    model, reference = plan.model, plan.reference
    return (model.problem_type, model.threshold, model.classes, model.slices,
            model.protected, reference is None, reference and reference.edges)


def _state(ctx: Context, group: list[_Plan], versions: dict[str, int], alone: bool
           ) -> DataFrame:
    """The hourly performance state of models alike (`_shape`): lazy for a joint plan,
    persisted and computed when `alone` (one model; then a slice that fails on the rows
    is dropped, `compute_sliced`). The joined rows are persisted for the fairness state."""
    first = group[0]
    model = first.model
    if first.rows is None:
        rows = joined_rows(ctx.lake, [{"model_id": plan.model.model_id, "hour": h}
                                      for plan in group for h in sorted(plan.hours)], versions)
        rows = with_expectations(rows, {plan.model.model_id: plan.reference for plan in group},
                                 model.problem_type).persist()
        for plan in group:
            plan.rows = rows
    notes: list[str] = []
    details: dict = {}

    def state(sliced_rows: DataFrame) -> DataFrame:
        return hourly_state(sliced_rows, model.problem_type, model.threshold,
                            model.classes or None)

    try:
        if alone:
            return compute_sliced(first.rows, model, notes,
                                  lambda rows: materialized(state(rows)), details=details)
        return state(sliced(first.rows, model, notes, details=details))
    finally:
        share(group, notes, details)


def _compute(ctx: Context, plans: dict[str, _Plan], versions: dict[str, int]) -> dict:
    _references(ctx, list(plans.values()), versions)
    try:
        if len(plans) == 1:
            state = _state(ctx, list(plans.values()), versions, alone=True)
        else:
            state = materialized(union([_state(ctx, group, versions, alone=False)
                                      for group in alike(plans, _shape)]))
        try:
            whole = dict(state.where(F.col("slice_key") == "*")
                         .groupBy("model_id").agg(F.sum("n")).collect())
        except Exception:
            release(state)
            raise
    except Exception:
        _release(plans.values())
        raise
    return {m: (plan, state, int(whole.get(m) or 0)) for m, plan in plans.items()}


def _write(ctx: Context, results: dict, parts: dict[str, Run]) -> dict[str, int]:
    plans = {m: plan for m, (plan, _s, _n) in results.items()}

    def write(changed: dict[str, set[datetime]], fresh: DataFrame) -> dict[str, int]:
        family = performance({m: plans[m].model.problem_type for m in changed})
        outputs = write_fleet_windows(ctx.lake, family, changed, fresh)
        return outputs | _fairness(ctx, {m: plans[m] for m in changed})

    try:
        return write_states(ctx, results, parts, write)
    finally:
        _release(plans.values())


def _fairness(ctx: Context, plans: dict[str, _Plan]) -> dict[str, int]:
    """Fairness counts of the binary models with `protected` attributes, every model's in
    one plan and one commit per table: models alike (sharing their joined rows) are one
    aggregation; if the joint write fails, each model is written alone."""
    groups: dict[int, list[str]] = {}
    for model_id, plan in sorted(plans.items()):
        model = plan.model
        if model.problem_type != BINARY or not model.protected:
            continue
        absent = sorted(set(model.protected) - set(plan.rows.columns))
        if absent:
            plan.part.notes.append(f"protected attributes {absent} are not in the inferences; "
                                   "no fairness rows for them")
        if set(model.protected) - set(absent):
            groups.setdefault(id(plan.rows), []).append(model_id)

    def state(model_ids: list[str]) -> DataFrame:
        plan = plans[model_ids[0]]
        protected = [c for c in plan.model.protected if c in plan.rows.columns]
        return fairness_state(plan.rows.where(sql_in("model_id", model_ids)), protected,
                              plan.model.threshold)

    fairly = [m for ids in groups.values() for m in ids]
    try:
        return _write_fairness(ctx, plans, fairly, [state(ids) for ids in groups.values()])
    except Exception:  # noqa: BLE001 - isolate the model whose fairness rows break
        if len(fairly) == 1:
            raise
    outputs: dict[str, int] = {}
    for model_id in fairly:
        try:
            outputs.update(_write_fairness(ctx, plans, [model_id], [state([model_id])]))
        except Exception as err:  # noqa: BLE001 - failures are values; others go on
            failed(plans[model_id].part, err)
    return outputs


def _write_fairness(ctx: Context, plans: dict[str, _Plan], model_ids: list[str],
                    states: list[DataFrame]) -> dict[str, int]:
    if not model_ids:
        return {}
    return write_fleet_windows(ctx.lake, FAIRNESS, {m: plans[m].hours for m in model_ids},
                               union(states))


def _release(plans) -> None:
    for plan in plans:
        if plan.rows is not None:
            plan.rows.unpersist()  # models alike share their rows: unpersisting twice is a no-op
            plan.rows = None
