"""The performance job end to end, checked against scikit-learn on the same joined rows."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from inferwatch.model_config import parse_model
from inferwatch.ingest import ingest_records
from inferwatch.jobs import join_labels
from inferwatch.jobs import partition
from inferwatch.jobs import performance
from tests.helpers import delta_frame, models, context, with_models

UTC = timezone.utc
START = datetime(2026, 3, 2, 0, tzinfo=UTC)


def _scenario(rng: np.random.Generator, n: int = 400):
    ts = [START + timedelta(minutes=int(m)) for m in rng.integers(0, 6 * 60, n)]
    score = rng.uniform(0, 1, n)
    label = (rng.uniform(0, 1, n) < score).astype(float)
    country = rng.choice(["DE", "FR", "US"], n)
    inferences = [{"inference_id": f"p{i}", "model_id": "fraud",
                   "model_version": "v1" if i % 4 else "v2", "ts": ts[i],
                   "prediction": float(score[i]), "amount": float(rng.uniform(0, 2000)),
                   "country": country[i]} for i in range(n)]
    labelled = rng.uniform(0, 1, n) < 0.7
    labels = [{"inference_id": f"p{i}", "label": label[i],
               "label_ts": ts[i] + timedelta(hours=int(rng.integers(1, 48)))}
              for i in range(n) if labelled[i]]
    return inferences, labels


@pytest.fixture(scope="module")
def pipeline(spark, tmp_path_factory):
    lake_dir = tmp_path_factory.mktemp("perf") / "lake"
    ctx = context(spark, lake_dir)
    lake = ctx.lake
    inferences, labels = _scenario(np.random.default_rng(5))
    ingest_records(lake, "inferences", inferences, models())
    ingest_records(lake, "labels", labels, models())
    partition.run(ctx)
    join_labels.run(ctx)
    performance.run(with_models(ctx, {"fraud": models()["fraud"]}))
    return ctx, lake_dir


def _joined(lake_dir) -> pd.DataFrame:
    inf = delta_frame(f"{lake_dir}/inferences")
    lab = delta_frame(f"{lake_dir}/labels", ["inference_id", "label"])
    return inf.merge(lab, on="inference_id", how="left")


def _check(row: pd.Series, rows: pd.DataFrame, threshold: float) -> None:
    labeled = rows[rows["label"].notna()]
    assert row["n"] == len(rows) and row["n_labeled"] == len(labeled)
    y, p = labeled["label"].to_numpy(), labeled["prediction"].to_numpy()
    yhat = (p >= threshold).astype(float)
    assert row["accuracy"] == pytest.approx(skm.accuracy_score(y, yhat), abs=1e-9)
    assert row["precision"] == pytest.approx(skm.precision_score(y, yhat, zero_division=0), abs=1e-9)
    assert row["recall"] == pytest.approx(skm.recall_score(y, yhat, zero_division=0), abs=1e-9)
    assert row["f1"] == pytest.approx(skm.f1_score(y, yhat, zero_division=0), abs=1e-9)
    assert row["brier"] == pytest.approx(skm.brier_score_loss(y, p), abs=1e-9)
    assert row["log_loss"] == pytest.approx(skm.log_loss(y, p, labels=[0, 1]), abs=1e-9)
    if len(set(y)) == 2:
        exact = skm.roc_auc_score(y, p)
        assert abs(row["auc"] - exact) <= row["auc_error_bound"] + 1e-12
        assert abs(row["auc"] - exact) <= 1e-3  # the sparse histograms' promise


def test_every_window_and_slice_matches_sklearn(pipeline):
    _, lake_dir = pipeline
    perf = delta_frame(f"{lake_dir}/metrics/performance")
    rows = _joined(lake_dir)
    threshold = models()["fraud"].threshold
    truncs = {"1h": rows["hour"], "1d": rows["ts"].dt.floor("D"),
              "1w": (rows["ts"] - pd.to_timedelta(rows["ts"].dt.weekday, unit="D")).dt.floor("D")}
    checked = 0
    for row in perf.itertuples(index=False):
        row = pd.Series(row._asdict())
        in_window = rows[truncs[row["granularity"]] == row["window_start"]]
        if row["slice_key"] == "*":
            in_slice = in_window
        elif row["slice_key"] == "country":
            in_slice = in_window[in_window["country"] == row["slice_value"]]
        elif row["slice_key"] == "model_version":
            in_slice = in_window[in_window["model_version"] == row["slice_value"]]
        elif row["slice_key"] == "amount > 1000":
            in_slice = in_window[(in_window["amount"] > 1000) == (row["slice_value"] == "true")]
        else:
            continue
        _check(row, in_slice, threshold)
        checked += 1
    assert checked == len(perf) > 6 * 7  # 6 hours + 1 day + 1 week, each with 7+ slices


def test_a_baseline_from_a_file_estimates_as_the_same_rows_from_a_window(
        pipeline, tmp_path):
    """A baseline `source` is a Parquet file of the model's own rows (no `model_id`
    column): the estimates it gives equal those of a window holding the same rows."""
    import dataclasses
    import shutil

    ctx, lake_dir = pipeline
    copy = tmp_path / "lake"
    shutil.copytree(lake_dir, copy)
    rows = _joined(copy).drop(columns=["model_id"])
    source = tmp_path / "reference.parquet"
    rows[rows.hour < pd.Timestamp("2026-03-03", tz="UTC")].to_parquet(source)
    fraud = dataclasses.replace(models()["fraud"], baseline={"source": str(source)})
    run = performance.run(context(ctx.spark, copy, {"fraud": fraud}, rebuild=True))
    assert run.status == "ok", run.notes
    key = ["granularity", "window_start", "slice_key", "slice_value"]
    window, file = (delta_frame(f"{d}/metrics/performance").sort_values(key)
                    .reset_index(drop=True) for d in (lake_dir, copy))
    estimates = [c for c in window.columns if c.startswith(("est_", "estimated_"))]
    assert estimates and window[estimates].notna().any().any()
    pd.testing.assert_frame_equal(file[key + estimates], window[key + estimates])


def test_a_90_day_late_label_changes_exactly_its_hour_day_and_week(pipeline):
    ctx, lake_dir = pipeline
    lake = ctx.lake
    before = delta_frame(f"{lake_dir}/metrics/performance")
    versions = {n: lake.table(n).version() for n in ("metrics/performance", "state/performance")}
    again = performance.run(with_models(ctx, {"fraud": models()["fraud"]}))
    assert again.notes == ["fraud: 0 hours recomputed"]
    assert {n: lake.table(n).version() for n in versions} == versions
    joined = _joined(lake_dir)
    target = joined[joined["label"].isna()].iloc[0]
    ingest_records(lake, "labels", [{"inference_id": target["inference_id"], "label": 1.0,
                                     "label_ts": target["ts"] + timedelta(days=90)}], models())
    join_labels.run(ctx)
    performance.run(with_models(ctx, {"fraud": models()["fraud"]}))
    after = delta_frame(f"{lake_dir}/metrics/performance")
    key = ["granularity", "window_start", "slice_key", "slice_value"]
    merged = before.merge(after, on=key, suffixes=("_b", "_a"))
    assert len(merged) == len(before) == len(after)
    changed = merged[merged["n_labeled_b"] != merged["n_labeled_a"]]
    hour = target["hour"]
    assert set(changed["window_start"]) <= {hour, hour.floor("D"),
                                            (hour - pd.Timedelta(days=hour.weekday())).floor("D")}
    assert set(changed["granularity"]) == {"1h", "1d", "1w"}
    assert (changed["n_labeled_a"] == changed["n_labeled_b"] + 1).all()
    # every other window is untouched
    untouched = merged.drop(changed.index)
    assert (untouched["n_labeled_b"] == untouched["n_labeled_a"]).all()
    test_every_window_and_slice_matches_sklearn(pipeline)


CLASSES = ["car", "bike", "walk"]


def test_multiclass_model_end_to_end_matches_sklearn(spark, tmp_path):
    """Labels are class indices, predictions carry the class name: `classes` maps them."""
    model = parse_model(Path("conf/models/mode.yaml"), {
        "model_id": "mode", "problem_type": "multiclass_classification", "classes": CLASSES})
    rng = np.random.default_rng(9)
    n = 300
    truth = rng.integers(0, 3, n)
    guess = np.where(rng.uniform(0, 1, n) < 0.7, truth, rng.integers(0, 3, n))
    ts = [START + timedelta(minutes=int(m)) for m in rng.integers(0, 3 * 60, n)]
    ctx = context(spark, tmp_path / "lake", {"mode": model})
    lake = ctx.lake
    ingest_records(lake, "inferences", [
        {"inference_id": f"m{i}", "model_id": "mode", "model_version": "v1", "ts": ts[i],
         "prediction": float(guess[i]), "prediction_label": CLASSES[guess[i]]}
        for i in range(n)], {"mode": model})
    labelled = [i for i in range(n) if i % 5]
    ingest_records(lake, "labels", [
        {"inference_id": f"m{i}", "label": float(truth[i]), "label_ts": ts[i] + timedelta(hours=1)}
        for i in labelled], {"mode": model})
    partition.run(ctx)
    join_labels.run(ctx)
    performance.run(with_models(ctx, {"mode": model}))
    perf = delta_frame(str(tmp_path / "lake" / "metrics" / "performance"))
    hours = pd.Series([t.replace(minute=0) for t in ts])
    checked = 0
    for row in perf[perf["slice_key"] == "*"].itertuples():
        window = (hours == row.window_start) if row.granularity == "1h" else hours == hours
        rows = [i for i in labelled if window[i]]
        y = [CLASSES[truth[i]] for i in rows]
        yhat = [CLASSES[guess[i]] for i in rows]
        assert row.n == int(window.sum()) and row.n_labeled == len(rows)
        assert row.accuracy == pytest.approx(skm.accuracy_score(y, yhat), abs=1e-9)
        assert row.f1_macro == pytest.approx(skm.f1_score(y, yhat, average="macro"), abs=1e-9)
        assert row.f1_weighted == pytest.approx(
            skm.f1_score(y, yhat, average="weighted"), abs=1e-9)
        checked += 1
    assert checked == 3 + 1 + 1  # 3 hours, their day and week
