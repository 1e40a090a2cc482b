"""The alerts job, last in `hourly`: metric tables -> `alerts`, and notifications.

For each model (its `alerts:` section, `alerts.settings`; a model without one gets the
defaults), the signals of every window (`alerts.signals`: drift, failed critical
expectations, multivariate drift, floors and ceilings on any performance column,
anomalies) become alerts
(`alerts.lifecycle`: grouped per kind and slice, opened, resolved), each performance
alert with its root-cause hints (`alerts.explain`), from the metric rows of a trailing
range (`alerts.history`: the anomaly histories, at least 28 days). The model's alerts are a function of
its metric tables, so the job recomputes them and replaces every model's partition of
`alerts` in one commit (a re-run writes the same rows; `opened_at` is kept from the
first run that saw an alert). Opened and resolved alerts queue events in
`alerts_outbox` (one append for every model, before the alerts' commit), delivered to
`alerts.webhook_url` within a time budget (`alerts.notify`): a webhook outage delays
notifications, never the pipeline.

A window that holds an hour the job writing its metric table still owes (`hours_owed` of
that job's last run for the model: drift, quality, multivariate or performance) is left
out, neither firing nor clear, until that job has done it: its rows are missing or
stale. Tables are read through the lake's storage settings (the environment file's
`storage:`), like every other job.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd

from inferwatch.alerts import explain, history, inputs, lifecycle, notify, performance, signals
from inferwatch.alerts.settings import SEVERITIES, settings
from inferwatch.model_config import ModelConfig
from inferwatch.context import Context
from inferwatch.jobs.todo import failed
from inferwatch.runs import Progress, Run, track
from inferwatch.lake.schema import arrow_rows
from inferwatch.lake.tables import ALERTS

JOB = "alerts"
TABLE = "alerts"
INPUTS = inputs.INPUTS
# the job that writes each input: the hours it owes a model are not final there yet
WRITERS = {"metrics/drift": "drift", "metrics/quality": "quality",
           "metrics/multivariate_drift": "multivariate", "metrics/performance": "performance"}


def run(ctx: Context) -> Run:
    models = ctx.selected_models()
    with track(ctx.lake, JOB, {"models": sorted(models)}) as job:
        writers = {name: Progress(ctx.lake, writer) for name, writer in WRITERS.items()}
        version = ctx.lake.table(TABLE).version()
        done: dict[str, tuple[list[dict], list[dict]]] = {}
        ids = sorted(models)
        for first in range(0, len(ids), inputs.BATCH):
            batch = ids[first:first + inputs.BATCH]
            wanted = _settings(ctx, job, {m: models[m] for m in batch})
            try:  # each table read once for the batch, cut per model
                found = inputs.Batch(ctx.lake, {m: start for m, (_s, start) in wanted.items()},
                                     (TABLE, notify.OUTBOX))
            except Exception as err:  # noqa: BLE001 - failures are values; others go on
                for model_id in wanted:
                    failed(job.for_model(model_id), err)
                continue
            for model_id in sorted(wanted):
                part = job.for_model(model_id)
                try:
                    done[model_id] = _model(models[model_id], part, {n: p.owed(model_id) for n, p in
                                                          writers.items()}, found,
                                            *wanted[model_id])
                except Exception as err:  # noqa: BLE001 - failures are values; others go on
                    failed(part, err)
        _write(ctx, job, done, version)
        for model_id, part in sorted(job.models.items()):
            job.notes += [f"{model_id}: {note}" for note in part.notes]
        _deliver(ctx, job)
        job.add_totals()
    return job


def _write(ctx: Context, job: Run, done: dict[str, tuple[list[dict], list[dict]]],
           version: int) -> None:
    """Every model's new events with one append to the outbox, then every model's alerts
    with one replace of their partitions of `alerts` (refused if another run changed
    them since `version`): one commit per table, whatever the number of models."""
    if not done:
        return
    queued = [e for _records, events in done.values() for e in events]
    if queued:  # before the alerts: a kill in between re-queues nothing twice
        appended = ctx.lake.table(notify.OUTBOX).append_arrow(notify.table(queued))
        for model_id, (_records, events) in done.items():
            if events:
                job.for_model(model_id).outputs[notify.OUTBOX] = appended
    records = [r for rows, _events in done.values() for r in rows]
    rows = arrow_rows([tuple(r.get(f.name) for f in ALERTS.fields) for r in records], ALERTS)
    replaced = ctx.lake.table(TABLE).replace_partitions(  # a few rows: no Spark write
        rows, [{"model_id": m} for m in sorted(done)], read_version=version)
    for model_id in done:
        job.for_model(model_id).outputs[TABLE] = replaced


def evaluate(wanted: dict, found: dict[str, pd.DataFrame]) -> list[dict]:
    """The model's alert records from its settings (`alerts.settings`) and metric frames
    (no Spark, no writes); its drift signals from `found` when a batch found them."""
    if not wanted["enabled"]:
        return []
    perf = found["metrics/performance"]
    fired = pd.concat([part for part in [
        found[inputs.DRIFT_SIGNALS] if inputs.DRIFT_SIGNALS in found
        else signals.drift(found["metrics/drift"]), signals.quality(found["metrics/quality"]),
        signals.multivariate(found["metrics/multivariate_drift"]),
        performance.performance(perf, wanted["rules"], wanted["min_labeled"]),
        *[performance.anomalies(perf, a["metrics"], a["granularity"], a["min_labeled"],
                            a["history"], a["z"], a["seasonal"])
          for a in wanted["anomalies"]],
        performance.coverage(perf, **wanted["coverage"]),
    ] if not part.empty] or [signals.empty()], ignore_index=True)
    records = []
    fired = fold_slices(fired)
    for (kind, granularity), part in fired.groupby(["kind", "granularity"]):
        windows = sorted(set(_windows(found[SOURCE[kind]], granularity))
                         | {pd.Timestamp(w).to_pydatetime() for w in part["window_start"]})
        for alert in lifecycle.alerts(part, windows, wanted["min_windows"],
                                      wanted["clear_windows"], wanted["strong"]):
            record = alert.record()
            if alert.kind == "performance":
                record["hints"] = json.dumps(explain.hints(
                    found, record["metric"], alert.first_window, granularity), default=str)
            records.append(record)
    return records


def fold_slices(fired: pd.DataFrame) -> pd.DataFrame:
    """A slice's signal for what also fires for the whole model in the same window (same
    kind and column, or metric) becomes a cause of the whole model's alert, named with its
    slice: one incident, not one alert per slice it shows in."""
    fired = fired.assign(cause=fired["column"].where(fired["column"].notna(), fired["metric"]))
    firing = fired["slice_key"].eq("*") & ~signals.held(fired)
    whole = set(zip(*[fired.loc[firing, k] for k in ("window_start", "kind", "cause")]))
    inside = [(w, k, c) in whole and s != "*" for w, k, c, s in
              zip(fired["window_start"], fired["kind"], fired["cause"], fired["slice_key"])]
    named = fired["cause"] + " [" + fired["slice_key"] + "=" + fired["slice_value"].astype(
        str) + "]"
    fired.loc[inside, "cause"] = named[inside]
    fired.loc[inside, ["slice_key", "slice_value"]] = "*"
    return fired


SOURCE = {"drift": "metrics/drift", "quality": "metrics/quality",
          "multivariate": "metrics/multivariate_drift", "performance": "metrics/performance",
          "coverage": "metrics/performance", "volume": "metrics/performance"}


def _windows(frame: pd.DataFrame, granularity: str) -> list[datetime]:
    """The windows the kind's table has rows for at `granularity`: the evaluated ones (a
    window the table has nothing for, or only `insufficient_data` drift rows, is neither
    firing nor clear: the alert's run of windows goes on through it; `evaluate` adds the
    windows that fire, such as a small hour with a shift too large to be chance)."""
    if frame.empty or "granularity" not in frame:
        return []
    if "status" in frame:  # drift: an hour with too few rows to judge is not evaluated
        frame = frame[frame["status"] == "ok"]
    seen = frame.loc[frame["granularity"] == granularity, "window_start"].unique()
    return sorted(pd.Timestamp(w).to_pydatetime() for w in seen)


def _settings(ctx: Context, job: Run, models: dict[str, ModelConfig]
              ) -> dict[str, tuple[dict, datetime | None]]:
    """{model_id: (its alert settings, where its metric rows start)} of the models whose
    settings load (the others fail), the starts from one listing per table."""
    newest = inputs.newest(ctx.lake, models)
    out = {}
    for model_id, model in sorted(models.items()):
        try:
            wanted = settings(model)
            out[model_id] = wanted, inputs.start_of(newest.get(model_id),
                                                    history.lookback(wanted))
        except Exception as err:  # noqa: BLE001 - failures are values; others go on
            failed(job.for_model(model_id), err)
    return out


def _model(model: ModelConfig, part: Run, owed: dict[str, set[datetime]],
           batch: inputs.Batch, wanted: dict, start: datetime | None
           ) -> tuple[list[dict], list[dict]]:
    """The model's alerts as its metric tables now say (`opened_at` kept from the stored
    ones) and the events they newly queue; nothing is written here."""
    stored = notify.as_dicts(batch.rows(TABLE, model.model_id))
    found = batch.frames(model.model_id)
    fresh = evaluate(wanted, inputs.without_owed(found, owed))
    waiting = sorted({h for hours in owed.values() for h in hours})
    if waiting:  # say whose: the other tables' signals of those hours are evaluated
        whose = ", ".join(f"{WRITERS[n]} {len(h)}" for n, h in sorted(owed.items()) if h)
        part.notes.append(f"{len(waiting)} hours left out of the signals of the jobs that "
                          f"still owe them ({whose}; first {waiting[0].isoformat()})")
    records = history.continued(stored, fresh, start, wanted["clear_windows"])
    before = {r["alert_id"]: r for r in stored}
    now = datetime.now(timezone.utc)
    for r in records:
        old = before.get(r["alert_id"])
        r.setdefault("hints", None)
        changed = old is None or any(_text(r[k]) != _text(old.get(k)) for k in TRACKED)
        r["opened_at"] = now if old is None else _moment(old["opened_at"])
        r["updated_at"] = now if changed else _moment(old["updated_at"])
        r["run_id"] = part.run_id if changed else old["run_id"]
    known = {r["event_id"] for r in notify.as_dicts(
        batch.rows(notify.OUTBOX, model.model_id)) if r["record"] == "queued"}
    rank = SEVERITIES.index(wanted["min_severity"])
    told = [r for r in records if SEVERITIES.index(r["severity"]) >= rank]
    queued = notify.queued_rows(notify.events(told), known)
    opened = sum(r["status"] == "open" for r in records)
    part.rows_out = len(records)
    part.notes.append(f"{len(records)} alerts ({opened} open), {len(queued)} events queued")
    return records, queued


TRACKED = ("status", "last_window", "resolved_window", "message", "causes")


def _text(value) -> str:
    """A stored value and a fresh one compared alike (NaT, NaN and None are all null)."""
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) \
        else str(pd.Timestamp(value) if isinstance(value, datetime) else value)


def _moment(value) -> datetime:
    return pd.Timestamp(value).to_pydatetime()


def _deliver(ctx: Context, job: Run) -> None:
    """Deliver the waiting events of every model to its webhook (the model's
    `alerts.webhook`, else the environment's), within each webhook's time budget."""
    urls = {}
    for model_id, model in ctx.selected_models().items():
        try:
            urls[model_id] = settings(model)["webhook"] or ctx.env.webhook_url
        except Exception:  # noqa: BLE001 - its own part already failed on it
            continue
    waiting = notify.pending(notify.as_dicts(inputs.read_frame(ctx.lake, notify.OUTBOX)))
    attempts = []
    for url in sorted({u for u in urls.values() if u}):
        mine = [e for e in waiting if urls.get(e["model_id"]) == url]
        tried = notify.deliver(url, mine)
        attempts += tried
        if mine:
            delivered = sum(bool(a["delivered"]) for a in tried)
            failed = [a["error"] for a in tried if not a["delivered"]]
            job.notes.append(f"webhook: {delivered} of {len(mine)} waiting events delivered"
                             + (f" ({failed[-1]})" if failed else ""))
    if attempts:
        ctx.lake.table(notify.OUTBOX).append_arrow(notify.table(attempts))
