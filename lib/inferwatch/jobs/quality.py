"""The quality job (issue 9, in progress; not in `hourly` yet): each changed model-hour
validated with the model's Great Expectations suite, results in `metrics/quality`.

For each model, the hours whose inferences changed since its last run (`jobs.todo`):
the hour's rows are cached and validated once with every expectation of the suite
(`quality.validate`), and the flattened results replace that hour in `metrics/quality`.
The suite is the one suggested from the model's `default` baseline
(`quality.suggest`), with the row-count bounds of the hour's hour of day; a model with
no baseline yet owes its hours to a later run.
"""
from __future__ import annotations

from datetime import datetime

from inferwatch.config import ModelConfig
from inferwatch.context import Context
from inferwatch.jobs.runs import Run
from inferwatch.jobs.todo import run_per_model
from inferwatch.metrics import baseline as bl
from inferwatch.metrics.windows import replace_windows
from inferwatch.quality.suggest import for_hour, suggest
from inferwatch.quality.validate import QUALITY_SCHEMA, build_suite, validate

JOB = "quality"
INPUTS = ("inferences",)
TABLE = "metrics/quality"


def run(ctx: Context) -> Run:
    return run_per_model(ctx, JOB, INPUTS, _model)


def suggested(ctx: Context, model: ModelConfig, name: str = "default") -> list[dict] | None:
    """The suite suggested from baseline `name` of `model`; None without that baseline."""
    table = ctx.lake.table(bl.TABLE)
    if not table.exists():
        return None
    rows = table.read(partitions=[{"model_id": model.model_id, "name": name}])
    if rows.isEmpty():
        return None
    return suggest(model, rows, name)


def _model(ctx: Context, model: ModelConfig, hours: set[datetime], versions: dict[str, int],
           part: Run) -> None:
    specs = suggested(ctx, model)
    if specs is None:
        part.notes.append("no 'default' baseline yet: quality waits for it")
        part.owed = sorted(set(part.owed) | hours)
        return
    inferences = ctx.lake.table("inferences")
    results: list[tuple] = []
    failed = 0
    for hour in sorted(hours):
        partition = {"model_id": model.model_id, "hour": hour}
        part.rows_in += sum(f.num_records or 0 for f in inferences.files(
            versions["inferences"], partitions=[partition], stats=()))
        rows = inferences.read(versions["inferences"], partitions=[partition]).persist()
        try:
            suite = build_suite(f"{model.model_id}.suggested", for_hour(specs, hour.hour))
            found = validate(rows, suite, model.model_id, hour)
            part.rows_out += rows.count()
        finally:
            rows.unpersist()
        failed += sum(1 for r in found if not r[7])
        results += found
    part.notes.append(f"{len(results)} expectation results, {failed} failed")
    fresh = ctx.spark.createDataFrame(results, QUALITY_SCHEMA)
    part.outputs[TABLE] = replace_windows(ctx.lake, TABLE, model.model_id,
                                          {"1h": sorted(hours)}, fresh)
    part.check_accounting()
