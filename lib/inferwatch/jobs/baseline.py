"""`inferwatch baseline`: store a named baseline of a model (`metrics.baseline`), from a
training file (Parquet, CSV or JSON lines, read like ingest reads) or from a window of
`inferences` (with their labels). Each store is a new version of that name."""
from __future__ import annotations

from pyspark.sql import functions as F

from inferwatch.context import Context
from inferwatch.errors import UserError
from inferwatch.ingest.sources import read_source
from inferwatch.runs import track
from inferwatch.metrics import baseline as bl
from inferwatch.metrics import domain
from inferwatch.metrics.joined import joined_rows


def create(ctx: Context, name: str, source: str | None = None) -> str:
    """Build and store baseline `name` of `ctx.model` from the file `source`, else from the
    inferences of [`ctx.start`, `ctx.end`); returns the line the CLI prints."""
    model = ctx.one_model()
    model_id, start, end = model.model_id, ctx.start, ctx.end
    if source is None and (start is None or end is None):
        raise ValueError("a baseline comes from a source file or from ctx.start .. ctx.end")
    with track(ctx.lake, "baseline", {"model": model_id, "name": name, "source": source,
                                      "start": start, "end": end}) as run:
        if source is not None:
            rows = read_source(ctx.spark, source)  # strings: numbers as the lake has them
            rows = rows.withColumns({c: F.col(c).try_cast("double") for c in
                                     (*model.numeric, "prediction", "label")
                                     if c in rows.columns})
            if "model_id" in rows.columns:  # a shared log: this model's rows only
                rows = rows.where(F.col("model_id") == model_id)
            described = f"file {source}"
        else:
            inferences = ctx.lake.table("inferences")
            parts = [p for p in inferences.partitions(model_id=model_id)
                     if start <= p["hour"] < end]
            if not parts:
                raise UserError(f"no inferences of model {model_id} between {start.isoformat()} "
                                f"and {end.isoformat()}")
            versions = {t: ctx.lake.table(t).version() for t in ("inferences", "labels")}
            rows = joined_rows(ctx.lake, parts, versions)
            described = f"window {start.isoformat()} .. {end.isoformat()}"
        run.rows_in = run.rows_out = rows.count()
        version = bl.build_and_store(ctx.lake, model, name, rows, run.notes, described)
        run.outputs[bl.TABLE] = ctx.lake.table(bl.TABLE).version()
        run.outputs[domain.SAMPLE_TABLE] = domain.store_sample(ctx.lake, model, name, version,
                                                               rows)
    return (f"baseline '{name}' version {version} of {model_id}: {run.rows_in} rows from "
            f"{described}; {'; '.join(run.notes)}")
