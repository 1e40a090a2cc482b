"""Fewer JVM round trips: many strings in one (a projection's expressions, a scan's
paths), and the key under which Columns built once may be kept.

py4j hands a Python list to the JVM one element at a time (`ArrayList.add`, a round trip
each), so `selectExpr(*exprs)` of 60 columns or a scan of 500 files paid 60 or 500 of
them before Spark saw the query. Here the strings travel joined, as one argument, and a
JVM `Pattern` compiled once per JVM splits them back: three round trips whatever their
number. Over Spark
Connect (no py4j) the plain calls are used, one message each.
"""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, DataFrameReader

_SEP = "\x1f"  # ASCII unit separator: in no path, expression or name the project writes


def select_text(frame: DataFrame, exprs: Sequence[str]) -> DataFrame:
    """`frame.selectExpr(*exprs)`."""
    seq = _seq(frame.sparkSession, exprs) if hasattr(frame, "_jdf") else None
    if seq is None:
        return frame.selectExpr(*exprs)
    return type(frame)(frame._jdf.selectExpr(seq), frame.sparkSession)


def read_parquet(reader: DataFrameReader, paths: Sequence[str]) -> DataFrame:
    """`reader.parquet(*paths)`."""
    spark = getattr(reader, "_spark", None)
    seq = _seq(spark, paths) if hasattr(reader, "_jreader") and spark is not None else None
    if seq is None:
        return reader.parquet(*paths)
    return DataFrame(reader._jreader.parquet(seq), spark)


def _seq(spark, items: Sequence[str]):
    """A Scala Seq of `items` built in the JVM, or None where py4j's list is as cheap or
    the separator cannot be used."""
    if len(items) < 4 or any(_SEP in item or not item for item in items):
        return None
    splitter, to_seq = _splitter(gateway_key(), spark)
    return to_seq(splitter.splitAsStream(_SEP.join(items)).toList())


_SPLITTERS: dict[int, tuple] = {}


def _splitter(gateway: int, spark) -> tuple:
    """The JVM's compiled separator and `PythonUtils.toSeq`, looked up once per JVM (a
    lookup by name is a round trip a dotted part)."""
    if gateway not in _SPLITTERS:
        jvm = spark._jvm
        _SPLITTERS[gateway] = (jvm.java.util.regex.Pattern.compile(_SEP), jvm.PythonUtils.toSeq)
    return _SPLITTERS[gateway]


def gateway_key() -> int:
    """Which JVM this process's Columns belong to (0 over Spark Connect, whose Columns
    are plain expressions): the key under which Columns built once may be kept. A
    Column names columns, not a frame's, so one built once serves every frame."""
    from pyspark import SparkContext

    gateway = getattr(SparkContext, "_gateway", None)
    return 0 if gateway is None else id(gateway)
