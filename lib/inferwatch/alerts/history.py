"""How far back the alerts job reads, and how alerts recomputed on that range continue
the stored ones.

An hourly run reads a model's metric tables from `start`: its newest window less
`lookback` (the longest anomaly history, at least `MIN_LOOKBACK`), so a run costs the
same on a year-old lake as on a new one. Alerts are recomputed on that range; a stored
alert that ended before it is kept as stored, and a recomputed alert that continues a
stored one across the range start (same model, kind and slice; the stored one still
going within `clear_windows` windows of the start, the new one starting before it went
quiet) keeps the stored alert's id, first and
opened window, so a long incident stays one alert and re-runs never duplicate it.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from inferwatch import read
from inferwatch.granularity import GRANULARITIES

MIN_LOOKBACK = timedelta(days=28)
KEY = ("model_id", "kind", "slice_key", "slice_value")


def lookback(wanted: dict) -> timedelta:
    """The model's anomaly histories (with 2 windows to spare), at least MIN_LOOKBACK."""
    needs = [(a["history"] + 2) * GRANULARITIES[a["granularity"]].step for a in wanted["anomalies"]]
    return max([MIN_LOOKBACK, *needs])


def start(root: str, model_id: str, span: timedelta) -> datetime | None:
    """The newest window of the model's `metrics/performance` (else `metrics/drift`)
    less `span`, at the start of its day; None when there is nothing yet."""
    for name in ("metrics/performance", "metrics/drift"):
        newest = read.newest(root, name, model_id)  # from the log's file statistics
        if newest is not None:
            return (pd.Timestamp(newest) - span).floor("D").to_pydatetime()  # whole days
    return None


def continued(stored: list[dict], fresh: list[dict], since: datetime | None,
              clear_windows: int) -> list[dict]:
    """`fresh` (alerts recomputed from `since` on) with the identity of the stored alerts
    they continue, plus the stored alerts that ended before `since`."""
    if since is None:
        return fresh
    older = [s for s in stored if _time(s["first_window"]) < since]
    taken = set()
    for r in sorted(fresh, key=lambda x: _time(x["first_window"])):
        gap = clear_windows * GRANULARITIES[r["granularity"]].step
        before = [s for s in older if _key(s) == _key(r) and s["alert_id"] not in taken
                  and s["granularity"] == r["granularity"]
                  and _time(s["last_window"]) + gap >= since  # still going at the start
                  and _time(r["first_window"]) <= _time(s["last_window"]) + gap]
        if before:
            s = max(before, key=lambda x: _time(x["last_window"]))
            taken.add(s["alert_id"])
            r.update(alert_id=s["alert_id"], first_window=_time(s["first_window"]),
                     opened_window=_time(s["opened_window"]))
    ids = {r["alert_id"] for r in fresh}
    kept = [{k: _plain(v) for k, v in s.items()} for s in older
            if _time(s["last_window"]) < since and s["alert_id"] not in ids]
    return kept + fresh


def _plain(value):
    """A stored value as the job writes it: NaT and NaN are None, times are datetimes."""
    if value is None or (not isinstance(value, str | bytes | list | dict) and pd.isna(value)):
        return None
    return value.to_pydatetime() if isinstance(value, pd.Timestamp) else value


def _key(record: dict) -> tuple:
    return tuple(None if v is None or (not isinstance(v, str) and pd.isna(v)) else v
                 for v in (record[k] for k in KEY))


def _time(value) -> datetime:
    return pd.Timestamp(value).to_pydatetime()
