"""Slices: the whole model (`'*'`), each `slices` expression of the model, `model_version`.

A row belongs to one slice per key; a missing value is the null slice value (not the
string "null"). An expression that does not analyse against the rows is skipped with a
note, so one bad slice never stops a model's metrics.
"""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inferwatch.model_config import ModelConfig


def slice_specs(rows: DataFrame, model: ModelConfig, notes: list[str]) -> list[tuple[str, Column]]:
    """(slice_key, value column) pairs of `model` over `rows`."""
    specs = [("*", F.lit("*"))]
    for expression in model.slices:
        try:
            rows.select(F.expr(expression)).schema  # analysis only, no Spark job
        except Exception as err:  # noqa: BLE001 - a bad slice must not stop the others
            notes.append(f"{model.model_id}: slice '{expression}' skipped: {str(err)[:120]}")
            continue
        specs.append((expression, F.expr(expression).cast("string")))
    specs.append(("model_version", F.col("model_version")))
    return specs


def sliced(rows: DataFrame, model: ModelConfig, notes: list[str],
           extra: Sequence[str] = ()) -> DataFrame:
    """One row per (inference, slice it belongs to), with `window_start` = its hour,
    carrying the prediction and label columns and the `extra` columns asked for."""
    pairs = F.array(*[
        F.struct(F.lit(key).alias("slice_key"), value.cast("string").alias("slice_value"))
        for key, value in slice_specs(rows, model, notes)
    ])
    carried = [c for c in ("prediction", "prediction_label", "label", "label_class", "delay_s",
                           *extra) if c in rows.columns]
    carried = list(dict.fromkeys(carried))
    expected = [c for c in rows.columns if c == "_q" or c.startswith("_e_")]
    return (rows.withColumn("_slice", F.explode(pairs))
            .select("model_id", F.col("hour").alias("window_start"), "_slice.slice_key",
                    "_slice.slice_value", *carried, *expected))
