"""What ingest does to a source's rows, wherever they come from (files, in-process
records, a model's raw Delta table read in place by the partition job): required columns,
each model's prediction column, the rules whose failures quarantine a row, the types
the accepted rows are stored with, and the time they were taken in."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.ingest.contract import KINDS
from inferwatch.ingest.rules import (Rule, feature_rules, finite, parsed, parses, required,
                                     typed, with_reasons)
from inferwatch.ingest.sources import CORRUPT, IngestError, shown
from inferwatch.model_config import ModelConfig

SPARK_TYPES = {"timestamp": T.TimestampType(), "double": T.DoubleType()}


def spec(kind: str) -> dict[str, Any]:
    if kind not in KINDS:
        raise IngestError(f"unknown kind '{kind}'; expected one of {', '.join(KINDS)}")
    return KINDS[kind]


def with_model_predictions(df: DataFrame, kind: str,
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


def check_required(df: DataFrame, kind: str, where: str) -> None:
    needed = spec(kind)["required"]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        note = (" (a model's `prediction:` column counts as prediction for its rows)"
                if kind == "inferences" else "")
        raise IngestError(f"{shown(where)}: missing required columns {missing}; {kind} need "
                          f"{', '.join(needed)}{note}")


def with_optional(df: DataFrame, kind: str) -> DataFrame:
    """The kind's optional columns a source lacks, as nulls."""
    missing = [c for c in spec(kind)["optional"] if c not in df.columns]
    return df.withColumns({c: F.lit(None).cast("string") for c in missing}) if missing else df


def checked(df: DataFrame, kind: str, models: Mapping[str, ModelConfig],
            extra: list[Rule] = ()) -> DataFrame:
    """`df` (every column text) with REASON: every ingest rule a row breaks, or null."""
    return with_reasons(df, [*_rules(kind, df, models), *extra])


def typed_rows(kind: str, good: DataFrame, models: Mapping[str, ModelConfig]) -> DataFrame:
    """Accepted rows in the types the raw table stores."""
    kinds = {c: SPARK_TYPES[t] for c, t in spec(kind)["types"].items()}
    if kind == "inferences":
        kinds.update({c: T.DoubleType() for m in models.values() for c in m.numeric
                      if c in good.columns})
        return typed(good, kinds.items())
    number = parsed("label", T.DoubleType())
    text = F.trim(F.col("label"))
    return typed(good, kinds.items()).withColumns({
        "label": number, "label_class": F.when(number.isNull(), text)})


def stamped(good: DataFrame, at: datetime | Column) -> DataFrame:
    """The time the rows were taken in (a time, or a column of each row's): `ingested_at`
    and its date."""
    good = good.withColumn("ingested_at", at if isinstance(at, Column)
                           else F.lit(at).cast("timestamp"))
    return good.withColumn("ingest_date", F.to_date("ingested_at"))


def _rules(kind: str, df: DataFrame, models: Mapping[str, ModelConfig]) -> list[Rule]:
    wanted = spec(kind)
    rules = [required(c) for c in wanted["required"]]
    rules += [parses(c, SPARK_TYPES[t]) for c, t in wanted["types"].items()]
    if kind == "inferences":
        rules += [finite("prediction"), *feature_rules(models, df.columns)]
    else:
        rules.append(finite("label"))
    if CORRUPT in df.columns:
        rules.append(Rule(F.col(CORRUPT).isNotNull(),
                          F.concat(F.lit("malformed JSON line: "),
                                   F.substring(F.col(CORRUPT), 1, 80))))
    return rules
