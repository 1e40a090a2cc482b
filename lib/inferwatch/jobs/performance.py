"""The performance job: per-slice performance, estimates and fairness per (model_id, hour).

For each model: find the hours whose inferences or labels changed since the model's own
progress (plus the hours an earlier bounded run owes it), keep those inside
`--start/--end`, compute their hourly state from the joined rows, and let
`metrics.windows.write_windows` replace those hours and their days and weeks in
`state/performance` and `metrics/performance` (and `state/fairness`, `metrics/fairness`
for binary models with `protected` attributes). A model that fails is recorded as
failed and the others go on; a slice that fails on the rows is dropped for the run, with
a note, and the model's other rows are written (`metrics.slices.compute_sliced`).
`--rebuild` recomputes every stored hour in the range.
"""
from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.model_config import ModelConfig
from inferwatch.context import Context
from inferwatch.metrics.estimation import build_reference, with_expectations
from inferwatch.metrics.fairness import fairness_state
from inferwatch.metrics.families import FAIRNESS, performance
from inferwatch.metrics.joined import baseline_rows, joined_rows
from inferwatch.metrics.performance import BINARY
from inferwatch.metrics.performance_state import hourly_state
from inferwatch.metrics.slices import compute_sliced
from inferwatch.metrics.windows import write_windows
from inferwatch.runs import Run
from inferwatch.jobs.todo import run_per_model

JOB = "performance"
INPUTS = ("inferences", "labels")


def run(ctx: Context) -> Run:
    return run_per_model(ctx, JOB, INPUTS, _model)


def _model(ctx: Context, model: ModelConfig, hours: set[datetime], versions: dict[str, int],
           part: Run) -> None:
    lake, notes = ctx.lake, part.notes
    parts = [{"model_id": model.model_id, "hour": h} for h in sorted(hours)]
    baseline = baseline_rows(lake, model, versions)
    reference = None if baseline is None else build_reference(
        baseline, model.problem_type, model.threshold, model.classes)
    notes.append("estimates from " + (
        f"a reference of {reference.rows} labelled baseline rows" if reference
        else "confidence (no labelled baseline)"))
    # rows in: what the Delta log says the partitions hold, independent of the join
    part.rows_in = sum(f.num_records or 0 for f in lake.table("inferences").files(
        versions["inferences"], partitions=parts, stats=()))
    joined = with_expectations(joined_rows(lake, parts, versions), reference,
                               model.problem_type).persist()
    try:
        state, whole = compute_sliced(joined, model, notes, lambda rows: _state(model, rows),
                                      details=part.details)
        try:
            part.rows_out = whole
            part.check_accounting()
            part.outputs.update(write_windows(lake, performance(model.problem_type),
                                              model.model_id, hours, state))
        finally:
            state.unpersist()
        if model.problem_type == BINARY and model.protected:
            _fairness(ctx, model, hours, joined, part)
    finally:
        joined.unpersist()


def _state(model: ModelConfig, rows: DataFrame) -> tuple[DataFrame, int]:
    """The hourly state of sliced `rows`, persisted and computed, and the whole model's
    row count."""
    state = hourly_state(rows, model.problem_type, model.threshold,
                         model.classes or None).persist()
    try:
        whole = state.where(F.col("slice_key") == "*").agg(F.sum("n")).first()[0]
    except Exception:
        state.unpersist()  # a failed plan leaves nothing cached behind
        raise
    return state, int(whole or 0)


def _fairness(ctx: Context, model: ModelConfig, hours: set[datetime], joined, part: Run) -> None:
    protected = [c for c in model.protected if c in joined.columns]
    absent = sorted(set(model.protected) - set(protected))
    if absent:
        part.notes.append(f"protected attributes {absent} are not in the inferences; "
                          "no fairness rows for them")
    if protected:
        state = fairness_state(joined, protected, model.threshold)
        part.outputs.update(write_windows(ctx.lake, FAIRNESS, model.model_id, hours, state))
