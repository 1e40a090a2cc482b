"""A suite suggested from the scenario's default baseline passes a clean hour and fails
the unit change and the stale feature in the hour each starts."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from inferwatch.context import open_context
from inferwatch.quality.hour import validate_hour
from inferwatch.quality.suggest import suggest


@pytest.fixture(scope="module")
def setup(spark, scenario_lake):
    ctx = open_context("conf/local.yaml", lake=str(scenario_lake),
                       models_dir=scenario_lake.parent / "input" / "models", spark=spark)
    manifest = json.loads((scenario_lake.parent / "input" / "manifest.json").read_text())
    table = ctx.lake.table("baselines")
    rows = table.read(partitions=[{"model_id": "eta", "name": "default"}])
    return ctx, manifest, suggest(ctx.models["eta"], rows, "default")


def _failed(ctx, specs, hour: datetime) -> set[tuple]:
    version = ctx.lake.table("inferences").version()
    got, _ = validate_hour(ctx.lake, ctx.models["eta"], "eta", specs, hour, version)
    return {(r[4], r[5]) for r in got if not r[7]}


def _onset(manifest, kind: str) -> datetime:
    inc = next(i for i in manifest["incidents"] if i["kind"] == kind and i["model_id"] == "eta")
    return datetime.fromisoformat(inc["onset"].replace("Z", "+00:00"))


def test_every_expectation_says_where_it_comes_from(setup):
    _ctx, _manifest, specs = setup
    assert len(specs) > 20
    assert all({"baseline", "version", "statistic", "value", "margin"} <= set(s["meta"])
               for s in specs)
    kinds = {s["type"] for s in specs}
    assert {"expect_compound_columns_to_be_unique", "expect_column_values_to_not_be_null",
            "expect_column_values_to_be_between", "expect_column_values_to_be_in_set",
            "expect_column_stdev_to_be_between", "expect_table_row_count_to_be_between",
            "expect_column_values_to_be_of_type", "expect_table_columns_to_match_set",
            "expect_column_mean_to_be_between", "expect_column_median_to_be_between"} <= kinds


def test_a_clean_hour_passes_and_incidents_fail_in_their_first_hour(setup):
    ctx, manifest, specs = setup
    assert _failed(ctx, specs, datetime(2026, 3, 3, 12, tzinfo=timezone.utc)) == set()
    unit = _failed(ctx, specs, _onset(manifest, "unit_change"))
    assert any(column == "distance_km" for _t, column in unit), unit
    stale = _failed(ctx, specs, _onset(manifest, "stale_feature"))
    assert ("expect_column_stdev_to_be_between", "courier_load") in stale, stale


def test_a_one_hour_baseline_bounds_the_mean_by_standard_errors(setup):
    """One baseline hour is no range of hourly means: the band was [m, m], and the very
    hour it came from failed it by rounding. Now m +- 4 standard errors of that hour."""
    from pyspark.sql import functions as F

    ctx, _manifest, _specs = setup
    rows = ctx.lake.table("baselines").read(partitions=[{"model_id": "eta", "name": "default"}])
    first = rows.where(F.col("scope") == "1h").agg(F.min("window_start")).first()[0]
    one_hour = rows.where((F.col("scope") != "1h") | (F.col("window_start") == first))
    specs = suggest(ctx.models["eta"], one_hour, "default")
    hour = {r["column"]: r for r in one_hour.where(
        (F.col("scope") == "1h") & (F.col("slice_key") == "*")).collect()}
    whole = {r["column"]: r for r in one_hour.where(
        (F.col("scope") == "all") & (F.col("slice_key") == "*")).collect()}
    means = [s for s in specs if s["type"] == "expect_column_mean_to_be_between"]
    assert means
    for spec in means:
        column, kwargs = spec["kwargs"]["column"], spec["kwargs"]
        mean, n = hour[column]["mean"], hour[column]["n_finite"]
        std = (whole[column]["m2"] / (whole[column]["n_finite"] - 1)) ** 0.5
        assert kwargs["min_value"] < mean < kwargs["max_value"], column
        assert kwargs["max_value"] - mean == pytest.approx(4 * std / n ** 0.5), column
