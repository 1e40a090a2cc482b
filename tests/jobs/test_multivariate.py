"""The multivariate job scores every model's days in one plan: a rebuild gives the rows
the pipeline stored, flags the scenario's incident day and not its quiet baseline day,
and a model that breaks the joint plan fails alone while the others are written."""
from __future__ import annotations

import dataclasses
import json
import shutil

import pandas as pd
import yaml
from deltalake import DeltaTable

from inferwatch.context import open_context
from inferwatch.jobs import multivariate
from inferwatch.runs import FAILED, OK, PARTIAL

COLUMNS = ["model_id", "window_start", "auc", "threshold", "drifted", "status", "n",
           "n_reference"]


def _rows(lake) -> pd.DataFrame:
    rows = DeltaTable(f"{lake}/metrics/multivariate_drift").to_pandas()
    rows["window_start"] = pd.to_datetime(rows["window_start"], utc=True)
    return rows.sort_values(["model_id", "window_start"]).reset_index(drop=True)


def test_a_model_that_breaks_the_joint_plan_fails_alone(spark, scenario_lake, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(scenario_lake, lake)
    models = tmp_path / "models"
    shutil.copytree(scenario_lake.parent / "input" / "models", models)
    eta = yaml.safe_load((models / "eta.yaml").read_text())
    eta["features"]["categorical"].remove("city")  # city names read as numbers: no plan
    eta["features"]["numeric"].append("city")
    (models / "eta.yaml").write_text(yaml.safe_dump(eta))
    stored = _rows(lake)
    ctx = open_context("conf/local.yaml", lake=str(lake), models_dir=models, spark=spark)

    run = multivariate.run(dataclasses.replace(ctx, rebuild=True))

    assert run.status == PARTIAL, run.notes
    assert run.models["eta"].status == FAILED
    assert "numeric features ['city'] hold text" in run.models["eta"].error
    assert run.models["fraud"].status == OK and run.models["fraud"].outputs
    rebuilt = _rows(lake)
    # fraud, scored again alone, lands on the very rows the joint plan stored; eta's stay
    pd.testing.assert_frame_equal(rebuilt[COLUMNS], stored[COLUMNS])
    assert rebuilt.top_features.map(list).tolist() == stored.top_features.map(list).tolist()
    fraud = rebuilt[rebuilt.model_id == "fraud"].set_index("window_start")
    manifest = json.loads((scenario_lake.parent / "input" / "manifest.json").read_text())
    start = pd.Timestamp(manifest["start"])
    onset = min(pd.Timestamp(i["onset"]) for i in manifest["incidents"]
                if i["model_id"] == "fraud" and i["kind"] in ("unit_change",
                                                               "covariate_drift"))
    assert not fraud.loc[start, "drifted"]  # the baseline's own day
    assert fraud.loc[onset.floor("D") + pd.Timedelta(days=1), "drifted"]
