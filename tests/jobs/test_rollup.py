"""The rollup job merges days and weeks again from the stored hourly state only: on an
untouched lake it rewrites the same windows, and after an hour of state is repaired
away the day and week that held it lose exactly that hour's rows."""
from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from inferwatch.context import open_context
from inferwatch.jobs import rollup
from inferwatch.runs import runs
from inferwatch.granularity import truncate
from inferwatch.metrics.window_store import replace_windows
from tests.helpers import delta_frame

UTC = timezone.utc
KEY = ["model_id", "granularity", "window_start", "slice_key", "slice_value", "column"]


@pytest.fixture(scope="module")
def ctx(spark, scenario_lake, tmp_path_factory):
    root = tmp_path_factory.mktemp("rollup")
    shutil.copytree(scenario_lake, root / "lake")
    ctx = open_context("conf/local.yaml", lake=str(root / "lake"),
                       models_dir=scenario_lake.parent / "input" / "models", spark=spark)
    hours = delta_frame(ctx.lake.path("state/profile"), ["window_start"])["window_start"]
    first, last = hours.min().to_pydatetime(), hours.max().to_pydatetime()
    return dataclasses.replace(ctx, start=first, end=last + timedelta(hours=1))


def _rollups(ctx, table: str) -> pd.DataFrame:
    frame = delta_frame(ctx.lake.path(table))
    key = [c for c in KEY if c in frame.columns]
    return frame[frame["granularity"] != "1h"].sort_values(key).reset_index(drop=True)


def test_an_untouched_lake_gets_the_same_days_and_weeks(ctx):
    before = _rollups(ctx, "metrics/profile")
    perf_before = _rollups(ctx, "metrics/performance")
    run = rollup.run(ctx)
    assert run.status == "ok", run.notes
    after = _rollups(ctx, "metrics/profile")
    assert len(after) == len(before) > 0
    exact = [*KEY, "count", "num_nulls", "num_nan", "num_inf", "num_zeros", "min", "max"]
    pd.testing.assert_frame_equal(after[exact], before[exact])
    assert after["avg"].to_numpy() == pytest.approx(before["avg"].to_numpy(), rel=1e-9,
                                                    nan_ok=True)
    perf_after = _rollups(ctx, "metrics/performance")
    pd.testing.assert_frame_equal(perf_after[KEY[:5] + ["n_labeled"]],
                                  perf_before[KEY[:5] + ["n_labeled"]])
    recorded = runs(ctx.lake.root, "rollup")[-1]
    assert recorded["status"] == "ok" and set(json.loads(recorded["output_versions"])) >= {
        "state/profile", "metrics/profile", "state/performance", "metrics/performance"}


def test_a_repaired_hour_leaves_its_day_and_week(ctx):
    model = "fraud"
    state = delta_frame(ctx.lake.path("state/profile"))
    hourly = state[(state["granularity"] == "1h") & (state["model_id"] == model)
                   & (state["slice_key"] == "*")]
    hour = sorted(hourly["window_start"].unique())[30].to_pydatetime().replace(tzinfo=UTC)
    gone = hourly[hourly["window_start"] == hour]
    lost = dict(zip(gone["column"], gone["count"], strict=True))
    before = _whole_model_counts(ctx, model, hour)
    empty = ctx.spark.createDataFrame([], ctx.lake.table("state/profile").read().schema)
    replace_windows(ctx.lake, "state/profile", model, {"1h": [hour]}, empty)

    assert rollup.run(ctx).status == "ok"
    after = _whole_model_counts(ctx, model, hour)
    for granularity in ("1d", "1w"):
        assert lost and {c: before[granularity][c] - after[granularity][c]
                         for c in lost} == lost, granularity


def _whole_model_counts(ctx, model: str, hour: datetime) -> dict[str, dict[str, int]]:
    """{granularity: {column: count}} of the day and week holding `hour`, whole model."""
    frame = _rollups(ctx, "metrics/profile")
    out = {}
    for granularity, unit in (("1d", "day"), ("1w", "1w")):
        start = pd.Timestamp(truncate(hour, unit))
        rows = frame[(frame["model_id"] == model) & (frame["granularity"] == granularity)
                     & (frame["window_start"] == start) & (frame["slice_key"] == "*")]
        out[granularity] = dict(zip(rows["column"], rows["count"], strict=True))
    return out
