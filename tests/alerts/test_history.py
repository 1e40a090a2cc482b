"""The alerts job reads a trailing range: stored alerts that ended before it are kept,
and an alert that continues across its start keeps its id (`alerts.history`)."""
from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd

from inferwatch import read
from inferwatch.alerts import history, scorecard
from inferwatch.alerts.settings import settings
from inferwatch.model_config import load_models
from inferwatch.alerts.inputs import frames
from inferwatch.jobs.alerts import evaluate


def _alerts(root, model_id, since=None) -> list[dict]:
    """The model's alerts from `since` on, with a one-day anomaly history (which the
    range then holds, as the job's lookback holds the real one)."""
    wanted = settings(load_models(root.parent / "input" / "models")[model_id])
    wanted["anomalies"] = [{**a, "history": 1} for a in wanted["anomalies"]]
    return evaluate(wanted, frames(str(root), model_id, since))


def test_a_trailing_range_continues_the_alerts_of_the_whole_history(scenario_lake):
    manifest = json.loads((scenario_lake.parent / "input" / "manifest.json").read_text())
    crossing = 0
    for days in (1, 2):  # ranges starting at the second and the third day
        since = pd.Timestamp(manifest["start"]).to_pydatetime() + timedelta(days=days)
        first_day = since + timedelta(days=1)
        for model_id in ("fraud", "eta"):
            full = _alerts(scenario_lake, model_id)
            # a day anomaly on the range's first day needs the day before it (the
            # job's lookback holds the whole anomaly history): not comparable here
            full = [r for r in full if not (r["kind"] == "performance" and since <=
                                            pd.Timestamp(r["first_window"]) < first_day)]
            fresh = _alerts(scenario_lake, model_id, since)
            stored = [{**r, "first_window": pd.Timestamp(r["first_window"])} for r in full]
            by_id = {r["alert_id"]: r for r in
                     history.continued(stored, fresh, since, clear_windows=3)}
            # every alert of the full history is there under its id: older ones as
            # stored, those crossing the range start continued, the rest recomputed alike
            extra = set(by_id) - {r["alert_id"] for r in full}
            assert {by_id[i]["kind"] for i in extra} <= {"performance"}, (model_id, days)
            assert set(by_id) >= {r["alert_id"] for r in full}, (model_id, days)
            for r in full:
                got = by_id[r["alert_id"]]
                assert pd.Timestamp(got["first_window"]) == pd.Timestamp(r["first_window"])
                assert got["status"] == r["status"], (r["message"], got["message"])
                crossing += pd.Timestamp(r["first_window"]) < since <= pd.Timestamp(
                    r["last_window"])
    assert crossing >= 3  # the test covers alerts continued across the range start
    assert history.lookback(settings(load_models(
        scenario_lake.parent / "input" / "models")["fraud"])) == timedelta(days=28)


def test_the_start_is_the_newest_window_less_the_lookback(scenario_lake):
    manifest = json.loads((scenario_lake.parent / "input" / "manifest.json").read_text())
    since = history.start(str(scenario_lake), "fraud", timedelta(days=1))
    newest = pd.Timestamp(manifest["end"]) - pd.Timedelta(hours=1)
    assert pd.Timestamp(since) == (newest - pd.Timedelta(days=1)).floor("D")
    assert history.start(str(scenario_lake), "no-such-model", timedelta(days=1)) is None
    # the newest window comes from the log's statistics: it is the newest row's
    for name in ("metrics/performance", "metrics/drift", "metrics/profile"):
        rows = read.table(str(scenario_lake), name, model="eta", columns=["window_start"])
        assert read.newest(str(scenario_lake), name, "eta") == rows["window_start"].max()
    assert read.newest(str(scenario_lake), "metrics/drift", "no-such-model") is None
    card = scorecard.score(pd.DataFrame(_alerts(scenario_lake, "fraud")), manifest)
    assert card["incidents"]
