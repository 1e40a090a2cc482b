"""The quality job on a bounded range of the scenario: one row per expectation per
model-hour in `metrics/quality`, readable without Spark; the unit change fails in its
onset hour; a re-run changes nothing."""
from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import datetime, timedelta

import pandas as pd
from deltalake import DeltaTable

from inferwatch.context import open_context
from inferwatch.jobs import quality


def test_bounded_quality_run_writes_one_row_per_expectation(spark, scenario_lake, tmp_path):
    shutil.copytree(scenario_lake, tmp_path / "lake")
    manifest = json.loads((scenario_lake.parent / "input" / "manifest.json").read_text())
    inc = next(i for i in manifest["incidents"] if i["kind"] == "unit_change")
    onset = datetime.fromisoformat(inc["onset"].replace("Z", "+00:00"))
    ctx = open_context("conf/local.yaml", lake=str(tmp_path / "lake"),
                       models_dir=scenario_lake.parent / "input" / "models", spark=spark,
                       model="eta")
    ctx = dataclasses.replace(ctx, start=onset - timedelta(hours=1), end=onset + timedelta(hours=1))
    run = quality.run(ctx)
    assert run.status == "ok", run.notes
    rows = DeltaTable(str(tmp_path / "lake" / "metrics" / "quality")).to_pandas()
    rows["window_start"] = pd.to_datetime(rows["window_start"], utc=True)
    specs = quality.suggested(ctx, ctx.models["eta"])
    assert len(rows) == 2 * len(specs) and set(rows.granularity) == {"1h"}
    before = rows[rows.window_start == pd.Timestamp(onset) - pd.Timedelta(hours=1)]
    at = rows[rows.window_start == pd.Timestamp(onset)]
    assert before.success.all(), before[~before.success]
    assert not at[at.column == "distance_km"].success.all()
    assert quality.run(ctx).status == "ok"  # nothing changed: nothing recomputed
    again = DeltaTable(str(tmp_path / "lake" / "metrics" / "quality")).to_pandas()
    assert len(again) == len(rows)
