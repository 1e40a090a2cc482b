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
from inferwatch.ingest.contract import KINDS, text_rows
from inferwatch.ingest.contract import records as contract_records
from inferwatch.ingest.rules import (
    REASON,
    Rule,
    feature_rules,
    finite,
    parsed,
    parses,
    quarantine_rows,
    required,
    typed,
    with_reasons,
)
from inferwatch.ingest.sources import (
    CORRUPT,
    IngestError,
    check_columns,
    fingerprint,
    read_source,
    shown,
)
from inferwatch.runs import Run, track
from inferwatch.lake.tables import Lake

SPARK_TYPES = {"timestamp": T.TimestampType(), "double": T.DoubleType()}


def ingest_files(lake: Lake, kind: str, paths: Sequence[str | Path],
                 models: Mapping[str, ModelConfig]) -> Run:
    """Ingest files of `kind` ('inferences' or 'labels'); returns the recorded run."""
    _spec(kind)
    frames = []
    for path in map(str, paths):
        df = _with_model_predictions(read_source(lake.spark, path), kind, models)
        _check_required(df, kind, path)
        frames.append(df.withColumn("source", F.lit(path)))
    txn = f"ingest-{kind}-{fingerprint([str(p) for p in paths])}"
    return _ingest(lake, kind, frames, models, txn, {"paths": [str(p) for p in paths]})


def ingest_records(lake: Lake, kind: str, records: Iterable[Mapping[str, Any]] | Any,
                   models: Mapping[str, ModelConfig], source: str = "api") -> Run:
    """Ingest in-process records (dicts or a pandas DataFrame) through the same checks."""
    import pandas as pd

    _spec(kind)
    rows = text_rows(contract_records(records))
    columns = list(dict.fromkeys(k for row in rows for k in row))
    check_columns(columns, source)
    pdf = pd.DataFrame(rows, columns=columns).astype(object)
    pdf = pdf.where(pdf.notna(), None)
    schema = T.StructType([T.StructField(c, T.StringType(), True) for c in columns])
    df = _with_model_predictions(lake.spark.createDataFrame(pdf, schema=schema), kind, models)
    _check_required(df, kind, source)
    content = hashlib.sha256(pdf.to_json(orient="split").encode()).hexdigest()[:16]
    return _ingest(lake, kind, [df.withColumn("source", F.lit(source))], models,
                   f"ingest-{kind}-records-{content}", {"records": len(pdf), "source": source})


def _spec(kind: str) -> dict[str, Any]:
    if kind not in KINDS:
        raise IngestError(f"unknown kind '{kind}'; expected one of {', '.join(KINDS)}")
    return KINDS[kind]


def _with_model_predictions(df: DataFrame, kind: str,
                            models: Mapping[str, ModelConfig]) -> DataFrame:
    """`prediction` from each model's own `prediction:` column, on that model's rows."""
    if kind != "inferences" or "model_id" not in df.columns:
        return df
    own = {m.model_id: m.prediction for m in models.values()
           if m.prediction != "prediction" and m.prediction in df.columns}
    if not own:
        return df
    value = F.col("prediction") if "prediction" in df.columns else F.lit(None).cast("string")
    for model_id, column in own.items():
        value = F.when(F.col("model_id") == model_id, F.col(f"`{column}`")).otherwise(value)
    return df.withColumn("prediction", value)


def _check_required(df: DataFrame, kind: str, where: str) -> None:
    needed = _spec(kind)["required"]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        note = (" (a model's `prediction:` column counts as prediction for its rows)"
                if kind == "inferences" else "")
        raise IngestError(f"{shown(where)}: missing required columns {missing}; {kind} need "
                          f"{', '.join(needed)}{note}")


def _rules(kind: str, df: DataFrame, models: Mapping[str, ModelConfig]) -> list[Rule]:
    spec = _spec(kind)
    rules = [required(c) for c in spec["required"]]
    rules += [parses(c, SPARK_TYPES[t]) for c, t in spec["types"].items()]
    if kind == "inferences":
        rules += [finite("prediction"), *feature_rules(models, df.columns)]
    else:
        rules.append(finite("label"))
    if CORRUPT in df.columns:
        rules.append(Rule(F.col(CORRUPT).isNotNull(),
                          F.concat(F.lit("malformed JSON line: "),
                                   F.substring(F.col(CORRUPT), 1, 80))))
    return rules


def _typed(kind: str, good: DataFrame, models: Mapping[str, ModelConfig]) -> DataFrame:
    kinds = {c: SPARK_TYPES[t] for c, t in _spec(kind)["types"].items()}
    if kind == "inferences":
        kinds.update({c: T.DoubleType() for m in models.values() for c in m.numeric
                      if c in good.columns})
        return typed(good, kinds.items())
    number = parsed("label", T.DoubleType())
    text = F.trim(F.col("label"))
    return typed(good, kinds.items()).withColumns({
        "label": number, "label_class": F.when(number.isNull(), text)})


def _ingest(lake: Lake, kind: str, frames: list[DataFrame], models: Mapping[str, ModelConfig],
            txn_id: str, params: dict[str, Any]) -> Run:
    spec = _spec(kind)
    raw, quarantine = lake.table(spec["table"]), lake.table("quarantine")
    with track(lake, f"ingest-{kind}", params) as run:
        if raw.txn_version(txn_id) is not None:
            run.notes.append("this input was ingested before; nothing to do")
            return run
        df = frames[0]
        for frame in frames[1:]:
            df = df.unionByName(frame, allowMissingColumns=True)
        for column in spec["optional"]:
            if column not in df.columns:
                df = df.withColumn(column, F.lit(None).cast("string"))
        originals = [c for c in df.columns if c != CORRUPT]
        checked = with_reasons(df, _rules(kind, df, models)).persist()
        try:
            run.rows_in = df.count()  # the input itself, apart from the outcome split
            counts = dict(checked.groupBy(F.col(REASON).isNull()).count().collect())
            run.rows_out, run.rows_quarantined = counts.get(True, 0), counts.get(False, 0)
            run.check_accounting()
            txn = (txn_id, 1)
            if run.rows_quarantined and quarantine.txn_version(txn_id) is None:
                bad = quarantine_rows(checked.where(F.col(REASON).isNotNull()), spec["table"],
                                      run.job, run.run_id, originals)
                run.outputs["quarantine"] = quarantine.append(bad, txn=txn)
            good = _typed(kind, checked.where(F.col(REASON).isNull()).drop(REASON, CORRUPT),
                          models)
            good = good.withColumn("ingested_at", F.lit(run.started_at).cast("timestamp"))
            good = good.withColumn("ingest_date", F.to_date("ingested_at"))
            run.outputs[spec["table"]] = raw.append(good, txn=txn)
        finally:
            checked.unpersist()
    return run
