"""Settings scoped to a block, and interpreted expressions for runs of few rows."""
from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from inferwatch.scoped_conf import FACTORY_MODE, SMALL_RUN, scoped, sized

KEY = "spark.sql.codegen.maxFields"


def test_a_scoped_setting_is_undone_after_the_block_also_when_it_raises(spark):
    assert spark.conf.get(KEY, None) is None
    with pytest.raises(RuntimeError):
        with scoped(spark, {KEY: "4000"}):
            assert spark.conf.get(KEY) == "4000"
            raise RuntimeError("inside")
    assert spark.conf.get(KEY, None) is None  # absent again, not the default written in
    spark.conf.set(KEY, "150")
    try:
        with scoped(spark, {KEY: "4000"}):
            assert spark.conf.get(KEY) == "4000"
        assert spark.conf.get(KEY) == "150"
    finally:
        spark.conf.unset(KEY)


def test_a_small_run_is_interpreted_a_large_one_compiled_and_a_set_mode_wins(spark):
    with sized(spark, SMALL_RUN - 1):
        assert spark.conf.get(FACTORY_MODE) == "NO_CODEGEN"
    assert spark.conf.get(FACTORY_MODE, None) is None
    with sized(spark, SMALL_RUN):
        assert spark.conf.get(FACTORY_MODE, None) is None
    spark.conf.set(FACTORY_MODE, "CODEGEN_ONLY")  # as an environment file would set it
    try:
        with sized(spark, 10):
            assert spark.conf.get(FACTORY_MODE) == "CODEGEN_ONLY"
    finally:
        spark.conf.unset(FACTORY_MODE)


def test_interpreted_and_compiled_expressions_give_the_same_rows(spark):
    # the same values: counts exactly, sums of floats up to their rounding (the rows may
    # be added in another order)
    rows = spark.range(5000).select(
        (F.col("id") % 7).alias("k"), (F.col("id") * 0.37 - 11.5).alias("x"),
        F.when(F.col("id") % 13 == 0, None).otherwise(F.concat(F.lit("c"), F.col("id") % 5))
        .alias("c"))

    def query():
        return sorted(tuple(r) for r in rows.where(F.col("x") > -3).groupBy("k").agg(
            F.sum(F.col("x") * F.col("x")), F.stddev_samp("x"), F.count("c"),
            F.count_distinct("c"), F.max(F.length("c"))).collect())

    compiled = query()
    with sized(spark, 0):
        interpreted = query()
    assert len(compiled) == 7
    for a, b in zip(interpreted, compiled):
        assert (a[0], *a[3:]) == (b[0], *b[3:])
        assert a[1:3] == pytest.approx(b[1:3], rel=1e-12)
