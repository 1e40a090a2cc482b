"""Performance without labels: exact against independent expectations, and on the scenario."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from inferwatch.metrics.estimation import (build_reference, build_references,
                                           with_estimates, with_expectations)
from inferwatch.metrics.performance import BINARY, MULTICLASS, REGRESSION, metrics
from inferwatch.metrics.performance_state import SCORE_BINS, hourly_state
from tests.helpers import delta_frame, spark_jobs

HOUR = datetime(2026, 3, 2, 5, tzinfo=timezone.utc)


def _estimate(spark, live: pd.DataFrame, problem_type: str, threshold=None, reference=None):
    frame = spark.createDataFrame(live.assign(
        model_id="m", window_start=HOUR, slice_key="*", slice_value="*", delay_s=None,
        prediction_label=None).astype({"delay_s": float, "prediction_label": object}))
    rows = with_expectations(frame, {"m": reference}, problem_type)
    state = hourly_state(rows, problem_type, threshold)
    return with_estimates(metrics(state, problem_type), problem_type).toPandas().iloc[0]


def test_confidence_based_binary_equals_expected_values(spark):
    rng = np.random.default_rng(3)
    # scores on bin centres, so histogram AUC has no within-bin approximation
    p = (rng.integers(0, SCORE_BINS, 3000) + 0.5) / SCORE_BINS
    live = pd.DataFrame({"model_version": "v1", "prediction": p, "label": np.nan})
    got = _estimate(spark, live, BINARY, threshold=0.3)
    positive = p >= 0.3
    exp_tp, exp_fp = p[positive].sum(), (1 - p[positive]).sum()
    exp_fn, exp_tn = p[~positive].sum(), (1 - p[~positive]).sum()
    assert got["estimated_accuracy"] == pytest.approx((exp_tp + exp_tn) / len(p), abs=1e-9)
    assert got["estimated_precision"] == pytest.approx(exp_tp / (exp_tp + exp_fp), abs=1e-9)
    assert got["estimated_recall"] == pytest.approx(exp_tp / (exp_tp + exp_fn), abs=1e-9)
    assert got["estimated_f1"] == pytest.approx(2 * exp_tp / (2 * exp_tp + exp_fp + exp_fn), abs=1e-9)
    assert got["estimated_brier"] == pytest.approx(np.mean(p * (1 - p)), abs=1e-9)
    # each row is a positive with weight p and a negative with weight 1 - p
    both = np.concatenate([p, p])
    y = np.concatenate([np.ones_like(p), np.zeros_like(p)])
    weights = np.concatenate([p, 1 - p])
    assert got["estimated_auc"] == pytest.approx(
        skm.roc_auc_score(y, both, sample_weight=weights), abs=1e-9)
    assert got["estimated_log_loss"] == pytest.approx(
        skm.log_loss(y, both, sample_weight=weights) , abs=1e-9)
    assert got["estimated_accuracy_std"] == pytest.approx(
        np.sqrt(np.sum(p * (1 - p))) / len(p), abs=1e-12)
    assert np.isnan(got["accuracy"]) and np.isnan(got["accuracy_estimate_error"])


def test_labels_drawn_from_calibrated_scores_land_within_the_stated_error(spark):
    rng = np.random.default_rng(8)
    p = rng.beta(1.5, 4, 4000)
    y = (rng.random(len(p)) < p).astype(float)
    got = _estimate(spark, pd.DataFrame({"model_version": "v1", "prediction": p, "label": y}),
                    BINARY, threshold=0.4)
    assert got["label_coverage"] == 1.0
    assert abs(got["accuracy_estimate_error"]) <= 4 * got["estimated_accuracy_std"]
    assert got["estimated_accuracy"] - got["accuracy"] == got["accuracy_estimate_error"]
    assert abs(got["auc_estimate_error"]) < 0.02


def test_models_alike_share_one_reference_job_and_each_reads_its_own(spark):
    """Two binary models' references built together (one Spark job) equal each built
    alone, and their live rows, estimated in one frame, each take their own model's."""
    rng = np.random.default_rng(12)

    def baseline(skew: float) -> pd.DataFrame:
        p = rng.beta(2, 3, 3000)
        y = (rng.random(p.size) < np.clip(p * skew, 0, 1)).astype(float)
        return pd.DataFrame({"model_version": "v1", "prediction": p, "label": y})

    bases = {"a": baseline(0.6), "b": baseline(1.4)}  # b's labels are twice a's positives
    both = build_references(spark.createDataFrame(pd.concat(
        [b.assign(model_id=m) for m, b in bases.items()])), ["a", "b"], BINARY, 0.5)
    for model_id, rows in bases.items():
        alone = build_reference(spark.createDataFrame(rows), BINARY, 0.5)
        pd.testing.assert_frame_equal(both[model_id].table.reset_index(drop=True),
                                      alone.table.reset_index(drop=True))
    live = pd.DataFrame({"model_version": "v1", "prediction": rng.beta(2, 3, 2000),
                         "label": np.nan})
    frame = spark.createDataFrame(pd.concat([live.assign(model_id=m) for m in bases]).assign(
        window_start=HOUR, slice_key="*", slice_value="*", delay_s=None,
        prediction_label=None).astype({"delay_s": float, "prediction_label": object}))
    joint = with_estimates(metrics(hourly_state(with_expectations(frame, both, BINARY),
                                                BINARY, 0.5), BINARY), BINARY).toPandas()
    for model_id in bases:
        own = _estimate(spark, live, BINARY, 0.5, both[model_id])
        got = joint[joint.model_id == model_id].iloc[0]
        assert got["estimated_accuracy"] == pytest.approx(own["estimated_accuracy"], rel=1e-12)
        assert got["estimated_auc"] == pytest.approx(own["estimated_auc"], rel=1e-12)
    a, b = (joint[joint.model_id == m].iloc[0]["estimated_precision"] for m in "ab")
    assert b > a + 0.2  # each read its own reference, not the other's


def test_reference_regression_weights_baseline_buckets_by_live_counts(spark):
    rng = np.random.default_rng(4)
    p0 = rng.gamma(4, 5, 5000)
    baseline = pd.DataFrame({"model_version": "v1", "prediction": p0,
                             "label": p0 + rng.normal(0, 1 + 0.2 * p0)})
    reference = build_reference(spark.createDataFrame(baseline), REGRESSION)
    assert reference is not None and len(reference.edges) == 19
    p1 = rng.gamma(6, 5, 2000)  # covariate shift: more rows in the high, noisy buckets
    got = _estimate(spark, pd.DataFrame({"model_version": "v1", "prediction": p1,
                                         "label": np.nan}), REGRESSION, reference=reference)
    # independent: pandas buckets of the baseline by the reference's edges
    base_bucket = np.searchsorted(reference.edges, baseline["prediction"], side="right")
    err = baseline["prediction"] - baseline["label"]
    mse = (err ** 2).groupby(base_bucket).mean()
    mae = err.abs().groupby(base_bucket).mean()
    live_bucket = np.searchsorted(reference.edges, p1, side="right")
    assert got["estimated_rmse"] == pytest.approx(np.sqrt(mse[live_bucket].mean()), rel=1e-9)
    assert got["estimated_mae"] == pytest.approx(mae[live_bucket].mean(), rel=1e-9)
    # the shift raises the error, and the weighting sees it
    assert got["estimated_rmse"] > np.sqrt((err ** 2).mean()) * 1.1


def test_regression_references_of_a_fleet_in_the_jobs_of_one_each_equal_to_alone(spark):
    """Regression models of different sizes (20 buckets, 6, 1, and too few rows for any)
    and two versions: built together, each model's edges and bucket table equal its
    reference built alone, and the Spark jobs are those of one model, not one set a
    model."""
    rng = np.random.default_rng(21)

    def baseline(n: int, scale: float) -> pd.DataFrame:
        p = rng.gamma(3, scale, n)
        return pd.DataFrame({"model_version": rng.choice(["v1", "v2"], n), "prediction": p,
                             "label": p + rng.normal(0, 1, n) * np.sqrt(p)})

    bases = {"big": baseline(3000, 5.0), "small": baseline(320, 2.0),
             "one": baseline(70, 1.0), "none": baseline(30, 1.0)}
    frame = spark.createDataFrame(pd.concat([b.assign(model_id=m) for m, b in bases.items()]))
    both, jobs = spark_jobs(spark, "ref-fleet",
                                 lambda: build_references(frame, list(bases), REGRESSION))
    assert both["none"] is None
    assert [len(both[m].edges) for m in ("big", "small", "one")] == [19, 5, 0]
    for model_id in ("big", "small", "one"):
        alone = build_reference(spark.createDataFrame(bases[model_id]), REGRESSION)
        assert both[model_id].edges == alone.edges and both[model_id].rows == alone.rows
        order = ["model_version", "_bucket"]
        pd.testing.assert_frame_equal(
            both[model_id].table.sort_values(order).reset_index(drop=True),
            alone.table.sort_values(order).reset_index(drop=True), rtol=1e-12)
    one_frame = spark.createDataFrame(bases["big"].assign(model_id="big"))
    _, one = spark_jobs(spark, "ref-one",
                             lambda: build_references(one_frame, ["big"], REGRESSION))
    assert jobs <= one, (jobs, one)


def test_reference_multiclass_weights_per_class_accuracy_by_live_class_mix(spark):
    rng = np.random.default_rng(6)
    classes = ["car", "bike", "walk"]
    accuracy = {"car": 0.9, "bike": 0.6, "walk": 0.75}

    def rows(n: int, mix: list[float]) -> pd.DataFrame:
        predicted = rng.choice(classes, n, p=mix)
        right = rng.random(n) < np.vectorize(accuracy.get)(predicted)
        other = [(classes.index(c) + 1) % 3 for c in predicted]
        truth = np.where(right, [classes.index(c) for c in predicted], other)
        return pd.DataFrame({"model_version": "v1", "prediction_label": predicted,
                             "prediction": [float(classes.index(c)) for c in predicted],
                             "label": truth.astype(float)})

    baseline = rows(6000, [0.5, 0.3, 0.2])
    reference = build_reference(spark.createDataFrame(baseline), MULTICLASS, classes=classes)
    live = rows(3000, [0.1, 0.6, 0.3]).assign(label=np.nan)  # shifted to the weak class
    frame = spark.createDataFrame(live.assign(
        model_id="m", window_start=HOUR, slice_key="*", slice_value="*", delay_s=np.nan))
    state = hourly_state(with_expectations(frame, {"m": reference}, MULTICLASS), MULTICLASS, None,
                         classes)
    got = with_estimates(metrics(state, MULTICLASS), MULTICLASS).toPandas().iloc[0]
    # independent: baseline accuracy per predicted class, weighted by the live class counts
    hit = baseline["label"].map(lambda i: classes[int(i)]) == baseline["prediction_label"]
    per_class = hit.groupby(baseline["prediction_label"]).mean()
    expected = live["prediction_label"].map(per_class).mean()
    assert got["estimated_accuracy"] == pytest.approx(expected, abs=1e-9)
    assert got["estimated_accuracy"] < hit.mean() - 0.05  # the mix shift is seen
    assert np.isnan(got["estimated_f1"]) and got["estimated_accuracy_std"] > 0


@pytest.fixture(scope="module")
def scenario_metrics(scenario_lake) -> pd.DataFrame:
    perf = delta_frame(str(scenario_lake / "metrics" / "performance"))
    return perf[perf["granularity"] == "1d"].set_index(
        ["model_id", "slice_key", "slice_value", "window_start"])


def _day(perf, model, key, value, day):
    return perf.loc[(model, key, value, pd.Timestamp(f"2026-03-0{day + 1}", tz="UTC"))]


def test_scenario_estimates_track_covariate_shift_and_expose_concept_drift(scenario_metrics):
    perf = scenario_metrics
    last = 4  # covariate drift (amount x1.8) on; concept drift in GB; labels stopped in BR
    for country in ("US", "DE", "FR", "IN", "MX"):
        row = _day(perf, "fraud", "country", country, last)
        assert row["label_coverage"] >= 0.8
        assert abs(row["accuracy_estimate_error"]) <= 4 * row["estimated_accuracy_std"], country
    gb = _day(perf, "fraud", "country", "GB", last)
    # labels no longer follow the score in GB: the estimate cannot see it, the error does
    assert gb["accuracy_estimate_error"] > 5 * gb["estimated_accuracy_std"]
    br = _day(perf, "fraud", "country", "BR", last)
    assert br["n_labeled"] == 0 and np.isnan(br["accuracy"])
    assert 0.7 < br["estimated_accuracy"] < 1 and np.isnan(br["accuracy_estimate_error"])


def test_scenario_regression_estimate_until_the_unit_change(scenario_metrics):
    clean = _day(scenario_metrics, "eta", "*", "*", 2)  # a day after the baseline day
    assert abs(clean["rmse_estimate_error"]) <= 0.05 * clean["rmse"]
    assert abs(clean["mae_estimate_error"]) <= 0.05 * clean["mae"]
    broken = _day(scenario_metrics, "eta", "*", "*", 4)  # distance logged in miles
    assert broken["rmse_estimate_error"] < -0.3 * broken["rmse"]
