"""The domain classifier: its AUC and features are a plain scikit-learn pipeline's on the
same sampled rows, two samples of one distribution stay under the threshold, and a
broken correlation (every marginal unchanged, so no per-column test can see it) is
flagged with the two features that carry it on top."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_validate

from inferwatch.metrics import domain, domain_sample
from inferwatch.metrics.domain import MIN_ROWS, SENTINEL, THRESHOLD, score

NUMERIC = ["a", "b", "noise"]
CATEGORICAL = ["country"]
DAY = datetime(2026, 3, 2, tzinfo=timezone.utc)


def _frame(spark, rng, n: int, correlated: bool, model_id: str = "m", start: int = 0):
    a = rng.normal(size=n)
    b = 0.9 * a + np.sqrt(1 - 0.81) * rng.normal(size=n) if correlated else rng.normal(size=n)
    noise = rng.lognormal(size=n)
    noise[rng.random(n) < 0.05] = np.nan
    country = rng.choice(["DE", "FR", "US", "BR"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    country = np.where(rng.random(n) < 0.02, None, country)
    return spark.createDataFrame(pd.DataFrame({
        "model_id": model_id, "inference_id": [f"r{start + i}" for i in range(n)],
        "a": a, "b": b, "noise": noise, "country": country}))


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(3)


def test_same_distribution_stays_quiet(spark, rng):
    got = score(_frame(spark, rng, 1500, True), _frame(spark, rng, 1500, True, start=10**6),
                NUMERIC, CATEGORICAL)
    assert got["status"] == "ok" and (got["n"], got["n_reference"]) == (1500, 1500)
    assert abs(got["auc"] - 0.5) < 0.06 and got["auc"] < THRESHOLD and not got["drifted"]


def test_a_broken_correlation_is_flagged_with_its_features_on_top(spark, rng):
    got = score(_frame(spark, rng, 1500, True), _frame(spark, rng, 1500, False, start=10**6),
                NUMERIC, CATEGORICAL)
    assert got["drifted"] and got["auc"] > 0.7, got["auc"]
    top = [f["feature"] for f in got["top_features"][:2]]
    assert sorted(top) == ["a", "b"], got["top_features"]


def test_too_few_rows_say_so(spark, rng):
    got = score(_frame(spark, rng, 1000, True), _frame(spark, rng, MIN_ROWS - 1, True),
                NUMERIC, CATEGORICAL)
    assert got["status"] == "insufficient_data" and got["auc"] is None
    assert got["n"] == MIN_ROWS - 1 and not got["drifted"]


def test_features_are_encoded_with_a_sentinel_a_null_indicator_and_strings(spark):
    rows = spark.createDataFrame(
        [("1", 2.5, 3, "x"), ("2", None, None, None), ("3", float("nan"), 1, "y"),
         ("4", float("inf"), 2, "x")],
        "inference_id string, a double, n int, k string")
    got = {r["_key"]: (list(r["x"]), list(r["c"])) for r in domain.encoded(
        rows, ["a", "n"], ["k"], F.col("inference_id")).collect()}
    keys = {r[0]: r[1] for r in rows.select(
        "inference_id", F.xxhash64(F.lit(domain.SEED), "inference_id")).collect()}
    s = SENTINEL
    assert got[keys["1"]] == ([2.5, 3.0, 0.0, 0.0], ["x"])
    assert got[keys["2"]] == ([s, s, 1.0, 1.0], [None])
    assert got[keys["3"]] == ([s, 1.0, 0.0, 0.0], ["y"])  # NaN: sentinel, not null
    assert got[keys["4"]] == ([s, 2.0, 0.0, 0.0], ["x"])


def _reference_pipeline(sample: pd.DataFrame, numeric, categorical):
    """The method written plainly with scikit-learn on the collected rows: numbers as
    sampled, categories ranked by frequency (ties by value, null last), one forest per
    stratified fold, AUC of the pooled held-out probabilities, importances summed per
    column (its null indicator counted with it) and averaged over the folds."""
    sample = sample.sort_values(["_label", "_key"]).reset_index(drop=True)
    numbers = np.array([list(x) for x in sample["x"]], dtype=float)
    ranks = []
    for j in range(len(categorical)):
        values = pd.Series([c[j] for c in sample["c"]])
        counts = values.value_counts()
        order = sorted(counts.index, key=lambda v: (-counts[v], v))
        ranks.append(np.array([order.index(v) if v is not None else len(order)
                               for v in values], dtype=float))
    features = np.column_stack([numbers, *ranks])
    labels = sample["_label"].to_numpy()
    forest = RandomForestClassifier(n_estimators=domain.TREES, max_depth=domain.DEPTH,
                                    max_features="sqrt", random_state=domain.SEED)
    folds = StratifiedKFold(domain.FOLDS, shuffle=True, random_state=domain.SEED)
    held = np.empty(len(labels))
    fitted = cross_validate(forest, features, labels, cv=folds, return_estimator=True,
                            return_indices=True)
    for estimator, test in zip(fitted["estimator"], fitted["indices"]["test"], strict=True):
        held[test] = estimator.predict_proba(features[test])[:, 1]
    mean = np.mean([e.feature_importances_ for e in fitted["estimator"]], axis=0)
    per_column = pd.Series(mean, index=[*numeric, *numeric, *categorical]).groupby(level=0).sum()
    return roc_auc_score(labels, held), per_column


def test_every_model_day_in_one_plan_equals_a_plain_scikit_learn_pipeline(spark, rng):
    # two models, three days: a drifted day, a quiet one and one too small to judge;
    # model "m" has more reference rows than the window, so both sides are sampled
    ids = F.col("inference_id")
    reference = domain.encoded(
        _frame(spark, rng, 2500, True, "m").unionByName(_frame(spark, rng, 900, True, "k")),
        NUMERIC, CATEGORICAL, ids)
    windows = [(_frame(spark, rng, 1200, False, "m", 10**6), DAY),
               (_frame(spark, rng, 3000, True, "m", 2 * 10**6), DAY.replace(day=3)),
               (_frame(spark, rng, 150, True, "k", 3 * 10**6), DAY)]
    windows = [domain.encoded(w.withColumn("window_start", F.lit(d)), NUMERIC, CATEGORICAL,
                              ids) for w, d in windows]
    windows = windows[0].unionByName(windows[1]).unionByName(windows[2])
    days = spark.createDataFrame([("m", DAY), ("m", DAY.replace(day=3)), ("k", DAY)],
                                 "model_id string, window_start timestamp")
    names = {"m": (NUMERIC, CATEGORICAL), "k": (NUMERIC, CATEGORICAL)}
    got = {(r["model_id"], r["window_start"].day): r.asDict()
           for r in domain.scores(reference, windows, days, names).collect()}
    assert {k: (r["n"], r["n_reference"], r["size"]) for k, r in got.items()} == {
        ("m", 2): (1200, 2500, 1200), ("m", 3): (3000, 2500, 2000), ("k", 2): (150, 900, 150)}
    assert got[("k", 2)]["auc"] is None
    rows = domain.labelled(reference, windows, days)
    sample = domain.balanced(rows, domain.counted(rows)).toPandas()
    for model_id, day in [("m", 2), ("m", 3)]:
        day_rows = sample[(sample.model_id == model_id) & (sample.window_start.dt.day == day)]
        size = got[(model_id, day)]["size"]
        assert (day_rows["_label"].value_counts() == size).all()
        auc, importance = _reference_pipeline(day_rows, NUMERIC, CATEGORICAL)
        assert got[(model_id, day)]["auc"] == pytest.approx(auc, abs=1e-12)
        best = importance.sort_values(ascending=False).head(domain.TOP_FEATURES)
        assert got[(model_id, day)]["top_names"] == list(best.index)
        assert got[(model_id, day)]["top_importances"] == pytest.approx(list(best), abs=1e-12)
    assert got[("m", 2)]["auc"] > 0.7 and got[("m", 3)]["auc"] < 0.56


def test_each_side_is_sampled_to_its_smallest_keys(spark, rng):
    rows = domain.labelled(
        domain.encoded(_frame(spark, rng, 2500, True), NUMERIC, CATEGORICAL,
                       F.col("inference_id")),
        domain.encoded(_frame(spark, rng, 6000, True, start=10**6)
                       .withColumn("window_start", F.lit(DAY)), NUMERIC, CATEGORICAL,
                       F.col("inference_id")),
        spark.createDataFrame([("m", DAY)], "model_id string, window_start timestamp"))
    keys = rows.select("_label", "_key").toPandas()
    sample = domain.balanced(rows, domain.counted(rows)).select("_label", "_key").toPandas()
    for label in (0, 1):
        expected = sorted(keys[keys._label == label]._key)[:domain.SAMPLE_ROWS]
        assert sorted(sample[sample._label == label]._key) == expected


def test_a_models_stored_sample_is_its_smallest_keys_whoever_it_is_drawn_with(
        spark, rng, tmp_path):
    """Three models' baseline samples drawn together (one commit) hold, per model, the
    `SAMPLE_ROWS` rows with the smallest seeded hash of their id (all of a model's rows
    when it has fewer), the same rows as the model drawn alone, and the same when the
    caller knows the models' row counts (the drift job: the Delta log's record counts)."""
    from inferwatch.lake.tables import Lake
    from inferwatch.model_config import parse_model

    sizes = {"m1": 5000, "m2": 1500, "m3": 2600}
    models = [parse_model(Path(f"{m}.yaml"), {
        "model_id": m, "problem_type": "binary_classification",
        "features": {"numeric": NUMERIC, "categorical": CATEGORICAL}}) for m in sizes]
    rows = _frame(spark, rng, sizes["m1"], True, "m1")
    for start, m in enumerate(["m2", "m3"], 1):
        rows = rows.unionByName(_frame(spark, rng, sizes[m], True, m, start * 10**6))
    keys = rows.select("model_id", "inference_id", F.xxhash64(
        F.lit(domain_sample.SAMPLE_SALT), F.lit(domain.SEED), "inference_id").alias("k")
    ).toPandas()
    together, alone = Lake(spark, str(tmp_path / "together")), Lake(spark, str(tmp_path / "alone"))
    domain_sample.store_samples(together, "default", [(models, rows)], {m: 3 for m in sizes})
    domain.store_sample(alone, models[2], "default", 4, rows.where(F.col("model_id") == "m3"))
    stored = together.table(domain.SAMPLE_TABLE).read().toPandas()
    for model_id, n in sizes.items():
        mine = stored[stored.model_id == model_id]
        expected = keys[keys.model_id == model_id].nsmallest(domain.SAMPLE_ROWS, "k")
        assert len(mine) == min(n, domain.SAMPLE_ROWS)
        assert sorted(mine.inference_id) == sorted(expected.inference_id), model_id
        assert set(mine.version) == {3} and set(mine.name) == {"default"}
    known = Lake(spark, str(tmp_path / "known"))
    domain_sample.store_samples(known, "default", [(models, rows)], {m: 3 for m in sizes},
                                known=sizes)
    counted = known.table(domain.SAMPLE_TABLE).read().toPandas()
    assert sorted(counted.inference_id) == sorted(stored.inference_id)
    one = alone.table(domain.SAMPLE_TABLE).read().toPandas()
    assert sorted(one.inference_id) == sorted(stored[stored.model_id == "m3"].inference_id)
    assert set(one.version) == {4} and set(one.model_id) == {"m3"}


@pytest.mark.parametrize("spec", [{"threshold": 1.5}, {"threshold": "high"}, "yes"])
def test_a_bad_multivariate_setting_is_one_clear_config_error(spec):
    import dataclasses

    from inferwatch.config import ConfigError
    from tests.helpers import models

    with pytest.raises(ConfigError, match=r"drift\.multivariate.*(a number in|threshold in) \[0\.5, 1\)"):
        dataclasses.replace(models()["fraud"], drift={"multivariate": spec})


def test_multivariate_settings_default_and_off():
    import dataclasses

    from tests.helpers import models

    model = models()["fraud"]
    assert dataclasses.replace(model, drift={}).drift.multivariate.threshold == THRESHOLD
    assert dataclasses.replace(model, drift={"multivariate": False}).drift.multivariate is None
