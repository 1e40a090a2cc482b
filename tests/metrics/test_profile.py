"""Profile state, merge and metrics against numpy on the same rows."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from inferwatch.metrics.profile import (CATEGORY_CAP, OTHER, QUANTILES, TABLE_ROW,
                                        computed_state, profile_state)
from inferwatch.metrics.profile_merge import merge_profile
from inferwatch.metrics.profile_metrics import profile_metrics

UTC = timezone.utc
DAY = datetime(2026, 3, 2, tzinfo=UTC)
RANK_ERROR = 0.0133  # KLL k=200, 99% confidence


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(3)
    n = 6000
    x = rng.lognormal(3, 1, n)
    x[rng.random(n) < 0.05] = np.nan          # NaN
    x[rng.random(n) < 0.01] = np.inf          # infinities
    x[rng.random(n) < 0.02] = 0.0             # zeros
    missing = rng.random(n) < 0.03            # nulls
    cat = rng.choice(["DE", "FR", "GB", "US", "ÜBER"], n, p=[.4, .3, .15, .1, .05])
    rare = np.array([f"v{i}" for i in rng.integers(0, CATEGORY_CAP * 3, n)])
    frame = pd.DataFrame({
        "model_id": "m", "window_start": [DAY + timedelta(hours=int(h))
                                          for h in rng.integers(0, 24, n)],
        "slice_key": "*", "slice_value": "*",
        "amount": np.where(missing, None, x).astype(object),
        "country": np.where(rng.random(n) < 0.04, None, cat).astype(object),
        "rare": rare})
    return frame


def _frame(spark, frame):
    records = [tuple(v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in r)
               for r in frame.itertuples(index=False)]  # None stays null, NaN stays NaN
    return spark.createDataFrame(records, "model_id string, window_start timestamp, slice_key "
                                 "string, slice_value string, amount double, country string, "
                                 "rare string")


def _state(spark, frame):
    return profile_state(_frame(spark, frame), ["amount"], ["country", "rare"])


def _metrics(states, granularity):
    return {r["column"]: r.asDict() for r in profile_metrics(
        states.withColumn("granularity", F.lit(granularity))).collect()}


def _check_numeric(got, values):
    finite = values[np.isfinite(values)]
    assert got["count"] == len(values)
    assert got["num_inf"] == np.sum(np.isinf(values))
    assert got["num_zeros"] == np.sum(finite == 0)
    assert got["avg"] == pytest.approx(finite.mean(), rel=1e-12)
    assert got["stddev"] == pytest.approx(finite.std(ddof=1), rel=1e-9)
    assert (got["min"], got["max"]) == (finite.min(), finite.max())
    ranks = [np.mean(finite <= q) for q in got["quantiles"]]
    assert np.max(np.abs(np.array(ranks) - np.array(QUANTILES))) <= RANK_ERROR


def test_hourly_and_daily_profiles_equal_numpy_on_the_same_rows(spark, rows):
    hourly = _state(spark, rows).persist()
    day = merge_profile(hourly, "1d").persist()
    direct = _state(spark, rows.assign(window_start=DAY))
    amount = np.array([np.nan if v is None else v for v in rows["amount"]], dtype=float)
    for states in (day, direct):
        got = _metrics(states, "1d")
        _check_numeric(got["amount"], amount)
        nulls = sum(v is None for v in rows["amount"])
        assert got["amount"]["num_nulls"] == nulls
        assert got["amount"]["num_nan"] == sum(v is not None and np.isnan(v)
                                               for v in rows["amount"])
        counts = rows["country"].value_counts()
        assert got["country"]["num_nulls"] == rows["country"].isna().sum()
        assert [(i["item"], i["count"]) for i in got["country"]["frequent_items"]] == list(
            zip(counts.index, counts.to_numpy()))
        assert got["country"]["avg"] is None and got["country"]["stddev"] is None
        lengths = rows["country"].dropna().str.len()
        assert got["country"]["avg_length"] == pytest.approx(lengths.mean(), rel=1e-12)
        assert (got["country"]["min_length"], got["country"]["max_length"]) == (
            lengths.min(), lengths.max())
        distinct = rows["rare"].nunique()
        assert abs(got["rare"]["distinct_count"] - distinct) <= 0.05 * distinct
        table = got[TABLE_ROW]
        assert table["count"] == len(rows)
        assert table["columns_present"] == ["amount", "country", "rare"]
    # every hour of the day, directly
    for hour, part in rows.groupby("window_start"):
        got = {r["column"]: r for r in profile_metrics(
            hourly.where(F.col("window_start") == hour).withColumn(
                "granularity", F.lit("1h"))).collect()}
        assert got["country"]["count"] == len(part)
    hourly.unpersist()
    day.unpersist()


def test_nan_null_and_infinity_are_counted_apart(spark):
    frame = pd.DataFrame({"model_id": "m", "window_start": [DAY] * 5, "slice_key": "*",
                          "slice_value": "*",
                          "amount": pd.Series([None, float("nan"), float("inf"), 0.0, 2.0],
                                              dtype=object),
                          "country": ["a", None, "a", "b", "a"], "rare": "x"})
    got = _metrics(_state(spark, frame), "1h")["amount"]
    assert (got["count"], got["num_nulls"], got["num_nan"], got["num_inf"],
            got["num_zeros"]) == (5, 1, 1, 1, 1)
    assert (got["avg"], got["min"], got["max"]) == (1.0, 0.0, 2.0)


def test_any_column_name_is_profiled_as_it_is(spark):
    # braces, quotes, backticks and the text of a query placeholder in column names
    odd_numeric, odd_categorical = "amount {x} __rows__", "it's `c` {rows}"
    frame = pd.DataFrame({"model_id": "m", "window_start": [DAY] * 5, "slice_key": "*",
                          "slice_value": "*",
                          "amount": pd.Series([None, float("nan"), 0.0, 2.0, 4.0], dtype=object),
                          "country": ["a", None, "a", "b", "a"], "rare": "x"})
    rows = _frame(spark, frame).withColumnsRenamed(
        {"amount": odd_numeric, "country": odd_categorical})
    got = _metrics(profile_state(rows, [odd_numeric], [odd_categorical]), "1h")
    assert (got[odd_numeric]["num_nulls"], got[odd_numeric]["num_nan"],
            got[odd_numeric]["avg"]) == (1, 1, 2.0)
    assert got[odd_categorical]["num_nulls"] == 1
    assert {r["item"]: r["count"] for r in got[odd_categorical]["frequent_items"]} == {
        "a": 3, "b": 1}


def test_category_counts_are_capped_with_an_other_bucket_that_merges(spark, rows):
    hourly = _state(spark, rows)
    for states in (hourly, merge_profile(hourly, "1d"), merge_profile(
            merge_profile(hourly, "1d"), "1w")):
        maps = [r["categories"] for r in states.where(F.col("column") == "rare").collect()]
        for counts in maps:
            assert len([k for k in counts if k != OTHER]) <= CATEGORY_CAP
        total = sum(sum(m.values()) for m in maps)
        assert total == len(rows)  # nothing lost to the cap
    week = merge_profile(merge_profile(hourly, "1d"), "1w").where(F.col("column") == "rare")
    counts = week.first()["categories"]
    exact = rows["rare"].value_counts()
    kept = [k for k in counts if k != OTHER]
    # the kept values are counted exactly (the cap applies per hour, then again per day)
    assert all(counts[k] <= exact[k] for k in kept)
    assert counts[OTHER] == len(rows) - sum(counts[k] for k in kept)


def test_merging_in_any_grouping_gives_the_same_day(spark, rows):
    hourly = _state(spark, rows)
    once = _metrics(merge_profile(hourly, "1d"), "1d")
    halves = merge_profile(hourly.where(F.hour("window_start") < 12), "1d").unionByName(
        merge_profile(hourly.where(F.hour("window_start") >= 12), "1d"))
    twice = _metrics(merge_profile(halves, "1d"), "1d")
    for column in ("amount", "country"):
        for key in ("count", "num_nulls", "num_nan", "num_inf", "num_zeros", "min", "max"):
            assert once[column][key] == twice[column][key], (column, key)
    assert twice["amount"]["avg"] == pytest.approx(once["amount"]["avg"], rel=1e-12)
    assert twice["amount"]["stddev"] == pytest.approx(once["amount"]["stddev"], rel=1e-9)


def test_the_computed_state_is_compiled_the_same_and_leaves_the_session_as_it_was(
        spark, rows, monkeypatch):
    """12 numeric columns: their plain aggregates hold more fields than Spark compiles by
    default (100); `computed_state` compiles them for its own action only (the plan it
    materializes, seen as it runs)."""
    from inferwatch.frames import materialized, release
    from inferwatch.metrics import profile

    numeric = [f"amount_{i}" for i in range(12)]
    df = _frame(spark, rows)
    df = df.select("*", *[(F.col("amount") * (i + 1)).alias(c) for i, c in enumerate(numeric)])
    limit = "spark.sql.codegen.maxFields"
    before = spark.conf.get(limit)
    plans = []

    def seen(frame):
        out = materialized(frame)
        plans.append(frame._jdf.queryExecution().executedPlan().toString())  # as it ran
        return out

    monkeypatch.setattr(profile, "materialized", seen)
    state = computed_state(df, numeric, ["country"])
    try:
        assert spark.conf.get(limit) == before
        compiled = [line for line in plans[0].splitlines() if "*(" in line and "HashAggregate" in line]
        assert any("partial_var_pop" in line for line in compiled), "plain aggregates compiled"
        fields = [c for c in state.columns if c not in ("sketch", "hll")]
        got = {(r["window_start"], r["column"]): r for r in state.select(*fields).collect()}
        want = {(r["window_start"], r["column"]): r for r in
                profile_state(df, numeric, ["country"]).select(*fields).collect()}
        assert got.keys() == want.keys() and len(got) == 24 * 13
        for at, row in want.items():
            for name in fields:
                value = row[name]
                same = pytest.approx(value, rel=1e-12) if isinstance(value, float) else value
                assert got[at][name] == same, (at, name)
    finally:
        release(state)
