"""Maps of counts in state columns: summed key by key when states merge."""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.lake.sql_text import sql_ident, sql_type

COUNTS = T.MapType(T.StringType(), T.LongType())


def sum_maps(maps: Column, kind: T.MapType = COUNTS) -> Column:
    """Aggregate: key-wise sum of maps of numbers; null when all are null."""
    empty = F.create_map().cast(kind)
    total = F.aggregate(
        F.collect_list(maps), empty,
        lambda acc, m: F.map_zip_with(
            acc, m, lambda _k, a, b: F.coalesce(a, F.lit(0).cast(kind.valueType))
            + F.coalesce(b, F.lit(0).cast(kind.valueType))
        ),
    )
    return F.when(F.count(maps) > 0, sorted_map(total))


def summed_map(name: str, kind: T.MapType = COUNTS) -> Column:
    """`sum_maps` of the map column `name` as one SQL expression: a few JVM calls where
    the Column form costs about a hundred (`lake.sql_text`)."""
    zero = f"CAST(0 AS {sql_type(kind.valueType)})"
    col = sql_ident(name)
    total = (f"aggregate(collect_list({col}), CAST(map() AS {sql_type(kind)}), (acc, m) -> "
             f"map_zip_with(acc, m, (k, a, b) -> coalesce(a, {zero}) + coalesce(b, {zero})))")
    return F.expr(f"CASE WHEN count({col}) > 0 THEN "
                  f"map_from_entries(sort_array(map_entries({total}))) END")


def sorted_map(counts: Column) -> Column:
    """Entries in key order, so that equal states are equal byte for byte."""
    return F.map_from_entries(F.sort_array(F.map_entries(counts)))
