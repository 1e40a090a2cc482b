"""Scanning a snapshot's files: a table that holds column names the ingest rules refuse
(written by another writer, or before the rules refused them) is still read whole, in
both of the scan's ways (partition values from Hive-style folders, or from the log)."""
from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from inferwatch.lake import Table

NAMES = ["user.age", "a`b", "`", "x.`y`.z"]  # what Spark would parse as nested or quoted


@pytest.mark.parametrize("part", ["2026-03-02", "zürich"],  # a non-ASCII folder value is
                         ids=["hive-folders", "values-from-the-log"])  # read from the log
def test_a_table_holding_names_the_rules_refuse_is_read(spark, lake_dir, part):
    data = pa.table({"inference_id": ["a", "b"], **{n: [1.5, None] for n in NAMES},
                     "part": [part, part]})
    write_deltalake(str(lake_dir / "raw"), data, partition_by=["part"])  # no rule asked
    got = Table(spark, str(lake_dir / "raw")).read()
    schema = T.StructType([T.StructField("inference_id", T.StringType()),
                           *[T.StructField(n, T.DoubleType()) for n in NAMES],
                           T.StructField("part", T.StringType())])
    assert got.columns == [f.name for f in schema.fields]
    assertDataFrameEqual(got, spark.createDataFrame(
        [("a", *[1.5] * len(NAMES), part), ("b", *[None] * len(NAMES), part)], schema))


def test_a_partition_column_with_such_a_name_is_read(spark, lake_dir):
    data = pa.table({"id": [1, 2], "day.of`x": [date(2026, 3, 2), date(2026, 3, 3)]})
    write_deltalake(str(lake_dir / "t"), data, partition_by=["day.of`x"])
    got = Table(spark, str(lake_dir / "t")).read()
    assert sorted(map(tuple, got.collect())) == [(1, date(2026, 3, 2)), (2, date(2026, 3, 3))]
