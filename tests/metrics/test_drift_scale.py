"""Calibrated thresholds scale with the two sample sizes the way the statistics do when
nothing moved (`drift.null_scale`), checked against scipy's KS and exact PSI on
simulated same-distribution samples; and `threshold_of` applies a calibrated map."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from inferwatch.metrics import drift
from inferwatch.metrics import drift_stats as ds

REFERENCE = 2400  # a baseline day of the scenario
DRAWS = 400


def _null_quantile(metric: str, n: int, rng: np.random.Generator) -> float:
    """95th percentile of `metric` between n and REFERENCE draws of one lognormal."""
    values = []
    for _ in range(DRAWS):
        window = rng.lognormal(3.0, 0.8, n)
        reference = rng.lognormal(3.0, 0.8, REFERENCE)
        if metric == "ks":
            values.append(stats.ks_2samp(window, reference).statistic)
        else:
            edges = np.quantile(reference, np.arange(1, 10) / 10)
            bins = np.concatenate([[-np.inf], edges, [np.inf]])
            expected = np.histogram(reference, bins)[0] / REFERENCE
            actual = np.histogram(window, bins)[0] / n
            values.append(ds.psi(expected, actual))
    return float(np.quantile(values, 0.95))


@pytest.mark.parametrize("metric", ["ks", "psi"])
def test_scaled_chance_level_is_the_same_for_small_and_large_hours(metric):
    rng = np.random.default_rng(7)
    scaled = {n: _null_quantile(metric, n, rng) / drift.null_scale(metric, n, REFERENCE)
              for n in (40, 150, 600)}
    # unscaled, a 150-row hour's chance level is 2-4x a 600-row one's; scaled, they agree
    # within 20% (one threshold per unit of scale fits every hour)
    assert max(scaled[150], scaled[600]) / min(scaled[150], scaled[600]) < 1.2, scaled
    if metric == "ks":
        assert max(scaled.values()) / min(scaled.values()) < 1.2, scaled
    else:  # 4 rows a decile: empty bins make PSI heavier-tailed than 1/n (about 2x at
        # 40 rows), so calibrating on night hours errs on the quiet side for day hours
        assert scaled[40] > scaled[150], scaled


def test_a_calibrated_map_scales_to_the_row_and_keeps_its_floor():
    limits = {"ks": 0.05, "ks/scale": 3.0, "psi": 0.05, "psi/scale": 40.0, "js": 0.3}
    small = {"w_n_finite": 40, "r_n_finite": REFERENCE, "w_count": 40, "r_count": REFERENCE}
    large = {**small, "w_n_finite": 100_000, "w_count": 100_000}
    ks_small = drift.threshold_of("ks", "numeric", limits, small)
    assert ks_small == pytest.approx(3.0 * math.sqrt(1 / 40 + 1 / REFERENCE))
    assert drift.threshold_of("psi", "numeric", limits, small) == \
        pytest.approx(40.0 * (1 / 40 + 1 / REFERENCE))
    assert drift.threshold_of("ks", "numeric", limits, large) == pytest.approx(
        max(0.05, 3.0 * math.sqrt(1 / 100_000 + 1 / REFERENCE)))
    assert drift.threshold_of("js", "numeric", limits, small) == 0.3  # fixed: no /scale
    assert drift.threshold_of("hellinger", "numeric", limits, small) == \
        drift.DEFAULT_THRESHOLDS["numeric"]["hellinger"]
