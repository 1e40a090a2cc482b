"""Leave-one-out references for calibrating a baseline (`metrics.baseline.calibrate`):
for each hour of a model's baseline, the merged profile state of every other hour.

Merging every other hour for each hour costs H^2 state merges per slice and column: a
month of hours is 518,000 merges a key, the bulk of a long baseline's build. Here the
hours go in blocks of about sqrt(H): each block is merged once, then for each block the
merge of every other block, and an hour's reference is that merge plus the other hours
of its own block - about 3 H sqrt(H) merges in three aggregations (a month: 59,000 a
key). The states merged are the same, only their order differs, which moves a KLL
sketch's quantiles within its stated rank error.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from inferwatch.metrics.profile import STATE_SCHEMA
from inferwatch.metrics.profile_merge import merge_keyed

COLUMNS = STATE_SCHEMA.fieldNames()


def references(hourly: DataFrame) -> DataFrame:
    """Per (model_id, window_start = a held-out hour, slice, column): the merged state of
    the model's other hours in `hourly` (profile states, one per hour)."""
    hours = hourly.select("model_id", "window_start").distinct()
    order = Window.partitionBy("model_id").orderBy("window_start")
    numbered = (hours.withColumn("_i", F.row_number().over(order) - 1)
                .withColumn("_n", F.count(F.lit(1)).over(Window.partitionBy("model_id")))
                .select("model_id", F.col("window_start").alias("_hour"),
                        F.floor(F.col("_i") / F.ceil(F.sqrt("_n"))).alias("_block")))
    return _merged(hourly, numbered)


def _merged(hourly: DataFrame, numbered: DataFrame) -> DataFrame:
    states = hourly.join(F.broadcast(numbered.withColumnRenamed("_hour", "window_start")),
                         on=["model_id", "window_start"])
    blocks = merge_keyed(states.withColumn("window_start", F.timestamp_seconds("_block"))
                         .select(*COLUMNS)).withColumnRenamed("window_start", "_from")
    targets = numbered.select("model_id", F.col("_block").alias("_to")).distinct()
    others = merge_keyed(
        blocks.join(F.broadcast(targets), on="model_id")
        .where(F.col("_from") != F.timestamp_seconds("_to"))
        .withColumn("window_start", F.timestamp_seconds("_to")).select(*COLUMNS))
    # an hour's reference: every other block, and the other hours of its own block
    held = numbered.select("model_id", "_hour", F.timestamp_seconds("_block").alias("_b"))
    outside = (others.join(F.broadcast(held), (others["model_id"] == held["model_id"])
                           & (others["window_start"] == held["_b"]))
               .select(*[others[c] for c in COLUMNS if c != "window_start"],
                       F.col("_hour").alias("window_start")))
    inside = (states.alias("s").join(
        F.broadcast(numbered.alias("h")),
        (F.col("s.model_id") == F.col("h.model_id")) & (F.col("s._block") == F.col("h._block"))
        & (F.col("s.window_start") != F.col("h._hour")))
        .select(*[F.col(f"s.{c}") for c in COLUMNS if c != "window_start"],
                F.col("h._hour").alias("window_start")))
    return merge_keyed(outside.select(*COLUMNS).unionByName(inside.select(*COLUMNS)))
