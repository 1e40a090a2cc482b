"""Alert lifecycle on hand-made signals: grouping, persistence, resolution, stable ids."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pandas as pd

from inferwatch.alerts import lifecycle, signals

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
HOURS = [T0 + timedelta(hours=i) for i in range(24)]


def _signal(hour: int, column: str, kind: str = "drift", score: float = 2.0) -> tuple:
    return ("fraud", "1h", HOURS[hour], kind, "*", "*", column, "psi", score * 0.2, 0.2,
            score, f"{column}: psi {score * 0.2:.2f} > 0.2")


def _alerts(rows, min_windows=None, clear=3):
    frame = pd.DataFrame(rows, columns=signals.COLUMNS)
    return lifecycle.alerts(frame, HOURS, min_windows or {"drift": 2}, clear)


def test_columns_drifting_together_are_one_incident_with_their_causes():
    rows = [_signal(h, c, score=s) for h in (5, 6, 7) for c, s in
            (("amount", 3.0), ("country", 1.5), ("device", 1.2))]
    [alert] = _alerts(rows)
    record = alert.record()
    assert (record["first_window"], record["last_window"]) == (HOURS[5], HOURS[7])
    assert record["column"] == "amount" and record["score"] == 3.0
    assert [c["cause"] for c in json.loads(record["causes"])] == ["amount", "country",
                                                                  "device"]
    assert "(+2 more)" in record["message"]


def test_a_single_noisy_window_opens_nothing_when_two_are_needed():
    assert _alerts([_signal(3, "amount"), _signal(9, "amount")]) == []
    assert len(_alerts([_signal(3, "amount")], min_windows={"drift": 1})) == 1


def test_quiet_windows_resolve_and_a_return_is_a_new_alert():
    rows = [_signal(h, "amount") for h in (2, 3, 4)] + [_signal(h, "amount")
                                                         for h in (12, 13)]
    first, second = _alerts(rows, clear=3)
    assert first.resolved_window == HOURS[4 + 3] and first.record()["status"] == "resolved"
    assert second.first_window == HOURS[12] and second.resolved_window == HOURS[16]
    assert first.alert_id != second.alert_id
    # a gap shorter than the clear windows keeps the alert open through it
    [one] = _alerts([_signal(h, "amount") for h in (2, 3, 5, 6)], clear=3)
    assert (one.first_window, one.last_window) == (HOURS[2], HOURS[6])


def test_an_alert_still_firing_at_the_end_stays_open_and_ids_are_stable():
    rows = [_signal(h, "amount") for h in (20, 21, 22, 23)]
    [alert] = _alerts(rows)
    assert alert.resolved_window is None and alert.record()["status"] == "open"
    assert [a.alert_id for a in _alerts(rows)] == [alert.alert_id]
    # more history before the incident does not change it
    assert [a.alert_id for a in _alerts(rows + [_signal(1, "other", kind="quality")],
                                        min_windows={"drift": 2, "quality": 1})
            if a.kind == "drift"] == [alert.alert_id]


def test_a_null_slice_value_is_stored_as_null():
    rows = [("fraud", "1h", HOURS[h], "drift", "country", float("nan"), "amount", "psi", 0.5,
             0.2, 2.5, "amount: psi 0.5 > 0.2") for h in (3, 4)]
    [alert] = _alerts(rows)
    record = alert.record()
    assert record["slice_value"] is None and "[country=None]" in record["message"]


def test_a_column_that_starts_later_is_a_new_alert_while_slices_and_output_stay():
    rows = [_signal(h, "account_age_days") for h in range(2, 12)]
    rows += [_signal(h, "amount") for h in (8, 9, 10, 11)]  # a second shift, 6 h later
    rows += [_signal(h, "account_age_days [country=US]") for h in (5, 6)]
    rows += [_signal(h, "prediction") for h in (9, 10)]  # the model's output follows
    rows += [_signal(3, "gender")]  # within the first alert's first windows: grouped
    first, second = _alerts(rows)
    assert first.first_window == HOURS[2] and second.first_window == HOURS[8]
    assert set(first.causes) == {"account_age_days", "account_age_days [country=US]",
                                 "gender", "prediction"}
    assert set(second.causes) == {"amount"} and second.opened_window == HOURS[9]
    # the first resolves on its own causes' quiet windows, the second stays open
    rows = [_signal(h, "account_age_days") for h in (2, 3, 4)] + \
        [_signal(h, "amount") for h in range(8, 24)]
    first, second = _alerts(rows, clear=3)
    assert first.resolved_window == HOURS[7] and second.resolved_window is None


def test_a_column_still_near_its_thresholds_holds_its_alert_open():
    fired = [_signal(h, "amount") for h in (2, 3, 4)]
    held = [(*_signal(h, "amount", score=0.8), True) for h in range(5, 12)]
    frame = pd.DataFrame([(*r, False) for r in fired] + held,
                         columns=[*signals.COLUMNS, "hold"])
    [alert] = lifecycle.alerts(frame, HOURS, {"drift": 2}, 3)
    # held through hour 11, clear from 12: resolved at the third clear window, 14
    assert alert.resolved_window == HOURS[14] and alert.last_window == HOURS[4]
    assert list(alert.causes) == ["amount"] and alert.top()["score"] == 2.0
    # a hold opens nothing, and holds of another column keep nothing open
    assert lifecycle.alerts(frame[frame["hold"]], HOURS, {"drift": 1}, 3) == []
    other = frame.assign(column=["amount"] * 3 + ["device"] * 7)
    [alert] = lifecycle.alerts(other, HOURS, {"drift": 2}, 3)
    assert alert.resolved_window == HOURS[7]


def test_drift_signals_hold_columns_near_their_thresholds():
    rows = []
    for hour, ratios in ((0, (1.5, 1.4)), (1, (0.8, 0.7)), (2, (0.8, 0.3)), (3, (0.3, 0.2))):
        for metric, ratio in zip(("psi", "ks"), ratios, strict=True):
            rows.append({"model_id": "fraud", "granularity": "1h", "window_start": HOURS[hour],
                         "comparison": "baseline", "slice_key": "*", "slice_value": "*",
                         "column": "amount", "kind": "numeric", "metric": metric,
                         "value": ratio * 0.2, "threshold": 0.2, "drifted": ratio > 1,
                         "status": "ok", "n": 500, "n_reference": 5000, "error_bound": 0.01})
    got = signals.drift(pd.DataFrame(rows)).set_index("window_start")
    # fired at hour 0; held at hour 1 (both statistics past 1/1.5 of their thresholds);
    # hour 2 has one statistic near (two are needed), hour 3 none
    assert list(got.index) == [HOURS[0], HOURS[1]]
    assert list(got["hold"]) == [False, True]


def test_drift_signals_of_many_models_at_once_are_each_models_own():
    """The alerts job finds a batch's drift signals in one call: each model's windows are
    judged within the model (a slice holding all of one model's rows is that model's
    whole again, whatever another model's whole holds in the same window)."""
    rows = []
    for model, n_all, moved in (("fraud", 500, (1.5, 1.4, 1.3)), ("eta", 300, (0.8, 0.7, 0.75))):
        for slice_key, n in (("*", n_all), ("country", 300)):
            for metric, ratio in zip(("psi", "ks", "wasserstein"), moved, strict=True):
                rows.append({"model_id": model, "granularity": "1h",
                             "window_start": HOURS[0], "comparison": "baseline",
                             "slice_key": slice_key, "slice_value": slice_key,
                             "column": "amount", "kind": "numeric", "metric": metric,
                             "value": ratio * 0.2, "threshold": 0.2, "drifted": ratio > 1,
                             "status": "ok", "n": n, "n_reference": 5000,
                             "error_bound": 0.01})
    frame = pd.DataFrame(rows)
    together = signals.drift(frame)
    alone = pd.concat([signals.drift(frame[frame.model_id == m]) for m in ("fraud", "eta")],
                      ignore_index=True)
    key = ["model_id", "slice_key", "hold"]
    pd.testing.assert_frame_equal(together.sort_values(key).reset_index(drop=True),
                                  alone.sort_values(key).reset_index(drop=True))
    # eta's slice holds all of eta's rows: it is eta's whole, not a slice of its own
    assert sorted(zip(together.model_id, together.slice_key, together.hold)) == [
        ("eta", "*", True), ("fraud", "*", False), ("fraud", "country", False)]
