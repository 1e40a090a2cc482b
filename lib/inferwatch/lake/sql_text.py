"""Projections written as SQL text: a name quoted, a string literal, a type, a cast.

A `Column` built in Python costs the driver a round trip to the JVM per call: `F.col`
about 13, `F.col(c).cast(t).alias(c)` about 40 (measured with pyspark 4.2). A job on a
few thousand rows made 30,000 of them, most of its time. `DataFrame.selectExpr` takes
the whole projection as text: one call per column, the parsing done in the JVM.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import types as T

from inferwatch.lake.jvm_text import select_text


def sql_ident(name: str) -> str:
    """`name` as a quoted SQL identifier (a dot or a backtick in it stays the name's)."""
    return "`" + name.replace("`", "``") + "`"


def sql_string(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_double(value: float) -> str:
    """A finite `value` as an exact SQL double literal (a bare `0.1` is a decimal in Spark
    SQL; Python's repr reads back as the same double in Java)."""
    text = f"{float(value)!r}D"
    return f"({text})" if text.startswith("-") else text


def sql_in(name: str, values: Iterable[str]) -> str:
    """SQL text: column `name` is one of the string `values` (false for none). `isin`
    builds a Column a value, a few JVM calls each: a fleet's model ids were hundreds."""
    listed = ", ".join(sql_string(v) for v in values)
    return f"{sql_ident(name)} IN ({listed})" if listed else "false"


def sql_type(data_type: T.DataType) -> str | None:
    """`data_type` as SQL, or None when SQL cannot say it: a nested type whose elements,
    values or fields are not nullable (a SQL type's always are)."""
    if isinstance(data_type, T.StructType):
        fields = [(f.name, sql_type(f.dataType), f.nullable) for f in data_type.fields]
        if any(t is None or not nullable for _n, t, nullable in fields):
            return None
        return "struct<" + ",".join(f"{sql_ident(n)}:{t}" for n, t, _ in fields) + ">"
    if isinstance(data_type, T.ArrayType):
        inner = sql_type(data_type.elementType)
        return f"array<{inner}>" if inner and data_type.containsNull else None
    if isinstance(data_type, T.MapType):
        key, value = sql_type(data_type.keyType), sql_type(data_type.valueType)
        if key is None or value is None or not data_type.valueContainsNull:
            return None
        return f"map<{key},{value}>"
    return data_type.simpleString()


def conformed(frame: DataFrame, schema: T.StructType, present: Iterable[str] | None = None
              ) -> DataFrame:
    """`frame` as `schema`'s columns in order, each cast to its type (a column `frame`
    lacks is a typed null), in one projection."""
    have = set(frame.columns if present is None else present)
    exprs = []
    for field in schema.fields:
        name, target = sql_ident(field.name), sql_type(field.dataType)
        if target is None:  # what SQL cannot say: as Columns
            return _conformed_columns(frame, schema, have)
        exprs.append(f"CAST({name if field.name in have else 'NULL'} AS {target}) AS {name}")
    return select_text(frame, exprs)


def _conformed_columns(frame: DataFrame, schema: T.StructType, have: set[str]) -> DataFrame:
    from pyspark.sql import functions as F

    return frame.select(*[
        (F.col(sql_ident(f.name)) if f.name in have else F.lit(None)).cast(f.dataType)
        .alias(f.name) for f in schema.fields])


def joined_beside(left: DataFrame, right: DataFrame, keys: Sequence[str], how: str = "inner",
                  also: str = "", right_columns: Sequence[str] | None = None) -> DataFrame:
    """`left` joined with `right` where each of `keys` is equal or null on both sides (and
    the SQL condition `also`, naming the sides `l.` and `r.`): `left`'s columns, then
    `right_columns` of `right` (default: those `left` lacks). Written as SQL text over
    the two sides' aliases, which also tells apart the sides of a frame joined with
    itself."""
    from pyspark.sql import functions as F

    on = [f"l.{sql_ident(k)} <=> r.{sql_ident(k)}" for k in keys] + ([also] if also else [])
    joined = left.alias("l").join(right.alias("r"), on=F.expr(" AND ".join(on)), how=how)
    left_columns = left.columns
    if right_columns is None:
        right_columns = [c for c in right.columns if c not in left_columns]
    return select_text(joined, [*[f"l.{sql_ident(c)}" for c in left_columns],
                                *[f"r.{sql_ident(c)}" for c in right_columns]])
