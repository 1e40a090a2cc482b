"""Scanning a snapshot's data files with Spark's vectorized Parquet reader."""
from __future__ import annotations

from collections.abc import Iterable
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.lake import files as lf
from inferwatch.lake.files import DataFile
from inferwatch.lake.jvm_text import read_parquet, select_text
from inferwatch.lake.schema import rows_frame
from inferwatch.lake.sql_text import sql_ident


def scan(spark: SparkSession, root: str, schema: T.StructType, part_cols: list[str],
         data_files: list[DataFile]) -> DataFrame:
    """The rows of `data_files` (paths relative to `root`, a URI) in the table's schema.

    Files whose folders Spark's partition discovery decodes to their logged partition
    values are read in one scan; the others (another writer's layout, or non-ASCII
    values %-escaped as UTF-8, which Spark decodes byte by byte) take the value from the
    log, one scan per partition.
    """
    if not data_files:  # driver rows Spark knows the size of (`staging.driver_rows`)
        return rows_frame(spark, [], schema)
    data_schema = T.StructType([f for f in schema.fields if f.name not in part_cols])
    if not part_cols:
        return read_parquet(spark.read.schema(data_schema), _abs(root, data_files))
    types = {f.name: f.dataType.typeName() for f in schema.fields}
    hive: list[DataFile] = []
    groups: dict[tuple, list[DataFile]] = {}
    for f in data_files:
        if _hive_consistent(f, part_cols, types):
            hive.append(f)
        else:
            groups.setdefault(tuple(f.partition[c] for c in part_cols), []).append(f)
    frames = []
    if hive:
        # Spark derives partition columns from the Hive-style folders, typed by the schema.
        ordered = T.StructType(data_schema.fields + [schema[c] for c in part_cols])
        read = read_parquet(spark.read.schema(ordered).option("basePath", root),
                            _abs(root, hive))
        frames.append(select_text(read, _columns(schema)))
    for values, group in groups.items():
        df = read_parquet(spark.read.schema(data_schema), _abs(root, group))
        for col, value in zip(part_cols, values):
            df = df.withColumn(col, F.lit(value).cast(schema[col].dataType))
        frames.append(select_text(df, _columns(schema)))
    return reduce(DataFrame.unionByName, frames)


def column(name: str) -> Column:
    """The top-level column `name`, whatever it holds: a plain name is parsed (`a.b` is
    field b of a struct a), so it is quoted, a backtick inside doubled."""
    return F.col("`" + name.replace("`", "``") + "`")


def _columns(schema: T.StructType) -> list[str]:
    # a raw table may hold a name the ingest rules refuse today (written before they did,
    # or by another writer): reading it must not fail every run of every job. As SQL
    # text: one JVM call a column, where a Column costs a dozen (`sql_text`)
    return [sql_ident(name) for name in schema.fieldNames()]


def _abs(root: str, data_files: Iterable[DataFile]) -> list[str]:
    return [f"{root}/{f.path}" for f in data_files]


def _hive_consistent(data_file: DataFile, part_cols: list[str], types: dict[str, str]) -> bool:
    """Whether Spark's partition discovery reads this file's logged partition values."""
    found = lf.hive_values(data_file.path, lf.spark_unescape)
    if list(found) != part_cols:
        return False
    try:
        return all(lf.parse_partition_value(found[c], types[c]) == data_file.partition[c]
                   for c in part_cols)
    except ValueError:  # a folder value that does not parse as the column's type
        return False
