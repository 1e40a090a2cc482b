"""The rules compiled to Spark columns address a column by its name as written: a raw
table may hold names the ingest refuses today ('user.age', a backtick), and the
partition job types and quarantines its rows with these functions."""
from __future__ import annotations

import json

from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from inferwatch.ingest.rules import REASON, parsed, quarantine_rows, typed

NAMES = ["user.age", "a`b", "`x`"]


def test_rules_read_columns_named_with_dots_and_backticks(spark):
    schema = T.StructType([T.StructField(n, T.StringType()) for n in ["id", *NAMES]])
    rows = spark.createDataFrame([("r1", "3", "4.5", "x"), ("r2", None, "no", "y")], schema)
    got = typed(rows, [("user.age", T.DoubleType()), ("a`b", T.DoubleType())])
    want = T.StructType([T.StructField("id", T.StringType()),
                         T.StructField("user.age", T.DoubleType()),
                         T.StructField("a`b", T.DoubleType()),
                         T.StructField("`x`", T.StringType())])
    assertDataFrameEqual(got, spark.createDataFrame(
        [("r1", 3.0, 4.5, "x"), ("r2", None, None, "y")], want))
    assert rows.select(parsed("a`b", T.TimestampType())).first()[0] is None

    bad = quarantine_rows(rows.withColumn(REASON, F.lit("why")), "raw/inferences", "partition",
                          "run-1", ["id", *NAMES])
    assert sorted(json.loads(r["row"])["id"] for r in bad.collect()) == ["r1", "r2"]
    assert json.loads(bad.where(F.col("row").contains("r1")).first()["row"]) == {
        "id": "r1", "user.age": "3", "a`b": "4.5", "`x`": "x"}
