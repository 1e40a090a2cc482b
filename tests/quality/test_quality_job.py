"""The quality job on the scenario (the fixture runs it on the three hours around each data
incident's onset): one row per expectation per model-hour in `metrics/quality`, readable
without Spark; the hour before the unit change passes, its onset fails; a re-run
changes nothing."""
from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import datetime, timedelta

import pandas as pd
from deltalake import DeltaTable

from inferwatch import read
from inferwatch.context import open_context
from inferwatch.jobs import quality
from inferwatch.quality.suite import model_suite


def test_quality_rows_per_model_hour(spark, scenario_lake, tmp_path):
    manifest = json.loads((scenario_lake.parent / "input" / "manifest.json").read_text())
    inc = next(i for i in manifest["incidents"] if i["kind"] == "unit_change")
    onset = pd.Timestamp(datetime.fromisoformat(inc["onset"].replace("Z", "+00:00")))
    rows = read.table(str(scenario_lake), "metrics/quality", model="eta")
    rows["window_start"] = pd.to_datetime(rows["window_start"], utc=True)
    shutil.copytree(scenario_lake, tmp_path / "lake")
    ctx = open_context("conf/local.yaml", lake=str(tmp_path / "lake"),
                       models_dir=scenario_lake.parent / "input" / "models", spark=spark,
                       model="eta")
    name, specs = model_suite(ctx.lake, ctx.models["eta"])
    before = rows[rows.window_start == onset - pd.Timedelta(hours=1)]
    at = rows[rows.window_start == onset]
    # every expectation of the suite, plus the duplicate and quarantine rates
    assert len(before) == len(at) == len(specs) + 2
    assert set(before.suite) == {name, "eta.deliveries"} and set(rows.granularity) == {"1h"}
    assert before.success.all(), before[~before.success][["expectation_type", "message"]]
    failed = at[~at.success]
    assert "distance_km" in set(failed.column), failed[["expectation_type", "column"]]
    assert failed.message.notna().all() and before.message.isna().all()
    observed = json.loads(at[at.expectation_type == "expect_column_mean_to_be_between"]
                          .set_index("column").observed_value["distance_km"])
    assert isinstance(observed, float)

    bounded = dataclasses.replace(ctx, start=onset.to_pydatetime() - timedelta(hours=1),
                                  end=onset.to_pydatetime() + timedelta(hours=1))
    version = DeltaTable(str(tmp_path / "lake" / "metrics" / "quality")).version()
    assert quality.run(bounded).status == "ok"  # nothing changed: nothing recomputed
    assert DeltaTable(str(tmp_path / "lake" / "metrics" / "quality")).version() == version


def test_one_commit_for_every_model_and_hour(spark, scenario_lake, tmp_path):
    """The hours the fixture's bounded runs left owed, of both models (~90 each), are
    judged in one run and written with one commit of `metrics/quality`."""
    shutil.copytree(scenario_lake, tmp_path / "lake")
    ctx = open_context("conf/local.yaml", lake=str(tmp_path / "lake"),
                       models_dir=scenario_lake.parent / "input" / "models", spark=spark)
    path = str(tmp_path / "lake" / "metrics" / "quality")
    before = DeltaTable(path).version()
    run = quality.run(ctx)
    assert run.status == "ok" and set(run.models) == {"eta", "fraud"}, run.notes
    assert DeltaTable(path).version() == before + 1
    rows = read.table(str(tmp_path / "lake"), "metrics/quality")
    hours = rows.groupby("model_id").window_start.nunique()
    assert (hours >= 90).all(), hours
