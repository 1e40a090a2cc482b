"""`frames.materialized`: a frame computed once, read back as a leaf over its rows;
`frames.release` drops them at once."""
from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from inferwatch.frames import materialized, release


def _stored(spark) -> int:
    return spark.sparkContext._jsc.getPersistentRDDs().size()


def test_a_materialized_frame_holds_the_same_rows_in_a_leaf_plan_until_released(spark):
    before = _stored(spark)
    wide = (spark.range(200).groupBy((F.col("id") % 7).alias("k"))
            .agg(F.sum("id").alias("s"), F.collect_list("id").alias("ids")))
    frame = materialized(wide)
    assert frame._jdf.queryExecution().logical().getClass().getSimpleName() == "LogicalRDD"
    assert _stored(spark) == before + 1
    want = sorted((r.k, r.s, sorted(r.ids)) for r in wide.collect())
    assert sorted((r.k, r.s, sorted(r.ids)) for r in frame.collect()) == want
    assert sorted((r.k, r.s, sorted(r.ids)) for r in frame.collect()) == want  # read again
    release(frame)
    assert _stored(spark) == before


def test_a_plan_that_fails_fails_where_it_is_materialized_and_leaves_nothing(spark):
    before = _stored(spark)
    with pytest.raises(Exception, match="too big"):
        materialized(spark.range(5).select(
            F.when(F.col("id") > 2, F.raise_error(F.lit("too big"))).otherwise(F.col("id"))))
    assert _stored(spark) == before
