"""The profile family: what every feature, the prediction and the label look like.

State (`state/profile`), one row per (model, window, slice, column), mergeable:
counts (rows, nulls, NaN, infinities, zeros, finite values), moments (mean and the sum
of squared deviations `m2`, merged exactly with Chan's formula), min and max, a KLL
sketch of the finite values (k = `KLL_K` = 200: quantiles within 1.33% of rank, CDF
and PMF within 1.65%, at 99% confidence), an HLL sketch of the distinct values
(lgConfigK = `HLL_LG_K` = 12, about 1.6% relative error; fixed for every merge, since
sketches of different lgConfigK do not union), exact category counts capped at
`CATEGORY_CAP` values (the rest summed under `OTHER`), and string lengths.

Metrics (`metrics/profile`), compact, shaped like Databricks' `profile_metrics`: the
counts, `avg`, `stddev`, `min`, `max`, `quantiles` at `QUANTILES`, `distinct_count`,
`frequent_items` (top `TOP_ITEMS`), string lengths; and per (window, slice) a table
row (`column` = `TABLE_ROW`) with the row count, the columns present and their kinds.

All columns and slices are profiled in one pass: numeric columns by one aggregation with
every column's aggregates side by side (then unpivoted), categorical columns melted into
(column, value) pairs and counted. Distinct numeric values are counted by their 64-bit
hash (`xxhash64`), so the HLL of a numeric column only unions with others built the same way.
"""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.metrics.maps import COUNTS, sum_maps
from inferwatch.metrics.windows import check_granularity, conform, window_column

KLL_K = 200
HLL_LG_K = 12
CATEGORY_CAP = 100
OTHER = "__other__"
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP_ITEMS = 10
TABLE_ROW = ":table"
NUMERIC, CATEGORICAL = "numeric", "categorical"
KEY = ["model_id", "window_start", "slice_key", "slice_value"]

_S, _L, _D = T.StringType(), T.LongType(), T.DoubleType()
STATE_SCHEMA = T.StructType([T.StructField(n, t) for n, t in [
    ("model_id", _S), ("window_start", T.TimestampType()), ("slice_key", _S),
    ("slice_value", _S), ("column", _S), ("kind", _S), ("count", _L), ("num_nulls", _L),
    ("num_nan", _L), ("num_inf", _L), ("num_zeros", _L), ("n_finite", _L), ("mean", _D),
    ("m2", _D), ("min", _D), ("max", _D), ("sketch", T.BinaryType()),
    ("hll", T.BinaryType()), ("categories", COUNTS), ("length_sum", _L),
    ("length_min", _L), ("length_max", _L)]])
_SUMS = ("count", "num_nulls", "num_nan", "num_inf", "num_zeros", "length_sum")


def profiled_columns(model, columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """(numeric, categorical) columns of `model` present in `columns`: its features,
    the prediction and the label (for multiclass, also the class-name columns)."""
    have = set(columns)
    numeric = [c for c in (*model.numeric, "prediction", "label") if c in have]
    categorical = [c for c in (*model.categorical, "prediction_label", "label_class")
                   if c in have and c not in numeric]
    if model.problem_type != "multiclass_classification":
        categorical = [c for c in categorical if c not in ("prediction_label", "label_class")]
    return list(dict.fromkeys(numeric)), list(dict.fromkeys(categorical))


def _melt(rows: DataFrame, columns: Sequence[str]) -> DataFrame:
    pairs = F.explode(F.array(*[
        F.struct(F.lit(c).alias("column"), F.col(c).cast(_S).alias("x")) for c in columns]))
    return rows.select(*KEY, pairs.alias("_p")).select(*KEY, "_p.column", "_p.x")


def profile_state(rows: DataFrame, numeric: Sequence[str],
                  categorical: Sequence[str]) -> DataFrame:
    """Hourly profile state of sliced rows (`KEY` columns plus the profiled columns)."""
    parts = []
    if numeric:
        parts.append(_numeric_state(rows, numeric))
    if categorical:
        parts.append(_categorical_state(_melt(rows, categorical)))
    if not parts:
        return rows.sparkSession.createDataFrame([], STATE_SCHEMA)
    out = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1], allowMissingColumns=True)
    return conform(out, STATE_SCHEMA)


_NUMERIC_FIELDS = ("num_nulls", "num_nan", "num_inf", "num_zeros", "n_finite", "mean", "m2",
                   "min", "max", "sketch", "hll")


def _numeric_aggregates(column: str) -> list[Column]:
    """The state's aggregates of one numeric column, in `_NUMERIC_FIELDS` order."""
    x = F.col(column).cast(_D)
    nan = F.isnan(x)
    inf = x.isin(float("inf"), float("-inf"))
    finite = F.when(x.isNotNull() & ~nan & ~inf, x)
    return [
        F.count_if(x.isNull()), F.count_if(nan), F.count_if(inf), F.count_if(finite == 0),
        F.count(finite), F.avg(finite), F.var_pop(finite) * F.count(finite),
        F.min(finite), F.max(finite),
        F.kll_sketch_agg_double(finite, KLL_K),
        # distinct values of a double, counted by their 64-bit hash (a string cast of every
        # value cost more than all other aggregates together)
        F.hll_sketch_agg(F.xxhash64(finite), HLL_LG_K),
    ]


def _numeric_state(rows: DataFrame, columns: Sequence[str]) -> DataFrame:
    """One aggregation over all numeric columns side by side (a melt to (column, value)
    pairs multiplied the rows by the column count), unpivoted to a row per column."""
    aggs = [F.count(F.lit(1)).alias("_rows")]
    for i, column in enumerate(columns):
        aggs += [a.alias(f"_{i}_{f}") for a, f in zip(_numeric_aggregates(column),
                                                       _NUMERIC_FIELDS, strict=True)]
    wide = rows.groupBy(*KEY).agg(*aggs)
    per_column = F.array(*[
        F.struct(F.lit(c).alias("column"), F.col("_rows").alias("count"),
                 *[F.col(f"_{i}_{f}").alias(f) for f in _NUMERIC_FIELDS])
        for i, c in enumerate(columns)])
    return wide.select(*KEY, F.inline(per_column)).withColumn("kind", F.lit(NUMERIC))


def _categorical_state(melted: DataFrame) -> DataFrame:
    per_value = melted.groupBy(*KEY, "column", "x").agg(F.count(F.lit(1)).alias("n"))
    value = F.col("x")
    entry = F.when(value.isNotNull(), F.struct((-F.col("n")).alias("o"), value.alias("v")))
    return per_value.groupBy(*KEY, "column").agg(
        F.lit(CATEGORICAL).alias("kind"),
        F.sum("n").alias("count"),
        F.sum(F.when(value.isNull(), F.col("n")).otherwise(0)).alias("num_nulls"),
        F.sum(F.when(value.isNotNull(), F.col("n")).otherwise(0)).alias("n_finite"),
        _capped(F.collect_list(entry)).alias("categories"),
        F.hll_sketch_agg(value, HLL_LG_K).alias("hll"),
        F.sum(F.length(value) * F.col("n")).alias("length_sum"),
        F.min(F.length(value)).alias("length_min"),
        F.max(F.length(value)).alias("length_max"),
    )


def _capped(entries: Column) -> Column:
    """Map of the `CATEGORY_CAP` largest counts (ties by value) plus `OTHER` for the rest,
    from an array of (o = -count, v = value) structs: their natural order is the ranking
    (a lambda comparator sorted three times slower)."""
    ordered = F.array_sort(entries)
    kept = F.slice(ordered, 1, CATEGORY_CAP)
    rest = F.aggregate(F.slice(ordered, CATEGORY_CAP + 1, 1 << 30), F.lit(0).cast(_L),
                       lambda acc, e: acc - e["o"])
    top = F.map_from_entries(F.transform(kept, lambda e: F.struct(e["v"], -e["o"])))
    other = F.when(F.size(ordered) > CATEGORY_CAP,
                   F.create_map(F.lit(OTHER), rest)).otherwise(F.create_map().cast(COUNTS))
    return F.map_from_entries(F.array_sort(F.map_entries(F.map_concat(top, other))))


def _recap(counts: Column) -> Column:
    """A summed category map capped again (merged hours may hold more values)."""
    entries = F.filter(F.map_entries(counts), lambda e: e["key"] != OTHER)
    as_pairs = F.transform(entries, lambda e: F.struct((-e["value"]).alias("o"),
                                                       e["key"].alias("v")))
    capped = _capped(as_pairs)
    carried = F.coalesce(F.element_at(counts, F.lit(OTHER)), F.lit(0).cast(_L))
    total_other = carried + F.coalesce(F.element_at(capped, F.lit(OTHER)), F.lit(0).cast(_L))
    without = F.map_filter(capped, lambda k, _v: k != OTHER)
    return F.when(counts.isNotNull(), F.map_from_entries(F.array_sort(F.map_entries(
        F.map_concat(without, F.when(total_other > 0, F.create_map(F.lit(OTHER), total_other))
                     .otherwise(F.create_map().cast(COUNTS)))))))


def merge_profile(states: DataFrame, granularity: str) -> DataFrame:
    """Add hourly (or daily) states up into day ("1d") or ISO-week ("1w") windows: counts
    sum, moments merge exactly (Chan et al.), sketches merge with the same k/lgConfigK."""
    check_granularity(granularity)
    return merge_keyed(states.withColumn("window_start",
                                         window_column("window_start", granularity)))


def merge_keyed(states: DataFrame) -> DataFrame:
    """Merge the states that share (model_id, window_start, slice, column): the caller
    sets `window_start` to the window each state belongs to."""
    group = ["model_id", "window_start", "slice_key", "slice_value", "column", "kind"]
    merged = states.groupBy(*group).agg(
        *[F.sum(c).alias(c) for c in _SUMS],
        _moments(F.collect_list(F.when(F.col("n_finite") > 0, F.struct(
            F.col("n_finite").cast(_D).alias("n"), F.col("mean").alias("mean"),
            F.coalesce(F.col("m2"), F.lit(0.0)).alias("m2"))))).alias("_m"),
        F.min("min").alias("min"), F.max("max").alias("max"),
        F.kll_merge_agg_double("sketch", KLL_K).alias("sketch"),
        F.hll_union_agg("hll").alias("hll"),
        _recap(sum_maps(F.col("categories"))).alias("categories"),
        F.min("length_min").alias("length_min"), F.max("length_max").alias("length_max"),
        F.sum(F.coalesce(F.col("n_finite"), F.lit(0))).alias("n_finite"),
    )
    numeric = F.col("kind") == NUMERIC
    moments = numeric & (F.col("n_finite") > 0)  # categorical columns have none
    return conform(merged.withColumns({
        "sketch": F.when(numeric, F.col("sketch")),
        "mean": F.when(moments, F.col("_m.mean")), "m2": F.when(moments, F.col("_m.m2"))}),
        STATE_SCHEMA)


def _moments(parts: Column) -> Column:
    """Count, mean and m2 of the union of parts, folded pairwise with Chan et al.'s update
    (exact up to rounding: no sum of squares that cancels)."""
    zero = F.struct(F.lit(0.0).alias("n"), F.lit(0.0).alias("mean"), F.lit(0.0).alias("m2"))

    def add(acc: Column, e: Column) -> Column:
        n = acc["n"] + e["n"]
        delta = e["mean"] - acc["mean"]
        return F.struct(n.alias("n"), (acc["mean"] + delta * e["n"] / n).alias("mean"),
                        (acc["m2"] + e["m2"] + delta * delta * acc["n"] * e["n"] / n)
                        .alias("m2"))

    return F.aggregate(parts, zero, add)
