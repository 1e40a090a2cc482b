"""Ingest: files (Parquet, CSV, JSON lines) or in-process records into `raw/*`.

One code path for both: every source is read as strings, checked against the required
columns and types, typed, and appended to `raw/inferences` or `raw/labels`; rows that
fail go to `quarantine` with every reason they failed. Re-ingesting the same files (or
the same records) is a no-op: each output commit carries their fingerprint as a Delta
app transaction, so a kill between the quarantine and the raw commit is healed by
running the same ingest again.

- Inferences: a model whose description says `prediction: score` has its `score`
  column taken as the prediction of its rows. Each model's numeric features must parse
  as numbers on that model's rows (a column is one type in the lake: on the rows of
  models that do not declare it numeric, a value that does not parse is stored null).
- Labels: a label that parses as a number is `label`; any other text is `label_class`
  (a class name, for multiclass models) with `label` null. NaN or infinite labels and
  predictions are quarantined.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.model_config import ModelConfig
from inferwatch.ingest.contract import text_rows
from inferwatch.ingest.contract import records as contract_records
from inferwatch.ingest.rows import (check_required, checked, spec, stamped, typed_rows,
                                    with_model_predictions, with_optional)
from inferwatch.ingest.rules import REASON, quarantine_rows
from inferwatch.ingest.sources import CORRUPT, check_columns, fingerprint, read_source
from inferwatch.runs import Run, track
from inferwatch.lake.tables import Lake

def ingest_files(lake: Lake, kind: str, paths: Sequence[str | Path],
                 models: Mapping[str, ModelConfig]) -> Run:
    """Ingest files of `kind` ('inferences' or 'labels'); returns the recorded run."""
    spec(kind)
    frames = []
    for path in map(str, paths):
        df = with_model_predictions(read_source(lake.spark, path), kind, models)
        check_required(df, kind, path)
        frames.append(df.withColumn("source", F.lit(path)))
    txn = f"ingest-{kind}-{fingerprint([str(p) for p in paths])}"
    return _ingest(lake, kind, frames, models, txn, {"paths": [str(p) for p in paths]})


def ingest_records(lake: Lake, kind: str, records: Iterable[Mapping[str, Any]] | Any,
                   models: Mapping[str, ModelConfig], source: str = "api") -> Run:
    """Ingest in-process records (dicts or a pandas DataFrame) through the same checks."""
    import pandas as pd

    spec(kind)
    rows = text_rows(contract_records(records))
    columns = list(dict.fromkeys(k for row in rows for k in row))
    check_columns(columns, source)
    pdf = pd.DataFrame(rows, columns=columns).astype(object)
    pdf = pdf.where(pdf.notna(), None)
    schema = T.StructType([T.StructField(c, T.StringType(), True) for c in columns])
    df = with_model_predictions(lake.spark.createDataFrame(pdf, schema=schema), kind, models)
    check_required(df, kind, source)
    content = hashlib.sha256(pdf.to_json(orient="split").encode()).hexdigest()[:16]
    return _ingest(lake, kind, [df.withColumn("source", F.lit(source))], models,
                   f"ingest-{kind}-records-{content}", {"records": len(pdf), "source": source})


def _ingest(lake: Lake, kind: str, frames: list[DataFrame], models: Mapping[str, ModelConfig],
            txn_id: str, params: dict[str, Any]) -> Run:
    table = spec(kind)["table"]
    raw, quarantine = lake.table(table), lake.table("quarantine")
    with track(lake, f"ingest-{kind}", params) as run:
        if raw.txn_version(txn_id) is not None:
            run.notes.append("this input was ingested before; nothing to do")
            return run
        df = frames[0]
        for frame in frames[1:]:
            df = df.unionByName(frame, allowMissingColumns=True)
        df = with_optional(df, kind)
        originals = [c for c in df.columns if c != CORRUPT]
        rows = checked(df, kind, models).persist()
        try:
            run.rows_in = df.count()  # the input itself, apart from the outcome split
            counts = dict(rows.groupBy(F.col(REASON).isNull()).count().collect())
            run.rows_out, run.rows_quarantined = counts.get(True, 0), counts.get(False, 0)
            run.check_accounting()
            txn = (txn_id, 1)
            if run.rows_quarantined and quarantine.txn_version(txn_id) is None:
                bad = quarantine_rows(rows.where(F.col(REASON).isNotNull()), table,
                                      run.job, run.run_id, originals)
                run.outputs["quarantine"] = quarantine.append(bad, txn=txn)
            good = typed_rows(kind, rows.where(F.col(REASON).isNull()).drop(REASON, CORRUPT),
                              models)
            run.outputs[table] = raw.append(stamped(good, run.started_at), txn=txn)
        finally:
            rows.unpersist()
    return run
