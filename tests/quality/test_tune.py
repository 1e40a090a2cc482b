"""Tuning (no Spark): bounds fitted on a few days of clean hours hold the documented
false-failure target on fresh clean hours, and incidents in the history are not learnt."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np

from inferwatch.quality.tune import TARGET_PER_WEEK, tune

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
MEAN = {"type": "expect_column_mean_to_be_between",
        "kwargs": {"column": "x", "min_value": 0.0, "max_value": 100.0}, "meta": {}}
STD = {"type": "expect_column_stdev_to_be_between",
       "kwargs": {"column": "x", "min_value": 0.01}, "meta": {}}
NULLS = {"type": "expect_column_values_to_not_be_null",
         "kwargs": {"column": "x", "mostly": 0.5}, "meta": {}}


def _row(spec: dict, i: int, observed=None, unexpected_percent=None) -> tuple:
    kwargs = json.dumps(spec["kwargs"], sort_keys=True)
    return ("m", "1h", T0 + timedelta(hours=i), "s", spec["type"], "x", kwargs, True,
            None if observed is None else json.dumps(observed), 100, None, unexpected_percent,
            "critical", None, "{}", None)


def _fails(spec: dict, value: float) -> bool:
    kwargs = spec["kwargs"]
    if "mostly" in kwargs:
        return value > 1.0 - kwargs["mostly"]
    return value < kwargs.get("min_value", -np.inf) or value > kwargs.get("max_value", np.inf)


def test_tuned_bounds_hold_the_target_on_fresh_clean_hours():
    rng = np.random.default_rng(3)
    history, fresh = 72, 200_000  # three days to tune on; about 1,190 weeks to check
    means, stds = rng.normal(4.0, 0.3, history + fresh), rng.gamma(20, 0.08, history + fresh)
    nulls = rng.binomial(100, 0.01, history + fresh) / 100.0
    results = [_row(MEAN, i, means[i]) for i in range(history)]
    results += [_row(STD, i, stds[i]) for i in range(history)]
    results += [_row(NULLS, i, unexpected_percent=100 * nulls[i]) for i in range(history)]
    tuned, report = tune([MEAN, STD, NULLS], results, history)
    target = TARGET_PER_WEEK / 168.0  # failures per clean hour
    for spec, values in zip(tuned, (means, stds, nulls)):
        rate = np.mean([_fails(spec, v) for v in values[history:]])
        assert rate <= 2 * target, (spec, rate, target)
    mean, std, null = tuned
    assert 2.5 < mean["kwargs"]["min_value"] < 3.2 and 4.8 < mean["kwargs"]["max_value"] < 5.5
    assert 0.3 < std["kwargs"]["min_value"] < 1.3  # the floor rose from 0.01: frozen fails
    assert 0.9 < null["kwargs"]["mostly"] < 0.98  # narrowed from 0.5: a 40% spike fails
    assert [r["hours"] for r in report] == [history] * 3


def test_an_incident_in_the_history_is_left_out_not_learnt():
    rng = np.random.default_rng(4)
    means = rng.normal(4.0, 0.3, 72)
    means[40:52] *= 0.621  # a unit change for twelve hours of the history
    tuned, report = tune([MEAN], [_row(MEAN, i, means[i]) for i in range(72)], 72)
    low = tuned[0]["kwargs"]["min_value"]
    assert low > 4.0 * 0.621 + 0.1, low  # the unit change still fails
    assert tuned[0]["meta"]["tuned"]["incident_hours_left_out"] >= 10
    assert report[0]["before"] == 0 and report[0]["after"] >= 10
