"""Floors and ceilings from a model's `alerts:` on any column of `metrics/performance`:
volume per hour, label coverage, feedback delay, realized and estimated metrics."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from inferwatch.alerts import performance
from inferwatch.alerts.settings import settings
from inferwatch.config import ConfigError
from inferwatch.jobs.alerts import evaluate
from tests.helpers import models

HOURS = pd.date_range("2026-03-02", periods=6, freq="h", tz="UTC")


def _performance() -> pd.DataFrame:
    rows = []
    for i, hour in enumerate(HOURS):
        n = 5 if i == 3 else 120  # the feed collapses in hour 3
        labelled = 0 if i == 4 else 100  # labels stop in hour 4
        rows.append({"model_id": "fraud", "granularity": "1h", "window_start": hour,
                     "slice_key": "*", "slice_value": "*", "n": n, "n_labeled": labelled,
                     "label_coverage": labelled / n if n else None, "auc": 0.9,
                     "delay_p90": 7200.0 if i != 5 else 400000.0})
    return pd.DataFrame(rows)


def _wanted(section: dict) -> dict:
    return settings(dataclasses.replace(models()["fraud"], alerts=section))


def test_volume_coverage_and_delay_rules_fire_in_their_windows_with_their_kinds():
    wanted = _wanted({"floors": {"n": {"value": 50, "granularity": "1h"},
                                 "label_coverage": {"value": 0.3, "granularity": "1h"}},
                      "ceilings": {"delay_p90": {"value": 172800, "granularity": "1h"}}})
    fired = performance.performance(_performance(), wanted["rules"], min_labeled=20)
    got = {(r.kind, r.metric, r.window_start) for r in fired.itertuples()}
    assert got == {("volume", "n", HOURS[3]), ("coverage", "label_coverage", HOURS[4]),
                   ("coverage", "delay_p90", HOURS[5])}, fired
    delay = fired[fired.metric == "delay_p90"].iloc[0]
    assert delay.score == pytest.approx(400000 / 172800)
    assert "above its ceiling 172800" in delay.detail
    # hour 3 has 5 rows: its coverage (100/5) is not judged on so few rows
    assert "label_coverage" not in set(fired[fired.window_start == HOURS[3]].metric)


def test_rules_become_alerts_of_their_kind():
    wanted = _wanted({"floors": {"n": {"value": 50, "granularity": "1h"}}})
    found = {name: pd.DataFrame() for name in ("metrics/drift", "metrics/quality",
                                               "metrics/multivariate_drift")}
    found["metrics/performance"] = _performance()
    records = evaluate(wanted, found)
    volume = [r for r in records if r["kind"] == "volume"]
    assert len(volume) == 1 and volume[0]["severity"] == "critical", records
    assert volume[0]["first_window"] == HOURS[3] and volume[0]["status"] == "open"


def test_a_floor_on_a_higher_is_worse_metric_is_a_ceiling_and_numbers_default_to_1d():
    rules = _wanted({"floors": {"rmse": 3.0, "auc": 0.7}})["rules"]
    assert {(r["metric"], r["ceiling"], r["granularity"]) for r in rules} == {
        ("rmse", True, "1d"), ("auc", False, "1d")}


@pytest.mark.parametrize("section,key", [
    ({"ceilings": {"n": {"value": 10, "granularity": "5m"}}}, "alerts.ceilings.n.granularity"),
    ({"ceilings": {"n": {"bound": 10}}}, "alerts.ceilings.n"),
    ({"floors": {"n": True}}, "alerts.floors.n"),
])
def test_a_rule_mistake_is_one_line_naming_the_key(section, key):
    with pytest.raises(ConfigError) as err:
        _wanted(section)
    assert key in str(err.value) and "\n" not in str(err.value)


def test_a_seasonal_volume_anomaly_compares_an_hour_with_the_same_hour_of_past_days():
    hours = pd.date_range("2026-03-02", periods=24 * 8, freq="h", tz="UTC")
    cycle = [20 if h.hour < 6 else 200 for h in hours]  # quiet nights, busy days
    cycle[-24 + 14] = 60  # the last day's 14:00 collapses to a night's volume
    frame = pd.DataFrame({"model_id": "eta", "granularity": "1h", "window_start": hours,
                          "slice_key": "*", "slice_value": "*", "n": cycle,
                          "n_labeled": 0})
    frame["n"] = frame["n"] + (frame.index % 5)  # a little noise so the MAD is not 0
    seasonal = performance.anomalies(frame, ["n"], "1h", 100, history=7, z=4.0, seasonal=True)
    assert list(seasonal.window_start) == [hours[-24 + 14]], seasonal
    assert set(seasonal.kind) == {"volume"} and "standard errors off" in seasonal.detail.iloc[0]
    # without seasons, every morning's rise and evening's fall is an anomaly
    plain = performance.anomalies(frame, ["n"], "1h", 100, history=7, z=4.0)
    assert len(plain) > 7, plain


def test_a_slice_whose_labels_stopped_stands_out_even_while_few_labels_arrived():
    day = HOURS[0]
    rows = [("*", "*", 3000, 0.25), ("country", "BR", 350, 0.06),  # stopped
            ("country", "FR", 350, 0.20),  # a little behind: not half the model's
            ("country", "MX", 60, 0.10)]  # half, but 6 of 60 is chance (p ~ 3e-3)
    frame = pd.DataFrame([{"model_id": "fraud", "granularity": "1d", "window_start": day,
                           "slice_key": k, "slice_value": v, "n": n,
                           "label_coverage": c} for k, v, n, c in rows])
    fired = performance.coverage(frame, "1d", min_rows=50, drop=0.5)
    assert list(fired.slice_value) == ["BR"], fired
    assert "chance" in fired.detail.iloc[0] and fired.kind.iloc[0] == "coverage"
    # nobody's labels have arrived yet: nothing to compare
    quiet = frame.assign(label_coverage=[0.01, 0.0, 0.0, 0.0])
    assert performance.coverage(quiet, "1d", min_rows=50, drop=0.5).empty


def test_every_slices_history_at_once_equals_pandas_rolling_one_slice_at_a_time():
    """`performance._past` (all slices' trailing windows in one padded array) against
    pandas' own rolling median, MAD and count over each slice alone: equal, nulls,
    gaps, a slice shorter than the history and a slice with no values included."""
    rng = np.random.default_rng(7)
    sizes, history = [1, 3, 9, 40, 17], 7
    group = np.repeat(np.arange(len(sizes)), sizes)
    values = rng.normal(10, 3, len(group)).round(1)  # ties in medians and deviations
    values[rng.random(len(group)) < 0.25] = np.nan
    values[group == 1] = np.nan
    median, mad, count = performance._past(values, group, history)
    for g in range(len(sizes)):
        past = pd.Series(values[group == g]).shift(1).rolling(history, min_periods=1)
        want_mad = past.apply(lambda w: np.nanmedian(np.abs(w - np.nanmedian(w))), raw=True)
        np.testing.assert_array_equal(median[group == g], past.median().to_numpy())
        np.testing.assert_array_equal(mad[group == g], want_mad.to_numpy())
        np.testing.assert_array_equal(count[group == g], past.count().to_numpy())
