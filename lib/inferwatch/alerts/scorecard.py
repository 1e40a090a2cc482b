"""Alerts scored against a scenario's incident manifest (the demo's last word).

An alert matches an incident of its model when it covers a window at or after the onset
(and before the end, if the incident ends) and is about it: one of its causes is the
incident's column (drift, quality), or, for an incident without a column (concept drift,
labels that stop), it is a performance alert. Per incident: detected or not, and hours
from onset to the first window of the first matching alert; then the alerts that match
no incident, per model per simulated week (on average, and the most in any one model's
week: the budget is at most one).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd

from inferwatch.granularity import GRANULARITIES, truncate

LABEL_BOUND = {"concept_drift", "label_stop"}  # seen only once labels arrive (or do not)
# conditions of the whole run, below the alert limits by design (1% duplicates, a dozen
# malformed rows): partition and quarantine handle them; an alert would be noise
BACKGROUND = {"duplicates", "malformed"}
SYMPTOMS = {"prediction", "label", "prediction_label"}  # move with any incident


def _floor(moment: datetime, granularity: str) -> datetime:
    # a weekly alert's windows are counted from the onset's day, not its ISO week
    return truncate(pd.Timestamp(moment).to_pydatetime(), "1d" if granularity == "1w"
                    else granularity)


def score(alerts: pd.DataFrame, manifest: dict) -> dict:
    incidents = manifest["incidents"]
    matched_ids: set[str] = set()
    rows = []
    for inc in incidents:
        if inc["kind"] in BACKGROUND:
            continue
        onset = _time(inc["onset"])
        end = _time(inc["end"]) if inc.get("end") else None
        hits = [a for a in _records(alerts) if a["model_id"] == inc["model_id"]
                and _covers(a, onset, end) and _about(a, inc)]
        matched_ids |= {a["alert_id"] for a in hits}
        hits = [{**a, "raised": max(a["raised"], _since(a, inc))} for a in hits]
        first = min(hits, key=lambda a: a["raised"], default=None)
        rows.append({"model_id": inc["model_id"], "kind": inc["kind"],
                     "column": inc.get("column"), "slice": inc.get("slice"),
                     "onset": onset, "detected": first is not None,
                     "hours_to_alert": None if first is None else
                     max((first["raised"] - onset) / timedelta(hours=1), 0.0),
                     "windows_to_alert": None if first is None else
                     max(int((first["raised"] - _floor(onset, first["granularity"]))
                             / GRANULARITIES[first["granularity"]].step), 1),
                     "needs_labels": inc["kind"] in LABEL_BOUND})
    weeks = (_time(manifest["end"]) - _time(manifest["start"])) / timedelta(days=7)
    unmatched = [a for a in _records(alerts) if a["alert_id"] not in matched_ids]
    models = max(len(manifest.get("models") or {i["model_id"] for i in incidents
                                                if i["model_id"]}), 1)
    start = _time(manifest["start"])
    buckets: dict[tuple, int] = {}
    for a in unmatched:  # per model and simulated week (7-day periods from the start)
        key = (a["model_id"], int((a["first_window"] - start) / timedelta(days=7)))
        buckets[key] = buckets.get(key, 0) + 1
    return {"incidents": rows, "unmatched": len(unmatched),
            "unmatched_per_model_week": len(unmatched) / models / max(weeks, 1e-9),
            "unmatched_most_in_a_model_week": max(buckets.values(), default=0),
            "unmatched_alerts": [a["message"] for a in unmatched]}


def text(card: dict) -> list[str]:
    lines = ["scorecard (alerts vs the scenario's incidents):"]
    for r in card["incidents"]:
        what = f"{r['model_id']} {r['kind']}" + (f" {r['column']}" if r["column"] else "") \
            + (f" [{r['slice']}]" if r["slice"] else "")
        if r["detected"]:
            verdict = (f"detected {r['hours_to_alert']:.0f} h after onset (window "
                       f"{r['windows_to_alert']} of the alert's granularity)")
        else:
            verdict = "NOT detected" + (" (shows only through labels)" if r["needs_labels"]
                                        else "")
        lines.append(f"  {what:<45} {verdict}")
    lines.append(f"  alerts matching no incident: {card['unmatched']} "
                 f"({card['unmatched_per_model_week']:.2f} per model per week; at most "
                 f"{card['unmatched_most_in_a_model_week']} in one model's simulated week)")
    return lines


def _records(alerts: pd.DataFrame) -> list[dict]:
    if alerts is None or alerts.empty:
        return []
    out = []
    for r in alerts.to_dict("records"):
        r["first_window"] = pd.Timestamp(r["first_window"]).to_pydatetime()
        r["opened_window"] = pd.Timestamp(r["opened_window"]).to_pydatetime()
        r["raised"] = r["opened_window"] + GRANULARITIES[r["granularity"]].step  # when its window closed
        last = r["resolved_window"] if pd.notna(r["resolved_window"]) else r["last_window"]
        r["until"] = pd.Timestamp(last).to_pydatetime()
        r["causes"] = json.loads(r["causes"] or "[]")
        r["columns"] = {c.get("column") for c in r["causes"]}
        out.append(r)
    return out


def _since(alert: dict, incident: dict) -> datetime:
    """When the alert said something about the incident: for an alert already open, the
    end of the first window its causes named the incident's column."""
    column = incident.get("column")
    times = [pd.Timestamp(c["since"]).to_pydatetime() for c in alert["causes"]
             if column and c.get("column") == column and c.get("since")]
    return min(times) + GRANULARITIES[alert["granularity"]].step if times else alert["raised"]


def _covers(alert: dict, onset: datetime, end: datetime | None) -> bool:
    return alert["until"] >= onset and (end is None or alert["first_window"] < end)


def _about(alert: dict, incident: dict) -> bool:
    if alert["columns"] and alert["columns"] <= SYMPTOMS:
        return True  # the model's output or labels moved: a consequence of the incident
    column = incident.get("column")
    if column:
        return column in alert["columns"]
    if incident["kind"] == "label_stop":
        return alert["kind"] == "coverage"
    return alert["kind"] == "performance"


def _time(text: str) -> datetime:
    return pd.Timestamp(text).to_pydatetime()
