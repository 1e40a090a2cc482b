"""notebooks/*.py run headless (jupytext -> notebook, parameters injected, nbclient) on a
real lake, for a classifier and a regressor; what they print is checked against the
tables read directly with delta-rs."""
from __future__ import annotations

import re
from datetime import datetime

import pandas as pd
import pytest

from tests.notebooks import execute
from tests.notebooks.direct import MODELS, rows

# The incident whose column each model's window test looks at.
DRIFT_INCIDENT = {"fraud": "covariate_drift", "eta": "unit_change"}


def printed(text: str, prefix: str) -> list[str]:
    """The comma-separated names a notebook printed after `prefix`."""
    match = re.search(rf"^{re.escape(prefix)} (.*)$", text, flags=re.MULTILINE)
    assert match, f"the notebook did not print '{prefix} ...':\n{text[:2000]}"
    return [] if match.group(1) == "none" else match.group(1).split(", ")


@pytest.mark.parametrize("model", MODELS)
def test_model_health(lake, tmp_path, model):
    notebook = execute.run("model_health", {"lake": str(lake), "model": model,
                                            "granularity": "1h"}, cwd=tmp_path)
    text, figures = execute.text(notebook), execute.figures(notebook)

    perf, drift = rows(lake, "metrics/performance", model), rows(lake, "metrics/drift", model)
    whole = perf[perf["slice_key"] == "*"]
    versions = rows(lake, "inferences", model)["model_version"].nunique()
    baseline = drift[(drift["granularity"] == "1h") & (drift["comparison"] == "baseline")
                     & (drift["slice_key"] == "*")]
    quality = rows(lake, "metrics/quality", model)
    # performance per granularity, coverage, versions, drift heatmap, quality
    expected = (whole["granularity"].nunique() + 1 + (versions > 1) + (not baseline.empty)
                + (not quality.empty))
    assert len(figures) == expected

    hourly = figures[0]
    windows = whole.loc[whole["granularity"] == "1h", "window_start"].nunique()
    assert all(len(trace["x"]) == windows for trace in hourly["data"])
    assert hourly["layout"]["title"]["text"].endswith("(1h)")
    metrics = {trace["name"] for trace in hourly["data"]}
    assert metrics >= ({"auc", "estimated_auc"} if model == "fraud"
                       else {"rmse", "estimated_rmse"})

    drifted = sorted(baseline.loc[baseline["drifted"], "column"].unique())
    assert drifted, "the scenario drifts a column of every model"
    assert printed(text, "Columns drifted at 1h:") == drifted
    heatmap = next(f for f in figures if f["data"][0]["type"] == "heatmap")["data"][0]
    assert set(heatmap["y"]) == set(baseline["column"])
    hot = {y for y, row in zip(heatmap["y"], heatmap["z"]) if any(v is not None and v > 1
                                                                   for v in row)}
    assert hot == set(drifted)

    if versions > 1:
        assert f"{model} has one model_version" not in text
    else:
        assert f"{model} has one model_version in its inferences" in text
    failed = quality[~quality["success"]] if not quality.empty else quality
    for expectation in set(failed.get("expectation_type", [])):
        assert expectation in text


@pytest.mark.parametrize("model", MODELS)
def test_investigate_window(lake, incidents, tmp_path, model):
    incident = next(i for i in incidents
                    if i["model_id"] == model and i["kind"] == DRIFT_INCIDENT[model])
    onset = pd.Timestamp(datetime.fromisoformat(incident["onset"].replace("Z", "+00:00")))
    drift = rows(lake, "metrics/drift", model)
    hourly = drift[(drift["granularity"] == "1h") & (drift["slice_key"] == "*")]
    flagged = hourly[hourly["drifted"] & (hourly["column"] == incident["column"])
                     & (hourly["window_start"] >= onset)]
    assert not flagged.empty, f"{incident['column']} never drifted after {onset}"
    window = flagged["window_start"].min()

    notebook = execute.run("investigate_window", {
        "lake": str(lake), "model": model, "window": window.isoformat(), "granularity": "1h",
        "lookback": 24}, cwd=tmp_path)
    text = execute.text(notebook)

    assert f"{model}, 1h window {window:%Y-%m-%d %H:%M} UTC" in text
    now = hourly[(hourly["window_start"] == window) & hourly["drifted"]]
    assert printed(text, "Drifted (whole model):") == sorted(now["column"].unique())
    assert incident["column"] in printed(text, "Drifted (whole model):")
    pairs = now[["column", "comparison"]].drop_duplicates()
    assert f"DuckDB: {len(pairs)} (column, comparison) pairs drifted" in text

    perf = rows(lake, "metrics/performance", model)
    slices = perf[(perf["granularity"] == "1h") & (perf["window_start"] == window)]
    assert re.search(rf"\d+ of {len(slices)} slices dropped or lost labels", text)

    quality = rows(lake, "metrics/quality", model)
    hour = quality[quality["window_start"] == window] if not quality.empty else quality
    if hour.empty:
        assert "No hour of this window was validated" in text
    elif hour["success"].all():
        assert "Every expectation passed in the 1 validated hour(s)." in text
    else:
        assert f"{(~hour['success']).sum()} expectation(s) failed in 1 validated hour(s)." in text
    alerts = rows(lake, "alerts", model)
    if alerts.empty:
        assert "No alerts table in this lake yet" in text or "No alert for" in text
    else:
        until = alerts["resolved_window"].fillna(alerts["last_window"])
        covering = alerts[(alerts["first_window"] < window + pd.Timedelta(hours=1))
                          & (until >= window)]
        if covering.empty:
            assert f"No alert for {model} in this window." in text
        else:
            assert all(m[:40] in text for m in covering["message"]) or "alert_id" in text


def test_day_window_without_a_window_given(lake, tmp_path):
    """No window: the notebook picks the latest day with a drifted feature itself."""
    notebook = execute.run("investigate_window", {"lake": str(lake), "model": "fraud",
                                                  "window": None, "granularity": "1d"},
                           cwd=tmp_path)
    drift = rows(lake, "metrics/drift", "fraud")
    days = drift[(drift["granularity"] == "1d") & (drift["slice_key"] == "*") & drift["drifted"]]
    latest = days["window_start"].max()
    assert f"fraud, 1d window {latest:%Y-%m-%d %H:%M} UTC (picked" in execute.text(notebook)


@pytest.mark.parametrize("name", ["model_health", "investigate_window"])
def test_missing_tables_print_a_sentence(performance_only_lake, tmp_path, name):
    """Only metrics/performance in the lake: every other view says so and no cell fails."""
    notebook = execute.run(name, {"lake": str(performance_only_lake), "model": "eta"},
                           cwd=tmp_path)
    text = execute.text(notebook)
    if name == "model_health":
        assert "No drift rows against a baseline at 1h for eta." in text
        assert "No metrics/quality rows for eta" in text
        assert "No inferences of eta in this range: no versions to compare." in text
        assert len(execute.figures(notebook)) == 3 + 1  # performance x 3 granularities, coverage
    else:
        assert "No feature of eta drifted in this window" in text
        assert "No hour of this window was validated" in text
        assert "No metrics/drift table to query." in text


def test_unknown_model_fails_the_notebook(lake, tmp_path):
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError, match="unknown model 'nope'.*eta, fraud"):
        execute.run("model_health", {"lake": str(lake), "model": "nope"}, cwd=tmp_path)
