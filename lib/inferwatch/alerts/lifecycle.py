"""From signals per window to alerts: open, grouped, and resolved.

An alert is one incident of one (model, kind, slice): the columns or expectations that
fire together in it are its causes, not alerts of their own. It opens at the first window
of a run of `min_windows` consecutive evaluated windows in which it fires (its
`first_window`: "since when"; `opened_window`: the last of them, at whose end it is
raised), stays open while it keeps firing, and is resolved by
`clear_windows` consecutive evaluated windows without firing (`resolved_window`: the last
of them). Everything is a function of the signals: the same metric tables give the same
alerts with the same ids (a hash of the key and the first window), so a re-run never
duplicates one.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

KEY = ("model_id", "kind", "slice_key", "slice_value")
SEVERITY = {"quality": "critical", "performance": "critical", "coverage": "critical",
            "volume": "critical",
            "drift": "warning", "multivariate": "warning"}


@dataclass
class Alert:
    model_id: str
    kind: str
    slice_key: str
    slice_value: str | None
    granularity: str
    first_window: datetime
    last_window: datetime
    resolved_window: datetime | None = None
    opened_window: datetime | None = None  # the window at whose end it was raised
    causes: dict[str, dict] = field(default_factory=dict)  # column or metric -> its worst

    @property
    def alert_id(self) -> str:
        key = "|".join(str(v) for v in (self.model_id, self.kind, self.slice_key,
                                          self.slice_value, self.first_window.isoformat()))
        return hashlib.sha1(key.encode()).hexdigest()[:16]

    def top(self) -> dict:
        return min(self.causes.values(), key=lambda c: (-(c["score"] or 0.0), c["cause"]))

    def record(self) -> dict:
        top = self.top()
        slice_value = self.slice_value if isinstance(self.slice_value, str) else None
        ranked = sorted(self.causes.values(), key=lambda c: (-(c["score"] or 0.0), c["cause"]))
        where = "" if self.slice_key == "*" else f" [{self.slice_key}={slice_value}]"
        more = f" (+{len(ranked) - 1} more)" if len(ranked) > 1 else ""
        return {
            "alert_id": self.alert_id, "model_id": self.model_id, "kind": self.kind,
            "metric": top["metric"], "column": top["column"], "slice_key": self.slice_key,
            "slice_value": slice_value, "granularity": self.granularity,
            "status": "resolved" if self.resolved_window else "open",
            "severity": SEVERITY.get(self.kind, "warning"),
            "first_window": self.first_window, "opened_window": self.opened_window,
            "last_window": self.last_window,
            "resolved_window": self.resolved_window, "peak_value": top["value"],
            "threshold": top["threshold"], "score": top["score"],
            "message": f"{self.model_id}{where}: {self.kind}: {top['detail']}{more}",
            "causes": json.dumps(ranked, default=str),
        }


def alerts(signals: pd.DataFrame, windows: Sequence[datetime], min_windows: dict[str, int],
           clear_windows: int, strong: dict[str, float] | None = None) -> list[Alert]:
    """The alerts of one model's signals over its evaluated `windows` (sorted, of the
    signals' granularity; a window without data is not evaluated). A window whose
    strongest signal scores at least `strong[kind]` opens a whole-model alert at once
    (slices are small and many: they always need `min_windows`)."""
    position = {w: i for i, w in enumerate(windows)}
    out = []
    if signals.empty:
        return out
    for key, part in signals.groupby(list(KEY), dropna=False, sort=True):
        fired = sorted({position[w] for w in part["window_start"] if w in position})
        part = part[part["window_start"].isin(windows)]
        by_window = {w: g for w, g in part.groupby("window_start")}
        need = min_windows.get(key[1], 1)
        loud = (strong or {}).get(key[1], float("inf")) if key[2] == "*" else float("inf")
        peak = part.groupby("window_start")["score"].max()
        peak = {position[w]: v for w, v in peak.items() if w in position}
        current: Alert | None = None
        run_start, previous = None, None
        for i in fired:
            run_start = i if previous is None or i != previous + 1 else run_start
            previous = i
            if current is not None and current.resolved_window is None:
                if i - position[current.last_window] > clear_windows:
                    current.resolved_window = windows[position[current.last_window]
                                                      + clear_windows]
                    out.append(current)
                    current = None
            if current is None:
                if i - run_start + 1 < need and not peak.get(i, 0.0) >= loud:
                    continue
                current = Alert(*key[:2], key[2], key[3], part["granularity"].iloc[0],
                                first_window=windows[run_start], last_window=windows[i],
                                opened_window=windows[i])
                for j in range(run_start, i + 1):
                    _add(current, by_window.get(windows[j]))
                continue
            current.last_window = windows[i]
            _add(current, by_window.get(windows[i]))
        if current is not None:
            last = position[current.last_window]
            if last + clear_windows < len(windows):
                current.resolved_window = windows[last + clear_windows]
            out.append(current)
    return out


def _add(alert: Alert, rows: pd.DataFrame | None) -> None:
    if rows is None:
        return
    for r in rows.itertuples():
        cause = getattr(r, "cause", None) or (r.column if isinstance(r.column, str)
                                              and r.column else r.metric)
        best = alert.causes.get(cause)
        if best is None or (_num(r.score) or 0.0) > (best["score"] or 0.0):
            alert.causes[cause] = {"cause": cause, "column": r.column if isinstance(
                r.column, str) else None, "metric": r.metric, "value": _num(r.value),
                "threshold": _num(r.threshold), "score": _num(r.score), "detail": r.detail,
                "window": r.window_start, "since": (best or {}).get("since", r.window_start)}


def _num(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number
