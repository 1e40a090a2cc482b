"""A model's raw inferences or labels kept in a Delta table another system writes
(`inferences_table:` / `labels_table:` in its model file), checked as ingest checks a
file's rows.

The rows come typed as that system wrote them (timestamp or timestamp_ntz, integers,
floats); they are taken as text, exactly as a file's columns are, so the same rules
quarantine the same rows with the same reasons and the accepted rows are stored in the
same types (`ingest.rows`). A row without a `model_id` is the model's; a row naming
another model is quarantined (the table is this model's log).
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.ingest.rows import (check_required, checked, stamped, typed_rows,
                                    with_model_predictions, with_optional)
from inferwatch.ingest.rules import REASON, Rule
from inferwatch.lake.foreign import ARRIVED
from inferwatch.lake.scan import column
from inferwatch.model_config import ModelConfig


def as_text(rows: DataFrame) -> DataFrame:
    """Every column as text, as ingest reads a file (but ARRIVED, the reader's own)."""
    return rows.select(*[column(c) if c == ARRIVED else column(c).cast("string").alias(c)
                         for c in rows.columns])


def checked_rows(rows: DataFrame, kind: str, model: ModelConfig,
                 models: Mapping[str, ModelConfig], where: str) -> DataFrame:
    """The table's rows of `kind` as text with REASON (null: accepted), as ingest checks
    a file; a table without the required columns is refused in one line naming it."""
    text = as_text(rows)
    own = F.lit(model.model_id)
    text = text.withColumn("model_id", F.coalesce(F.col("model_id"), own)
                           if "model_id" in text.columns else own)
    text = with_optional(with_model_predictions(text, kind, models), kind)
    check_required(text, kind, where)
    other = Rule(F.coalesce(F.col("model_id") != own, F.lit(False)),
                 F.concat(F.lit("model_id '"), F.substring("model_id", 1, 60),
                          F.lit(f"' in the {kind} table of model '{model.model_id}'")))
    return checked(text, kind, models, [other])


def accepted(rows: DataFrame, kind: str, models: Mapping[str, ModelConfig], at: datetime,
             source: str) -> DataFrame:
    """The accepted rows of `checked_rows`, typed and stamped as the raw table of `kind`
    holds them (`source`: the table they came from): taken in when the table's log
    added them (ARRIVED), so the earliest copy of a row wins whichever batch reads it."""
    good = typed_rows(kind, rows.where(F.col(REASON).isNull()).drop(REASON), models)
    arrived = F.coalesce(ARRIVED, F.lit(at).cast("timestamp"))
    return stamped(good, arrived).withColumn("source", F.lit(source)).drop(ARRIVED)
