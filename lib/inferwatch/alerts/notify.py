"""Alert notifications through an outbox: queued in the lake, delivered when possible.

Every alert that opens or resolves queues one event in `alerts_outbox` (append-only: a
`queued` row per event, an `attempt` row per try, `delivered` set on the one that
worked). Delivery is a Slack-compatible JSON POST (`{"text": ...}`) to the webhook URL,
with a timeout per request and a time budget per run: once the server fails (down, slow,
or not 2xx), the run stops trying and the events wait for the next run, so an outage
never delays or fails the pipeline and never loses an event. Event ids are the alert id
and the event, so a re-run queues nothing twice.
"""
from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from inferwatch.redact import redact

OUTBOX = "alerts_outbox"
SCHEMA = pa.schema([
    ("event_id", pa.string()), ("alert_id", pa.string()), ("model_id", pa.string()),
    ("record", pa.string()), ("event", pa.string()), ("payload", pa.string()),
    ("at", pa.timestamp("us", "UTC")), ("delivered", pa.bool_()), ("error", pa.string()),
])
TIMEOUT_SECONDS = 3.0
BUDGET_SECONDS = 10.0


def events(alerts: Iterable[dict]) -> list[dict]:
    """Every event the alerts call for: `opened` for each, `resolved` for each resolved.
    The outbox queues the ones it has not queued yet (`queued_rows`), so the events follow
    from the alerts alone and a run killed before or after queueing converges."""
    out = []
    for alert in alerts:
        out.append(_event(alert, "opened"))
        if alert["status"] == "resolved":
            out.append(_event(alert, "resolved"))
    return out


def _event(alert: dict, event: str) -> dict:
    verb = "resolved" if event == "resolved" else "alert"
    since = f"since {alert['first_window']:%Y-%m-%d %H:%M} UTC"
    text = f"[inferwatch {verb}] {alert['message']} ({since}, severity {alert['severity']})"
    return {"event_id": f"{alert['alert_id']}:{event}", "alert_id": alert["alert_id"],
            "model_id": alert["model_id"], "event": event,
            "payload": json.dumps({"text": text, "alert": alert}, default=str)}


def queued_rows(new: list[dict], known: set[str]) -> list[dict]:
    now = datetime.now(timezone.utc)
    return [{**e, "record": "queued", "at": now, "delivered": None, "error": None}
            for e in new if e["event_id"] not in known]


def pending(outbox: list[dict]) -> list[dict]:
    """Queued events with no delivered attempt, oldest first."""
    done = {r["event_id"] for r in outbox if r["record"] == "attempt" and r["delivered"]}
    waiting = [r for r in outbox if r["record"] == "queued" and r["event_id"] not in done]
    return sorted(waiting, key=lambda r: (r["at"], r["event_id"]))


def deliver(url: str, waiting: list[dict], timeout: float = TIMEOUT_SECONDS,
            budget: float = BUDGET_SECONDS) -> list[dict]:
    """Try the waiting events in order until one fails or the budget is spent; the
    attempt rows to append."""
    start, attempts = time.monotonic(), []
    for row in waiting:
        if time.monotonic() - start > budget:
            break
        error = post(url, row["payload"], timeout)
        attempts.append({**{k: row[k] for k in ("event_id", "alert_id", "model_id", "event")},
                         "record": "attempt", "payload": None,
                         "at": datetime.now(timezone.utc), "delivered": error is None,
                         "error": error})
        if error is not None:
            break  # the server is away: the rest waits for the next run
    return attempts


def post(url: str, payload: str, timeout: float) -> str | None:
    """POST the JSON payload; None when the server took it (2xx), else why not (with
    the URL's path and query masked: the error lands in the outbox and the job's notes)."""
    try:
        request = urllib.request.Request(url, data=payload.encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return None if 200 <= response.status < 300 else f"HTTP {response.status}"
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        return _masked(f"{type(err).__name__}: {getattr(err, 'reason', err)}", url)
    except (ValueError, http.client.HTTPException) as err:
        # a mistyped URL (a space in it: InvalidURL quotes the path) is a failed delivery
        return _masked(f"{type(err).__name__}: {err}", url)


def _masked(text: str, url: str) -> str:
    parts = urlsplit(url)
    return redact(text, extra=[url, parts.path + ("?" + parts.query if parts.query else ""),
                               parts.path, parts.query])


def table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist([{k: r.get(k) for k in SCHEMA.names} for r in rows],
                                schema=SCHEMA)


def as_dicts(frame: Any) -> list[dict]:
    return [] if frame is None else frame.to_dict("records")
