"""Fairness metrics against fairlearn on the same rows, per hour, day and week."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as flm

from inferwatch.metrics.fairness import fairness_metrics, fairness_state, merge_fairness
from tests.helpers import delta_frame

START = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday
THRESHOLD = 0.4


def _rows(n: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(12)
    gender = rng.choice(["f", "m", "x", None], n, p=[0.45, 0.45, 0.05, 0.05])
    score = np.clip(rng.beta(2, 4, n) + np.where(gender == "m", 0.08, 0.0), 0, 1)
    label = (rng.random(n) < score).astype(float)
    label[rng.random(n) < 0.3] = np.nan  # unlabelled
    label[(gender == "x") & (label == 1.0)] = 0.0  # a group with no positives: tpr null
    score[5] = THRESHOLD  # on the threshold: positive
    hour = [START + timedelta(hours=int(h)) for h in rng.integers(0, 24 * 9, n)]
    return pd.DataFrame({"model_id": "fraud", "hour": hour, "prediction": score,
                         "label": label, "gender": gender,
                         "age_band": rng.choice(["<30", "30+"], n)})


@pytest.fixture(scope="module")
def frames(spark):
    rows = _rows()
    hourly = fairness_state(spark.createDataFrame(rows), ["gender", "age_band"], THRESHOLD)
    hourly = hourly.persist()
    out = {"1h": fairness_metrics(hourly)}
    for granularity in ("1d", "1w"):
        out[granularity] = fairness_metrics(merge_fairness(hourly, granularity))
    for granularity, frame in out.items():  # toPandas gives naive UTC timestamps
        frame = frame.toPandas()
        frame["window_start"] = pd.to_datetime(frame["window_start"]).dt.tz_localize("UTC")
        out[granularity] = frame
    return rows, out


def _window(rows: pd.DataFrame, granularity: str) -> pd.Series:
    hour = pd.to_datetime(rows["hour"], utc=True)
    day = hour.dt.floor("D")
    return {"1h": hour, "1d": day,
            "1w": day - pd.to_timedelta(day.dt.weekday, unit="D")}[granularity]


@pytest.mark.parametrize("granularity", ["1h", "1d", "1w"])
def test_rates_and_disparities_equal_fairlearn(frames, granularity):
    rows, out = frames
    got = out[granularity]
    windows = _window(rows, granularity)
    checked = odds_checked = 0
    for (window, attribute), mine in got.groupby(["window_start", "attribute"]):
        sample = rows[windows == window]
        groups = sample[attribute].fillna("null")
        yhat = (sample["prediction"] >= THRESHOLD).astype(int)
        labeled = sample["label"].notna()
        y, g, yh = sample["label"][labeled].astype(int), groups[labeled], yhat[labeled]
        mine = mine.assign(group=mine["group"].fillna("null")).set_index("group")
        selection = flm.MetricFrame(metrics=flm.selection_rate, y_true=yhat, y_pred=yhat,
                                    sensitive_features=groups).by_group
        assert mine["selection_rate"].to_dict() == pytest.approx(selection.to_dict(), abs=1e-12)
        assert mine["statistical_parity_difference"].iloc[0] == pytest.approx(
            flm.demographic_parity_difference(yhat, yhat, sensitive_features=groups), abs=1e-12)
        if selection.max() > 0:
            assert mine["disparate_impact_ratio"].iloc[0] == pytest.approx(
                flm.demographic_parity_ratio(yhat, yhat, sensitive_features=groups), abs=1e-12)
            assert mine["parity_difference"].to_dict() == pytest.approx(
                (selection - selection.max()).to_dict(), abs=1e-12)
        assert mine["n_labeled"].sum() == labeled.sum()
        if not labeled.any():
            assert mine[["tpr", "fpr"]].isna().all().all()
            checked += 1
            continue
        rates = flm.MetricFrame(
            metrics={"tpr": flm.true_positive_rate, "fpr": flm.false_positive_rate},
            y_true=y, y_pred=yh, sensitive_features=g).by_group
        for group, row in rates.iterrows():
            for rate in ("tpr", "fpr"):
                defined = (y[g == group] == (1 if rate == "tpr" else 0)).any()
                if defined:
                    assert mine.loc[group, rate] == pytest.approx(row[rate], abs=1e-12)
                else:  # fairlearn says 0 with a warning; we say undefined
                    assert np.isnan(mine.loc[group, rate])
        if rates.index.size == mine.index.size and mine[["tpr", "fpr"]].notna().all().all():
            assert mine["equalized_odds_difference"].iloc[0] == pytest.approx(
                flm.equalized_odds_difference(y, yh, sensitive_features=g), abs=1e-12)
            odds_checked += 1
        assert mine["n"].sum() == len(sample) and mine["groups"].iloc[0] == len(mine)
        checked += 1
    assert checked == 2 * windows.nunique() and odds_checked > 0


def test_null_group_and_threshold_boundary(frames):
    rows, out = frames
    week = out["1w"]
    gender = week[week["attribute"] == "gender"]
    assert None in set(gender["group"]) and "x" in set(gender["group"])  # missing: null group
    assert gender.loc[gender["group"] == "x", "tpr"].isna().all()  # no positives in x
    assert gender["n_pred_pos"].sum() == int((rows["prediction"] >= THRESHOLD).sum())


def test_merge_is_associative(spark, frames):
    rows, _ = frames
    hourly = fairness_state(spark.createDataFrame(rows), ["gender"], THRESHOLD)
    direct = merge_fairness(hourly, "1w").toPandas()
    via_days = merge_fairness(merge_fairness(hourly, "1d"), "1w").toPandas()
    key = ["window_start", "attribute", "group"]
    pd.testing.assert_frame_equal(direct.sort_values(key).reset_index(drop=True),
                                  via_days.sort_values(key).reset_index(drop=True))


def test_no_protected_attributes_and_missing_columns(spark):
    rows = spark.createDataFrame(_rows(20))
    assert fairness_state(rows, [], THRESHOLD).count() == 0
    with pytest.raises(ValueError, match=r"\['race'\] are not columns.*available: \["):
        fairness_state(rows, ["race"], THRESHOLD)
    with pytest.raises(ValueError, match="granularity must be one of"):
        merge_fairness(fairness_state(rows, ["gender"], THRESHOLD), "1m")


def test_performance_job_writes_fairness_for_every_window(scenario_lake):
    fair = delta_frame(str(scenario_lake / "metrics" / "fairness"))
    inferences = delta_frame(str(scenario_lake / "inferences"), ["model_id", "ts", "gender"])
    fraud = inferences[inferences["model_id"] == "fraud"]
    assert set(fair["model_id"]) == {"fraud"} and set(fair["attribute"]) == {"gender"}
    for granularity, windows in (("1h", 96), ("1d", 4), ("1w", 1)):
        rows = fair[fair["granularity"] == granularity]
        assert rows["window_start"].nunique() == windows
        by_group = rows.groupby(rows["group"].fillna("null"))["n"].sum().to_dict()
        assert by_group == fraud.groupby(fraud["gender"].fillna("null")).size().to_dict()
    days = fair[fair["granularity"] == "1d"]
    assert days["disparate_impact"].between(0, 1).all()
    assert (days["parity_difference"] <= 0).all()
