"""The profile job: every feature, the prediction and the label of each changed hour.

For each model, the hours whose inferences or labels changed since that model's last
run (`jobs.todo`): the hour's rows, sliced like performance, are profiled in one pass
over all columns and slices (`metrics.profile`); the hourly state replaces those hours
in `state/profile` and the days and weeks they fall in are merged again from the stored
hourly states (never from raw rows); `metrics/profile` gets the compact rows of the
same windows. A model's failure is recorded and the others go on; a slice that fails on
the rows is dropped for the run with a note (`metrics.slices.compute_sliced`).
"""
from __future__ import annotations

from datetime import datetime

from pyspark.sql import functions as F

from inferwatch.model_config import ModelConfig
from inferwatch.context import Context
from inferwatch.runs import Run
from inferwatch.jobs.todo import run_per_model
from inferwatch.metrics.families import PROFILE
from inferwatch.metrics.joined import joined_rows
from inferwatch.metrics.profile import computed_state, profiled_columns
from inferwatch.metrics.slices import compute_sliced
from inferwatch.metrics.windows import write_windows

JOB = "profile"
INPUTS = ("inferences", "labels")


def run(ctx: Context) -> Run:
    return run_per_model(ctx, JOB, INPUTS, _model)


def _model(ctx: Context, model: ModelConfig, hours: set[datetime], versions: dict[str, int],
           part: Run) -> None:
    lake = ctx.lake
    parts = [{"model_id": model.model_id, "hour": h} for h in sorted(hours)]
    part.rows_in = sum(f.num_records or 0 for f in lake.table("inferences").files(
        versions["inferences"], partitions=parts, stats=()))
    rows = joined_rows(lake, parts, versions)
    numeric, categorical = profiled_columns(model, rows.columns)
    missing = sorted(set(model.features) - set(numeric) - set(categorical))
    if missing:
        part.notes.append(f"features {missing} are not in the inferences")
    state = compute_sliced(rows, model, part.notes,
                           lambda sliced: computed_state(sliced, numeric, categorical),
                           extra=[*numeric, *categorical], details=part.details)
    try:
        whole = (state.where((F.col("slice_key") == "*"))
                 .groupBy("window_start").agg(F.max("count").alias("n"))
                 .agg(F.sum("n")).first()[0])
        part.rows_out = int(whole or 0)
        part.check_accounting()
        part.outputs.update(write_windows(lake, PROFILE, model.model_id, hours, state))
    finally:
        state.unpersist()
