"""Merging profile states (see `metrics.profile`): hours into days and weeks, or any
states that share a key (baselines).

Counts sum, moments merge exactly (Chan et al.'s pairwise update, no sum of squares that
cancels), KLL and HLL sketches merge with the fixed `KLL_K` and `HLL_LG_K`, category
counts sum key by key and are capped again at `CATEGORY_CAP` (the values that fall out
join the `OTHER` count they already had). HLL sketches of different lgConfigK do not
union: every state is built with `HLL_LG_K`.

The merge is one SQL statement: built with the DataFrame API, its lambdas and ~100
expressions took ~3,000 calls into the JVM, about 0.6 s per merge before any row moved.
"""
from __future__ import annotations

from pyspark.sql import DataFrame

from inferwatch.lake.jvm_text import select_text
from inferwatch.lake.sql_text import sql_ident
from inferwatch.metrics.profile import KLL_K, NUMERIC, STATE_SCHEMA, capped_categories
from inferwatch.granularity import check_granularity
from inferwatch.metrics.window_store import window_column
from inferwatch.metrics.windows import conform

_GROUP = ("model_id", "window_start", "slice_key", "slice_value", "column", "kind")
_SUMS = ("count", "num_nulls", "num_nan", "num_inf", "num_zeros", "length_sum")
_EMPTY = "CAST(map() AS map<string, bigint>)"

# Chan et al.: (n, mean, m2) of two parts; `acc` and `e` are structs of the three
_ADD = """named_struct(
    'n', acc.n + e.n,
    'mean', acc.mean + (e.mean - acc.mean) * e.n / (acc.n + e.n),
    'm2', acc.m2 + e.m2 + (e.mean - acc.mean) * (e.mean - acc.mean) * acc.n * e.n
          / (acc.n + e.n))"""

_MERGE = f"""
SELECT {", ".join(_GROUP)},
  {", ".join(f"sum({sql_ident(c)}) AS {sql_ident(c)}" for c in _SUMS)},
  aggregate(
    collect_list(CASE WHEN n_finite > 0 THEN named_struct(
      'n', CAST(n_finite AS DOUBLE), 'mean', mean, 'm2', coalesce(m2, 0D)) END),
    named_struct('n', 0D, 'mean', 0D, 'm2', 0D), (acc, e) -> {_ADD}) AS _m,
  min(`min`) AS `min`, max(`max`) AS `max`,
  kll_merge_agg_double(sketch, {KLL_K}) AS sketch,
  hll_union_agg(hll) AS hll,
  CASE WHEN count(categories) > 0 THEN aggregate(collect_list(categories), {_EMPTY},
    (acc, m) -> map_zip_with(acc, m, (k, a, b) -> coalesce(a, 0L) + coalesce(b, 0L)))
  END AS _summed,
  min(length_min) AS length_min, max(length_max) AS length_max,
  sum(coalesce(n_finite, 0)) AS n_finite
FROM {{states}}
GROUP BY {", ".join(_GROUP)}"""

_FINAL = (
    f"CASE WHEN kind = '{NUMERIC}' THEN sketch END AS sketch",
    f"CASE WHEN kind = '{NUMERIC}' AND n_finite > 0 THEN _m.mean END AS mean",
    f"CASE WHEN kind = '{NUMERIC}' AND n_finite > 0 THEN _m.m2 END AS m2")


def merge_profile(states: DataFrame, granularity: str) -> DataFrame:
    """Add hourly (or daily) states up into day ("1d") or ISO-week ("1w") windows."""
    check_granularity(granularity)
    return merge_keyed(states.withColumn("window_start",
                                         window_column("window_start", granularity)))


def merge_keyed(states: DataFrame) -> DataFrame:
    """Merge the states that share (model_id, window_start, slice, column): the caller
    sets `window_start` to the window each state belongs to."""
    merged = states.sparkSession.sql(_MERGE, states=states)
    merged = capped_categories(merged)
    merged = select_text(merged, [*[sql_ident(c) for c in merged.columns if c not in (
        "sketch", "_m", "_summed")], *_FINAL])
    return conform(merged, STATE_SCHEMA)
