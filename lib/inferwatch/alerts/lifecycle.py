"""From signals per window to alerts: open, grouped, and resolved.

An alert is one incident of one (model, kind, slice): the columns or expectations that
fire together in it (starting within `GROUP_WINDOWS` of its first window) are its causes,
not alerts of their own; a cause that starts later is a new incident and a new alert,
even while the first is open. It opens at the first window
of a run of `min_windows` consecutive evaluated windows in which it fires (its
`first_window`: "since when"; `opened_window`: the last of them, at whose end it is
raised), stays open while it keeps firing, and is resolved by
`clear_windows` consecutive evaluated windows in which none of its causes fire
(`resolved_window`: the last of them); a `hold` signal of an owned cause (drift: the
column still near its thresholds) counts as not clear, but never opens an alert or
becomes a cause. Everything is a function of the signals: the same metric tables give the same
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

from inferwatch.alerts.signals import held as hold_rows

KEY = ("model_id", "kind", "slice_key", "slice_value")
SYMPTOMS = {"prediction", "label", "prediction_label"}
GROUP_WINDOWS = 3  # causes starting this close to an alert's first window join it
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
    held_window: datetime | None = None  # the last window a `hold` signal kept it open
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
    strongest signal scores at least `strong[kind]` (drift: on two statistics) opens a
    whole-model alert at once
    (slices are small and many: they always need `min_windows`). An open alert owns its
    causes; a cause that starts firing later than `GROUP_WINDOWS` after the alert's first
    window is a new incident (a second column shifting hours later is news), opened by
    the same rules as the first."""
    position = {w: i for i, w in enumerate(windows)}
    out: list[Alert] = []
    if signals.empty:
        return out
    causes = [_cause(r) for r in signals.itertuples()]
    signals = signals.assign(cause=causes, subject=[c.split(" [")[0] for c in causes],
                             hold=hold_rows(signals))
    for key, part in signals.groupby(list(KEY), dropna=False, sort=True):
        part = part[part["window_start"].isin(windows)]
        confirmed = "confirm" in part
        by_window: dict[int, list] = {}  # each window's rows, as named tuples
        for r in part.itertuples():
            by_window.setdefault(position[r.window_start], []).append(r)
        need = min_windows.get(key[1], 1)
        loud = (strong or {}).get(key[1], float("inf")) if key[2] == "*" else float("inf")
        active: list[Alert] = []
        run_start, previous = None, None  # the current run of windows with unowned causes
        for i in sorted(by_window):
            for alert in list(active):
                last = _last(alert, position)
                if i - last > clear_windows:
                    alert.resolved_window = windows[last + clear_windows]
                    out.append(alert)
                    active.remove(alert)
            held = [r for r in by_window[i] if r.hold]
            rows = [r for r in by_window[i] if not r.hold]
            for alert in active:
                subjects = _subjects(alert)
                if any(r.subject in subjects for r in held):
                    alert.held_window = windows[i]
                young = i - position[alert.first_window] < GROUP_WINDOWS
                if young:
                    others = _owned(active, but=alert)
                    mine = [r for r in rows if r.subject not in others]
                else:
                    owned = _owned(active, only=alert)
                    mine = [r for r in rows if r.subject in owned]
                if mine:
                    # the model's output moves with any incident: it joins an open alert
                    # but does not keep it open (a later incident's would, for days)
                    if not all(r.subject in SYMPTOMS for r in mine):
                        alert.last_window = windows[i]
                    _add(alert, mine)
            owned = _owned(active)
            new = [r for r in rows if r.subject not in owned]
            if not new:
                continue
            run_start = i if previous is None or i != previous + 1 else run_start
            previous = i
            if i - run_start + 1 < need and not _strength(new, confirmed) >= loud:
                continue
            alert = Alert(*key[:2], key[2], key[3], part["granularity"].iloc[0],
                          first_window=windows[run_start], last_window=windows[i],
                          opened_window=windows[i])
            for j in range(run_start, i + 1):
                _add(alert, [r for r in by_window.get(j, ()) if r.subject not in owned])
            active.append(alert)
            run_start, previous = None, None
        for alert in active:
            last = _last(alert, position)
            if last + clear_windows < len(windows):
                alert.resolved_window = windows[last + clear_windows]
            out.append(alert)
    return sorted(out, key=lambda a: (a.model_id, a.kind, str(a.slice_key),
                                      str(a.slice_value), a.first_window))


def _subjects(alert: Alert) -> set[str]:
    return {c["cause"].split(" [")[0] for c in alert.causes.values()}


def _last(alert: Alert, position: dict[datetime, int]) -> int:
    """The position of the alert's last window that was not clear (fired or held)."""
    held = position[alert.held_window] if alert.held_window is not None else -1
    return max(position[alert.last_window], held)


def _strength(rows: list, confirmed: bool) -> float:
    """The window's strongest signal, confirmed (drift: by a second statistic, its
    `confirm` column where the frame has one)."""
    values = [r.confirm if confirmed and not pd.isna(r.confirm) else r.score for r in rows]
    values = [float(v) for v in values if not pd.isna(v)]
    return max(values) if values else float("nan")


def _cause(row) -> str:
    given = getattr(row, "cause", None)
    if isinstance(given, str) and given:
        return given
    return row.column if isinstance(row.column, str) and row.column else row.metric


def _owned(active: list[Alert], but: Alert | None = None, only: Alert | None = None
           ) -> set[str]:
    """The subjects (a cause without its slice) the active alerts own; the model's own
    output (`SYMPTOMS`) is owned by any open alert: it moves with every incident."""
    mine = [a for a in active if a is not but and (only is None or a is only)]
    found = set().union(*[_subjects(a) for a in mine])
    return found | SYMPTOMS if mine else found


def _add(alert: Alert, rows: list) -> None:
    for r in rows:
        cause = _cause(r)
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
