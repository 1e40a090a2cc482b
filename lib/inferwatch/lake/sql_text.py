"""Projections written as SQL text: a name quoted, a string literal, a type, a cast.

A `Column` built in Python costs the driver a round trip to the JVM per call: `F.col`
about 13, `F.col(c).cast(t).alias(c)` about 40 (measured with pyspark 4.2). A job on a
few thousand rows made 30,000 of them, most of its time. `DataFrame.selectExpr` takes
the whole projection as text: one call per column, the parsing done in the JVM.
"""
from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import DataFrame
from pyspark.sql import types as T

from inferwatch.lake.jvm_text import select_text


def sql_ident(name: str) -> str:
    """`name` as a quoted SQL identifier (a dot or a backtick in it stays the name's)."""
    return "`" + name.replace("`", "``") + "`"


def sql_string(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


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
