"""The domain classifier: its AUC is scikit-learn's on the same held-out scores, two
samples of one distribution stay under the threshold, and a broken correlation (every
marginal unchanged, so no per-column test can see it) is flagged with the two features
that carry it on top."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from inferwatch.metrics.domain import MIN_ROWS, THRESHOLD, score

NUMERIC = ["a", "b", "noise"]
CATEGORICAL = ["country"]


def _frame(spark, rng, n: int, correlated: bool):
    a = rng.normal(size=n)
    b = 0.9 * a + np.sqrt(1 - 0.81) * rng.normal(size=n) if correlated else rng.normal(size=n)
    noise = rng.lognormal(size=n)
    noise[rng.random(n) < 0.05] = np.nan
    country = rng.choice(["DE", "FR", "US", "BR"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    country = np.where(rng.random(n) < 0.02, None, country)
    return spark.createDataFrame(pd.DataFrame({"a": a, "b": b, "noise": noise,
                                               "country": country}))


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(3)


def test_same_distribution_stays_quiet_and_auc_matches_sklearn(spark, rng):
    got = score(_frame(spark, rng, 1500, True), _frame(spark, rng, 1500, True),
                NUMERIC, CATEGORICAL)
    assert got["status"] == "ok"
    labels, scores = zip(*got["held_out"], strict=True)
    assert got["auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-9)
    assert abs(got["auc"] - 0.5) < 0.06 and got["auc"] < THRESHOLD and not got["drifted"]


def test_a_broken_correlation_is_flagged_with_its_features_on_top(spark, rng):
    got = score(_frame(spark, rng, 1500, True), _frame(spark, rng, 1500, False),
                NUMERIC, CATEGORICAL)
    assert got["drifted"] and got["auc"] > 0.7, got["auc"]
    top = [f["feature"] for f in got["top_features"][:2]]
    assert sorted(top) == ["a", "b"], got["top_features"]


def test_too_few_rows_say_so(spark, rng):
    got = score(_frame(spark, rng, 1000, True), _frame(spark, rng, MIN_ROWS - 1, True),
                NUMERIC, CATEGORICAL)
    assert got["status"] == "insufficient_data" and got["auc"] is None


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
