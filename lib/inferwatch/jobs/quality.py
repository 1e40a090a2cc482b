"""The quality job: each changed model-hour validated with the model's Great Expectations
suite, plus the signals GX does not see on its own, into `metrics/quality`.

For each model, the hours whose `inferences` or `state/deliveries` changed since its
last run (`jobs.todo`): the hour's rows are cached, reduced to the columns the hour
really has (`quality.signals.for_validation`), and validated once with every
expectation of the model's suite (`quality.suite.model_suite`: the reviewed file, else
the suite suggested from its baseline, plus the description's own expectations; the
row-count bounds are those of the hour's hour of day). The hour's duplicate and
quarantine rates are added as rows, and hours of the lake's clock in which the model has
no row are validated as empty batches (a stopped feed). The rows replace those hours in
`metrics/quality`. A model with no suite yet (no baseline, no expectations) owes its
hours to a later run.
"""
from __future__ import annotations

from datetime import datetime

from inferwatch.console import progress
from inferwatch.model_config import ModelConfig
from inferwatch.context import Context
from inferwatch.runs import Progress, Run
from inferwatch.jobs.todo import run_per_model
from inferwatch.metrics.window_store import replace_windows
from inferwatch.quality import signals
from inferwatch.quality.hour import validate_empty, validate_hour
from inferwatch.quality.suite import model_suite, rate_limits
from inferwatch.quality.validate import QUALITY_SCHEMA

JOB = "quality"
INPUTS = ("inferences", "state/deliveries")
TABLE = "metrics/quality"


def run(ctx: Context) -> Run:
    return run_per_model(ctx, JOB, INPUTS, _model, always=True)


def _model(ctx: Context, model: ModelConfig, hours: set[datetime], versions: dict[str, int],
           part: Run) -> None:
    since = Progress(ctx.lake, JOB).cursor("inferences", model.model_id)
    empty = signals.empty_hours(ctx.lake, model.model_id, since,
                                versions["inferences"]) - hours
    part.owed = sorted(set(part.owed) | {h for h in empty if not ctx.in_range(h)})
    empty = {h for h in empty if ctx.in_range(h)}
    if not hours and not empty:
        return
    suite = model_suite(ctx.lake, model)
    if suite is None:
        part.notes.append("no baseline and no expectations yet: quality waits for them")
        part.owed = sorted(set(part.owed) | hours)
        return
    name, specs = suite
    counts = signals.deliveries(ctx.lake, model.model_id, hours | empty)
    limits = rate_limits(model)
    results: list[tuple] = []
    todo = sorted(hours | empty)
    with progress(f"[{JOB}] {model.model_id}", len(todo), "hours") as meter:
        for hour in todo:  # GX takes seconds per hour: the job's longest loop
            found = (validate_empty(ctx.spark, model, name, specs, hour) if hour in empty
                     else _hour(ctx, model, name, specs, hour, versions["inferences"], part))
            results += found + signals.delivery_rows(model, hour, counts.get(hour), limits)
            meter.advance()
    failed = sum(1 for r in results if not r[7])
    part.notes.append(f"{len(results)} expectation results, {failed} failed"
                      + (f", {len(empty)} hours without rows" if empty else ""))
    fresh = ctx.spark.createDataFrame(results, QUALITY_SCHEMA)
    part.outputs[TABLE] = replace_windows(ctx.lake, TABLE, model.model_id,
                                          {"1h": sorted(hours | empty)}, fresh)
    part.check_accounting()


def _hour(ctx: Context, model: ModelConfig, name: str, specs: list[dict], hour: datetime,
          version: int, part: Run) -> list[tuple]:
    part.rows_in += sum(f.num_records or 0 for f in ctx.lake.table("inferences").files(
        version, partitions=[{"model_id": model.model_id, "hour": hour}], stats=()))
    found, n = validate_hour(ctx.lake, model, name, specs, hour, version)
    part.rows_out += n
    return found
