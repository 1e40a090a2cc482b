"""Compact `metrics/profile` rows from profile states (see `metrics.profile`)."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.metrics.profile import NUMERIC, OTHER, QUANTILES, TABLE_ROW, TOP_ITEMS

WINDOW_KEY = ["model_id", "granularity", "window_start", "slice_key", "slice_value"]
PROFILE_COLUMNS = (*WINDOW_KEY, "column", "kind", "count", "num_nulls", "num_nan", "num_inf",
                   "num_zeros", "avg", "stddev", "min", "max", "quantiles", "distinct_count",
                   "frequent_items", "avg_length", "min_length", "max_length",
                   "columns_present", "column_kinds")


def profile_metrics(states: DataFrame) -> DataFrame:
    """One row per (window, slice, column) plus a table row per (window, slice)."""
    n = F.col("n_finite")
    sketch_ok = (F.col("kind") == NUMERIC) & F.col("sketch").isNotNull() & (n > 0)
    top = F.slice(F.sort_array(
        F.transform(F.map_entries(F.map_filter("categories", lambda k, _v: k != OTHER)),
                    lambda e: F.struct((-e["value"]).alias("_o"), e["key"].alias("item"),
                                       e["value"].alias("count"))),
    ), 1, TOP_ITEMS)
    non_null = F.col("count") - F.col("num_nulls")
    columns = states.select(
        *WINDOW_KEY, "column", "kind", "count", "num_nulls", "num_nan", "num_inf", "num_zeros",
        F.col("mean").alias("avg"),
        F.when((n > 1) & F.col("m2").isNotNull(),
               F.sqrt(F.try_divide(F.greatest(F.col("m2"), F.lit(0.0)), n - 1)))
        .alias("stddev"),
        "min", "max",
        F.when(sketch_ok, F.kll_sketch_get_quantile_double(
            "sketch", F.array(*[F.lit(q) for q in QUANTILES]))).alias("quantiles"),
        F.when(F.col("hll").isNotNull(), F.hll_sketch_estimate("hll")).alias("distinct_count"),
        F.when(F.col("categories").isNotNull(), F.transform(
            top, lambda e: F.struct(e["item"].alias("item"), e["count"].alias("count"))))
        .alias("frequent_items"),
        F.try_divide(F.col("length_sum"), non_null).alias("avg_length"),
        F.col("length_min").alias("min_length"), F.col("length_max").alias("max_length"),
        F.lit(None).cast("array<string>").alias("columns_present"),
        F.lit(None).cast("string").alias("column_kinds"),
    )
    present = F.when(F.col("count") > F.col("num_nulls"), F.col("column"))
    table = states.groupBy(*WINDOW_KEY).agg(
        F.max("count").alias("count"),
        F.array_sort(F.collect_list(present)).alias("columns_present"),
        F.to_json(F.map_from_entries(F.array_sort(F.collect_list(
            F.struct("column", "kind"))))).alias("column_kinds"),
    ).select(*WINDOW_KEY, F.lit(TABLE_ROW).alias("column"), F.lit("table").alias("kind"),
             "count", "columns_present", "column_kinds")
    return columns.unionByName(table, allowMissingColumns=True).select(*PROFILE_COLUMNS)
