"""The alerts job, last in `hourly`: metric tables -> `alerts`, and notifications.

For each model (its `alerts:` section, `alerts.settings`; a model without one gets the
defaults), the signals of every window (`alerts.signals`: drift, failed critical
expectations, multivariate drift, performance floors and anomalies) become alerts
(`alerts.lifecycle`: grouped per kind and slice, opened, resolved), each performance
alert with its root-cause hints (`alerts.explain`). The model's alerts are a function of
its metric tables, so the job recomputes them and replaces the model's partition of
`alerts` in one commit (a re-run writes the same rows; `opened_at` is kept from the
first run that saw an alert). Opened and resolved alerts queue events in
`alerts_outbox`, delivered to `alerts.webhook_url` within a time budget
(`alerts.notify`): a webhook outage delays notifications, never the pipeline.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone

import pandas as pd

from inferwatch import read
from inferwatch.alerts import explain, lifecycle, notify, signals
from inferwatch.alerts.settings import settings
from inferwatch.config import ModelConfig
from inferwatch.context import Context
from inferwatch.jobs.runs import Run, track
from inferwatch.lake.tables import ALERTS

JOB = "alerts"
TABLE = "alerts"
INPUTS = ("metrics/drift", "metrics/quality", "metrics/multivariate_drift",
          "metrics/performance")


def run(ctx: Context) -> Run:
    models = ctx.selected_models()
    with track(ctx.lake, JOB, {"models": sorted(models)}) as job:
        for model_id, model in sorted(models.items()):
            part = job.for_model(model_id)
            try:
                _model(ctx, model, part)
            except Exception as err:  # noqa: BLE001 - failures are values; others go on
                part.fail(err)
                job.notes.append(f"{model_id}: failed: {part.error[:200]}")
            job.notes += [f"{model_id}: {note}" for note in part.notes]
        _deliver(ctx, job)
        job.add_totals()
    return job


def frames(root: str, model_id: str) -> dict[str, pd.DataFrame]:
    return {name: read.table(root, name, model=model_id) for name in INPUTS}


def evaluate(model: ModelConfig, found: dict[str, pd.DataFrame]) -> list[dict]:
    """The model's alert records from its metric frames (no Spark, no writes)."""
    wanted = settings(model)
    if not wanted["enabled"]:
        return []
    anomaly = wanted["anomaly"]
    perf = found["metrics/performance"]
    fired = pd.concat([
        signals.drift(found["metrics/drift"]), signals.quality(found["metrics/quality"]),
        signals.multivariate(found["metrics/multivariate_drift"]),
        signals.performance(perf, wanted["floors"], anomaly["granularity"],
                            anomaly["min_labeled"]),
        signals.anomalies(perf, anomaly["metrics"], anomaly["granularity"],
                          anomaly["min_labeled"], anomaly["history"], anomaly["z"]),
    ], ignore_index=True)
    records = []
    for granularity, part in fired.groupby("granularity"):
        windows = _windows(found, granularity)
        for alert in lifecycle.alerts(part, windows, wanted["min_windows"],
                                      wanted["clear_windows"]):
            record = alert.record()
            if alert.kind == "performance":
                record["hints"] = json.dumps(explain.hints(
                    found, record["metric"], alert.first_window, granularity), default=str)
            records.append(record)
    return records


def _windows(found: dict[str, pd.DataFrame], granularity: str) -> list[datetime]:
    """The windows a model has data for at `granularity` (evaluated ones: a window with
    no metric row is neither firing nor clear)."""
    seen = set()
    for frame in found.values():
        if not frame.empty and "granularity" in frame:
            seen |= set(frame.loc[frame["granularity"] == granularity, "window_start"])
    return sorted(pd.Timestamp(w).to_pydatetime() for w in seen)


def _model(ctx: Context, model: ModelConfig, part: Run) -> None:
    found = frames(ctx.lake.root, model.model_id)
    records = evaluate(model, found)
    table = ctx.lake.table(TABLE)
    version = table.version()
    before = {r["alert_id"]: r for r in notify.as_dicts(
        read.table(ctx.lake.root, TABLE, model=model.model_id))}
    now = datetime.now(timezone.utc)
    for r in records:
        old = before.get(r["alert_id"], {})
        r.setdefault("hints", None)
        r["opened_at"] = old.get("opened_at", now)
        changed = {k: v for k, v in r.items() if k not in ("opened_at", "updated_at",
                                                           "run_id")} != \
            {k: old.get(k) for k in r if k not in ("opened_at", "updated_at", "run_id")}
        r["updated_at"] = now if changed or not old else old.get("updated_at", now)
        r["run_id"] = part.run_id if changed or not old else old.get("run_id")
    outbox = ctx.lake.table(notify.OUTBOX)
    known = {r["event_id"] for r in notify.as_dicts(
        read.table(ctx.lake.root, notify.OUTBOX, model=model.model_id))
        if r["record"] == "queued"}
    queued = notify.queued_rows(notify.events(records), known)
    if queued:  # before the alerts: a kill in between re-queues nothing twice
        part.outputs[notify.OUTBOX] = outbox.append_arrow(notify.table(queued))
    df = ctx.spark.createDataFrame(
        [tuple(r.get(f.name) for f in ALERTS.fields) for r in records], ALERTS)
    part.outputs[TABLE] = table.replace_partitions(df, [{"model_id": model.model_id}],
                                                   read_version=version)
    opened = sum(r["status"] == "open" for r in records)
    part.rows_out = len(records)
    part.notes.append(f"{len(records)} alerts ({opened} open), {len(queued)} events queued")


def _deliver(ctx: Context, job: Run) -> None:
    url = ctx.env.webhook_url
    if not url:
        return
    waiting = notify.pending(notify.as_dicts(read.table(ctx.lake.root, notify.OUTBOX)))
    attempts = notify.deliver(url, waiting)
    if attempts:
        ctx.lake.table(notify.OUTBOX).append_arrow(notify.table(attempts))
    delivered = sum(bool(a["delivered"]) for a in attempts)
    job.notes.append(f"webhook: {delivered} of {len(waiting)} waiting events delivered"
                     + (f" ({attempts[-1]['error']})" if attempts and
                        not attempts[-1]["delivered"] else ""))


def main(argv: Sequence[str] | None = None) -> None:
    from inferwatch.cli import run_main

    run_main(JOB, argv)
