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

All columns and slices are profiled at once, never one Spark job per column: numeric
columns by two aggregations with every column's aggregates side by side (the plain ones,
compiled under `computed_state`, and the sketches, which Spark never compiles), joined and
unpivoted; categorical columns melted into (column, value) pairs and counted. Distinct
numeric values are counted by their 64-bit hash (`xxhash64`), so the HLL of a numeric
column only unions with others built the same way.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from inferwatch.frames import materialized
from inferwatch.lake.sql_text import sql_ident, sql_string
from inferwatch.metrics.maps import COUNTS
from inferwatch.scoped_conf import scoped
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


def profile_state(rows: DataFrame, numeric: Sequence[str],
                  categorical: Sequence[str]) -> DataFrame:
    """Hourly profile state of sliced rows (`KEY` columns plus the profiled columns)."""
    parts = []
    if numeric:
        parts.append(_numeric_state(rows, numeric))
    if categorical:
        parts.append(_categorical_state(rows, categorical))
    if not parts:
        return rows.sparkSession.createDataFrame([], STATE_SCHEMA)
    out = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1], allowMissingColumns=True)
    return conform(out, STATE_SCHEMA)


def _numeric_inputs(i: int, column: str) -> list[str]:
    """What the aggregates of numeric column number `i` read, as SQL projections: `_x{i}`
    the value, `_v{i}` the finite value (below infinity in magnitude; NaN is not, in
    Spark), `_h{i}` its 64-bit hash for the HLL (a string cast of every value cost more
    than all other aggregates together; the hash of null is the seed, not null, so only
    finite values are hashed)."""
    x = f"CAST({sql_ident(column)} AS DOUBLE)"
    finite = f"abs({x}) < double('inf')"
    return [f"{x} AS _x{i}", f"CASE WHEN {finite} THEN {x} END AS _v{i}",
            f"CASE WHEN {finite} THEN xxhash64({x}) END AS _h{i}"]


def _numeric_aggregates(i: int) -> tuple[dict[str, str], dict[str, str]]:
    """(plain, sketches): the aggregates of numeric column number `i` over its
    `_numeric_inputs`, by the aggregated field (`_{i}_{field}`), as SQL."""
    x, v, h = f"_x{i}", f"_v{i}", f"_h{i}"
    plain = {"num_nulls": f"count_if({x} IS NULL)", "num_nan": f"count_if(isnan({x}))",
             "num_zeros": f"count_if({x} = 0)", "n_finite": f"count({v})", "sum": f"sum({v})",
             "m2": f"var_pop({v}) * count({v})", "min": f"min({v})", "max": f"max({v})"}
    sketches = {"sketch": f"kll_sketch_agg_double({v}, {KLL_K})",
                "hll": f"hll_sketch_agg({h}, {HLL_LG_K})"}
    return plain, sketches


def _numeric_fields(i: int) -> dict[str, str]:
    """The state's fields of numeric column number `i` from its aggregated ones. Two are
    derived rather than aggregated, exactly (fewer aggregates, a cheaper profile): rows
    are null, NaN, infinite or finite, so the infinities are what the other three leave;
    the mean is the sum over the count, as `avg` computes it."""
    fields = {f: f"_{i}_{f}" for side in _numeric_aggregates(i) for f in side if f != "sum"}
    fields["num_inf"] = f"_rows - _{i}_num_nulls - _{i}_num_nan - _{i}_n_finite"
    fields["mean"] = f"CASE WHEN _{i}_n_finite > 0 THEN _{i}_sum / _{i}_n_finite END"
    return fields


def _numeric_state(rows: DataFrame, columns: Sequence[str]) -> DataFrame:
    """Two aggregations over all numeric columns side by side (a melt to (column, value)
    pairs multiplied the rows by the column count), joined and unpivoted to a row per
    column: the plain aggregates (counts, moments, min, max), which Spark compiles under
    `computed_state`, and the sketches, which it never compiles (in one aggregation
    with the sketches, the plain ones were evaluated expression by expression too, at
    twice the cost of a second read of the columns). Both read their inputs from one
    projection below them, which Spark compiles: evaluated inside the sketches'
    aggregation, the same inputs cost it a quarter more (a sixth of the whole profile).

    Written as SQL: built column by column with the DataFrame API, the ~300 expressions
    took ~14,000 calls into the JVM, 2-3 s before any row was read."""
    keys = ", ".join(sql_ident(k) for k in KEY)
    inputs = [sql for i, column in enumerate(columns) for sql in _numeric_inputs(i, column)]
    plain, sketches = ["count(1) AS _rows"], []
    for i in range(len(columns)):
        for aggregates, side in zip(_numeric_aggregates(i), (plain, sketches), strict=True):
            side += [f"{sql} AS _{i}_{field}" for field, sql in aggregates.items()]
    entries = ", ".join(
        "named_struct('column', {}, 'count', _rows, {})".format(
            sql_string(column),
            ", ".join(f"'{f}', {sql}" for f, sql in _numeric_fields(i).items()))
        for i, column in enumerate(columns))
    same = " AND ".join(f"p.{k} <=> s.{k}" for k in map(sql_ident, KEY))
    return sql_over(rows, lambda view: (
        f"WITH x AS (SELECT {keys}, {', '.join(inputs)} FROM {view}) "
        f"SELECT {', '.join(f'p.{k}' for k in map(sql_ident, KEY))}, "
        f"inline(array({entries})), '{NUMERIC}' AS kind FROM "
        f"(SELECT {keys}, {', '.join(plain)} FROM x GROUP BY {keys}) p JOIN "
        f"(SELECT {keys}, {', '.join(sketches)} FROM x GROUP BY {keys}) s "
        f"ON {same}"))


# Spark compiles a plan only up to this many fields (default 100): the plain aggregates
# hold ~10 per numeric column. Raised for the profile's own action only, since raised
# for the session it makes every wide plan's generated code larger.
_CODEGEN_FIELDS = ("spark.sql.codegen.maxFields", 4000)


def computed_state(rows: DataFrame, numeric: Sequence[str],
                   categorical: Sequence[str]) -> DataFrame:
    """`profile_state`, computed at once with its plain aggregates compiled."""
    return computed(rows.sparkSession, lambda: profile_state(rows, numeric, categorical))


def computed(spark: SparkSession, states: Callable[[], DataFrame]) -> DataFrame:
    """The profile state `states()` builds (one model's, or several models' unioned),
    computed at once with its plain aggregates compiled (`frames.materialized`)."""
    key, fields = _CODEGEN_FIELDS
    with scoped(spark, {key: str(fields)}):
        return materialized(states())


def sql_over(rows: DataFrame, query: Callable[[str], str]) -> DataFrame:
    """The SQL `query(view)` over `rows`, handed to `spark.sql` as a DataFrame argument:
    classic Spark registers it as a view while the query is analysed, Spark Connect sends
    the rows' plan along with the text (a view this function dropped would be gone when
    Connect's lazily analysed query runs). The text is built with a unique token for the
    view and every other brace doubled, so a column name with braces or with the
    placeholder's own text in it cannot break `str.format`."""
    token = f"_inferwatch_rows_{uuid.uuid4().hex}"
    text = query(token).replace("{", "{{").replace("}", "}}").replace(token, "{rows}")
    return rows.sparkSession.sql(text, rows=rows)


def _categorical_state(rows: DataFrame, columns: Sequence[str]) -> DataFrame:
    """Categorical columns melted into (column number, value) pairs, counted per value,
    then per column: totals, the capped category map (`capped_categories`), HLL, string
    lengths. The column is keyed by its number, named after the counting (keyed by its
    name, the categorical part cost an eighth more)."""
    keys = ", ".join(sql_ident(k) for k in KEY)
    pairs = ", ".join(f"named_struct('c', {j}, 'x', CAST({sql_ident(c)} AS STRING))"
                      for j, c in enumerate(columns))
    names = ", ".join(sql_string(c) for c in columns)
    counted = sql_over(rows, lambda view: f"""
SELECT {keys}, element_at(array({names}), c + 1) AS `column`, '{CATEGORICAL}' AS kind,
  sum(n) AS `count`,
  sum(CASE WHEN x IS NULL THEN n ELSE 0 END) AS num_nulls,
  sum(CASE WHEN x IS NOT NULL THEN n ELSE 0 END) AS n_finite,
  map_from_entries(collect_list(CASE WHEN x IS NOT NULL THEN struct(x, n) END)) AS _summed,
  hll_sketch_agg(x, {HLL_LG_K}) AS hll, sum(length(x) * n) AS length_sum,
  min(length(x)) AS length_min, max(length(x)) AS length_max
FROM (SELECT {keys}, c, x, count(1) AS n
      FROM (SELECT {keys}, inline(array({pairs})) FROM {view})
      GROUP BY {keys}, c, x)
GROUP BY {keys}, c""")
    return capped_categories(counted).drop("_summed")


_OTHER = sql_string(OTHER)
# values ranked by (-count, value): their natural order as structs, by `sort_array`, which
# compares with compiled code (`array_sort` calls a comparator lambda for each comparison,
# even its default one: the hourly categorical state cost a quarter more, 8.4 vs 6.0-7.1
# CPU-s on the benchmark's 1M rows)
_RANKED = f"""sort_array(transform(
    filter(map_entries(_summed), e -> e.key != {_OTHER}),
    e -> named_struct('o', -e.value, 'v', e.key)))"""
# the `CATEGORY_CAP` first, the rest added to the `OTHER` count already there
_CAPPED = f"""map_concat(
    map_from_entries(transform(slice(_ranked, 1, {CATEGORY_CAP}), e -> struct(e.v, -e.o))),
    map({_OTHER}, coalesce(element_at(_summed, {_OTHER}), 0L)
        + aggregate(slice(_ranked, {CATEGORY_CAP + 1}, 1073741824), 0L, (acc, e) -> acc - e.o)))"""
# sorted by value; `OTHER` only when it counts something
_SORTED = f"""map_from_entries(sort_array(map_entries(
    map_filter(_capped, (k, v) -> k != {_OTHER} OR v > 0))))"""


def capped_categories(frame: DataFrame) -> DataFrame:
    """`frame` with `categories`: its `_summed` map of value counts (null for a numeric
    column) capped to the `CATEGORY_CAP` largest counts (ties by value), the rest summed
    under `OTHER`. One definition for the hourly state and every merge."""
    return (frame.selectExpr("*", f"{_RANKED} AS _ranked")
            .selectExpr("*", f"{_CAPPED} AS _capped")
            .selectExpr("*", f"CASE WHEN _summed IS NOT NULL THEN {_SORTED} END AS categories")
            .drop("_ranked", "_capped"))
