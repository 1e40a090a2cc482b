"""Compact `metrics/profile` rows from profile states (see `metrics.profile`)."""
from __future__ import annotations

import functools

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.lake.jvm_text import gateway_key, select_text
from inferwatch.lake.sql_text import sql_ident
from inferwatch.metrics.profile import NUMERIC, OTHER, QUANTILES, TABLE_ROW, TOP_ITEMS

WINDOW_KEY = ["model_id", "granularity", "window_start", "slice_key", "slice_value"]
PROFILE_COLUMNS = (*WINDOW_KEY, "column", "kind", "count", "num_nulls", "num_nan", "num_inf",
                   "num_zeros", "avg", "stddev", "min", "max", "quantiles", "distinct_count",
                   "frequent_items", "avg_length", "min_length", "max_length",
                   "columns_present", "column_kinds")


def profile_metrics(states: DataFrame) -> DataFrame:
    """One row per (window, slice, column) plus a table row per (window, slice)."""
    column_rows, table_aggregates, table_row = _projections(gateway_key())
    columns = states.select(*column_rows)
    table = states.groupBy(*WINDOW_KEY).agg(*table_aggregates).select(*table_row)
    return select_text(columns.unionByName(table, allowMissingColumns=True),
                       [sql_ident(c) for c in PROFILE_COLUMNS])


@functools.cache
def _projections(_gateway: int) -> tuple[tuple, tuple, tuple]:
    """The column rows' projection, the table row's aggregates and its projection, built
    once per JVM: as Columns they are ~1,000 JVM calls, and they name state columns, not
    a frame's, so the same ones serve every frame."""
    n = F.col("n_finite")
    sketch_ok = (F.col("kind") == NUMERIC) & F.col("sketch").isNotNull() & (n > 0)
    top = F.slice(F.sort_array(
        F.transform(F.map_entries(F.map_filter("categories", lambda k, _v: k != OTHER)),
                    lambda e: F.struct((-e["value"]).alias("_o"), e["key"].alias("item"),
                                       e["value"].alias("count"))),
    ), 1, TOP_ITEMS)
    non_null = F.col("count") - F.col("num_nulls")
    column_rows = (
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
    table_aggregates = (
        F.max("count").alias("count"),
        F.array_sort(F.collect_list(present)).alias("columns_present"),
        F.to_json(F.map_from_entries(F.array_sort(F.collect_list(
            F.struct("column", "kind"))))).alias("column_kinds"),
    )
    table_row = (*WINDOW_KEY, F.lit(TABLE_ROW).alias("column"), F.lit("table").alias("kind"),
                 "count", "columns_present", "column_kinds")
    return _columns(column_rows), table_aggregates, _columns(table_row)


def _columns(items: tuple) -> tuple:
    return tuple(F.col(c) if isinstance(c, str) else c for c in items)
