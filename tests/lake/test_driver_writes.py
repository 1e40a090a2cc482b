"""Small writes go through the driver (`lake.staging.driver_rows`): the table they leave is
the one a Spark write leaves (files, partition values, statistics, rows, as delta-rs reads
them), and only plans whose size is known without running a Spark job take that path."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pyarrow.parquet as pq
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.frames import materialized, release
from inferwatch.lake import staging
from inferwatch.lake.staging import driver_rows
from tests.lake.test_table import H10, H11, ODD, SCHEMA, _delta_rows, _row, _table

WIDE = T.StructType([*SCHEMA.fields, T.StructField("m", T.MapType(T.StringType(), T.LongType())),
                     T.StructField("b", T.BinaryType()), T.StructField("a", T.ArrayType(T.DoubleType()))])


def _rows(spark, folder):
    """Odd partition values (escaped characters, non-ASCII, null text, null hour), odd
    microseconds, nulls, a map, bytes and an array; read from Parquet files, as the
    pipeline reads its inputs."""
    keys = [(s, H10) for s in ODD] + [(None, H11), ("a", None), ("a", H11), ("a", H11)]
    rows = [(*_row(i, s, h), {f"k{i}": i, "z": None} if i % 2 else None,
             bytes([i, 0, 255]) if i % 3 else None, [i / 3, None] if i % 4 else None)
            for i, (s, h) in enumerate(keys)]
    spark.createDataFrame(rows, WIDE).write.parquet(str(folder))
    return spark.read.schema(WIDE).parquet(str(folder))


def _files(uri: str) -> list[tuple]:
    """(partition values, statistics (the record count among them) but a binary column's
    null count, Parquet schema but Spark's metadata) of each file in the log, sorted:
    Spark's Parquet writer counts no nulls of a binary column, Arrow's does."""
    out = []
    for log in sorted(Path(uri, "_delta_log").glob("*.json")):
        for line in log.read_text().splitlines():
            add = json.loads(line).get("add")
            if add is None:
                continue
            stats = json.loads(add["stats"])
            stats.get("nullCount", {}).pop("b", None)
            schema = pq.read_schema(f"{uri}/{unquote(add['path'])}").remove_metadata()
            out.append((json.dumps(add["partitionValues"], sort_keys=True),
                        json.dumps(stats, sort_keys=True), str(schema)))
    return sorted(out)


def test_a_write_by_the_driver_leaves_the_table_a_spark_write_leaves(spark, tmp_path,
                                                                     monkeypatch):
    df = _rows(spark, tmp_path / "rows")
    assert driver_rows(df) is not None  # a scan of small files: its size is known
    by_driver = _table(spark, tmp_path, "driver", WIDE)
    by_driver.append(df)
    monkeypatch.setattr(staging, "DRIVER_WRITE_BYTES", -1)
    assert driver_rows(df) is None
    by_spark = _table(spark, tmp_path, "spark", WIDE)
    by_spark.append(df)

    columns = WIDE.fieldNames()
    assert _delta_rows(by_driver.uri, columns) == _delta_rows(by_spark.uri, columns)
    assert len(_delta_rows(by_driver.uri, columns)) == df.count()
    assert _files(by_driver.uri) == _files(by_spark.uri)
    assert len(_files(by_driver.uri)) == 6  # one file a partition, nulls included
    assert [tuple(r) for r in by_driver.read().orderBy("id").collect()] == \
        [tuple(r) for r in by_spark.read().orderBy("id").collect()]


def test_only_plans_of_known_size_are_written_by_the_driver(spark, tmp_path, monkeypatch):
    table = _table(spark, tmp_path)
    table.append(spark.createDataFrame([_row(i, "a", H10) for i in range(50)], SCHEMA))
    files = table.read()
    assert driver_rows(files) is not None  # a scan of small files
    assert driver_rows(files.where("v > 1").select("id", "v")) is not None
    assert driver_rows(files.groupBy("s").count()) is not None
    # an anti or semi join keeps rows of its left side, whatever its right side reads
    keys = spark.createDataFrame([(1,)], "id long")  # rows from Python: size unknown
    assert driver_rows(files.join(keys, "id", "left_anti")) is not None
    assert driver_rows(keys) is None
    # a materialized frame: Spark estimates it as the plan that computed it, the driver
    # takes the size the block manager holds, as long as it holds all of it
    stored = materialized(files.groupBy("s").count())
    assert driver_rows(stored.unionByName(files.select("s", F.col("id").alias("count")))) \
        is not None
    # but not what a step that may yield more rows or wider ones makes of them
    assert driver_rows(stored.groupBy("s").agg(F.collect_list("count"))) is None
    release(stored)
    assert driver_rows(stored) is None
    # a join's or a generator's output may outgrow its inputs; a range has no files
    assert driver_rows(files.join(files.select("id"), "id")) is None
    assert driver_rows(files.select(F.explode(F.array("v", "v")).alias("v"))) is None
    assert driver_rows(spark.range(5)) is None
    monkeypatch.setattr(staging, "DRIVER_WRITE_BYTES", 100)
    assert driver_rows(files) is None  # more than the bound
