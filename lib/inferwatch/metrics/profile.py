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

from inferwatch.metrics.maps import COUNTS
from inferwatch.metrics.windows import conform

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


def _numeric_aggregates(column: str) -> list[str]:
    """The state's aggregates of one numeric column, in `_NUMERIC_FIELDS` order, as SQL.

    Finite means below infinity in magnitude (NaN is not, in Spark): aggregates that hold
    sketches are not compiled but evaluated node by node, and this test costs half the
    spelled-out one. Distinct values of a double are counted by their 64-bit hash (a string
    cast of every value cost more than all other aggregates together); the hash of null is
    the seed, not null, so only finite values are hashed.
    """
    x = f"CAST({_ident(column)} AS DOUBLE)"
    finite = f"abs({x}) < double('inf')"
    value = f"CASE WHEN {finite} THEN {x} END"
    return [
        f"count_if({x} IS NULL)", f"count_if(isnan({x}))", f"count_if(abs({x}) = double('inf'))",
        f"count_if({x} = 0)", f"count({value})", f"avg({value})",
        f"var_pop({value}) * count({value})", f"min({value})", f"max({value})",
        f"kll_sketch_agg_double({value}, {KLL_K})",
        f"hll_sketch_agg(CASE WHEN {finite} THEN xxhash64({x}) END, {HLL_LG_K})",
    ]


def _numeric_state(rows: DataFrame, columns: Sequence[str]) -> DataFrame:
    """One aggregation over all numeric columns side by side (a melt to (column, value)
    pairs multiplied the rows by the column count), unpivoted to a row per column.

    Written as one SQL statement: built column by column with the DataFrame API, the
    ~300 expressions took ~14,000 calls into the JVM, 2-3 s before any row was read."""
    keys = ", ".join(_ident(k) for k in KEY)
    aggregates = ", ".join(["count(1) AS _rows"] + [
        f"{sql} AS _{i}_{field}" for i, column in enumerate(columns)
        for sql, field in zip(_numeric_aggregates(column), _NUMERIC_FIELDS, strict=True)])
    entries = ", ".join(
        "named_struct('column', {}, 'count', _rows, {})".format(
            sql_string(column), ", ".join(f"'{f}', _{i}_{f}" for f in _NUMERIC_FIELDS))
        for i, column in enumerate(columns))
    query = (f"SELECT {keys}, inline(array({entries})), '{NUMERIC}' AS kind FROM "
             f"(SELECT {keys}, {aggregates} FROM __rows__ GROUP BY {keys})")
    query = query.replace("{", "{{").replace("}", "}}").replace("__rows__", "{rows}")
    return rows.sparkSession.sql(query, rows=rows)


def _ident(name: str) -> str:
    """`name` as a quoted SQL identifier."""
    return "`" + name.replace("`", "``") + "`"


def sql_string(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


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
