"""What the alerts job reads: the metric tables, the stored alerts and the outbox, as
pandas frames through the lake's storage settings, for one model or for a batch of
models at once (one read per table per `BATCH` models, cut per model in memory).

A model's metric rows start at `since`: the newest window of its `metrics/performance`
(else `metrics/drift`) less its anomaly histories' span, at the start of that day, found
from the Delta log's file statistics. `metrics/drift` is read as one row per statistic
(`read.drift_metrics`). Windows holding an hour the table's job still owes are left out
(`without_owed`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from inferwatch import read
from inferwatch.alerts import signals
from inferwatch.granularity import GRANULARITIES

if TYPE_CHECKING:  # the read side (report, notebooks) imports this module without Spark
    from inferwatch.lake.tables import Lake

INPUTS = ("metrics/drift", "metrics/quality", "metrics/multivariate_drift",
          "metrics/performance")
# models whose tables one read holds: the reads follow models / BATCH, the memory BATCH
BATCH = 50
NEWEST_FROM = ("metrics/performance", "metrics/drift")
# the drift signals of a batch's models (`signals.drift`), found once for all of them and
# cut per model like a table; a window owed to `metrics/drift` is owed here too
DRIFT_SIGNALS = "drift signals"
WRITTEN_FROM = {DRIFT_SIGNALS: "metrics/drift"}
# the `metrics/drift` rows alerts judge: hourly comparisons with the baseline (every
# slice: `signals.drift`), and the whole model's of any window (`explain` hints); the
# previous-window comparisons and the slices of days and weeks are half the table and
# more, and nothing here reads them
JUDGED = {"metrics/drift": [[("comparison", "=", "baseline"), ("granularity", "=", "1h")],
                            [("comparison", "=", "baseline"), ("slice_key", "=", "*")]]}


def read_frame(lake: Lake, name: str, model_ids: Sequence[str] | None = None,
               start: datetime | None = None, any_of: Sequence[list[tuple]] = ()
               ) -> pd.DataFrame:
    """A table's rows of `model_ids` (all when None) with `window_start >= start` where it
    has those columns, and meeting one of the `any_of` conditions (each a list of
    (column, op, value) that all hold) when given, through the lake's storage
    settings."""
    table = lake.table(name)
    if not table.exists():
        return pd.DataFrame()
    present = set(table.schema().fieldNames())
    filters = []
    if model_ids is not None and "model_id" in present:
        filters.append(("model_id", "in", list(model_ids)))
    if start is not None and "window_start" in present:
        filters.append(("window_start", ">=", _utc(start).to_pydatetime()))
    dnf = [filters + list(c) for c in any_of] if any_of else filters
    return table.delta().to_pandas(filters=dnf or None).reset_index(drop=True)


def newest(lake: Lake, model_ids: Iterable[str]) -> dict[str, datetime]:
    """{model_id: its newest `window_start`} in `metrics/performance` (else
    `metrics/drift`), from one listing of each table's file statistics (a file without
    them: its column is read)."""
    wanted, found = set(model_ids), {}
    for name in NEWEST_FROM:
        table = lake.table(name)
        missing = wanted - set(found)
        if not missing or not table.exists():
            continue
        highs: dict[str, list] = {}
        for f in table.files(where=lambda p: p.get("model_id") in missing,
                             stats=("window_start",)):
            highs.setdefault(f.partition["model_id"], []).append(
                f.bounds.get("window_start", (None, None))[1])
        unknown = sorted(m for m, h in highs.items() if any(v is None for v in h))
        if unknown:
            frame = read_frame(lake, name, unknown)
            for model_id, rows in frame.groupby("model_id"):
                highs[model_id] = [rows["window_start"].max()]
        for model_id, values in highs.items():
            values = [v for v in values if v is not None]
            if values:
                found[model_id] = pd.Timestamp(max(values)).to_pydatetime()
    return found


def since(lake: Lake, model_id: str, span: timedelta) -> datetime | None:
    """`history.start` through the lake's storage settings: the newest window of the
    model's `metrics/performance` (else `metrics/drift`) less `span`, at the start of its
    day; None when there is nothing yet."""
    return start_of(newest(lake, [model_id]).get(model_id), span)


def start_of(newest_window: datetime | None, span: timedelta) -> datetime | None:
    if newest_window is None:
        return None
    return (pd.Timestamp(newest_window) - span).floor("D").to_pydatetime()  # whole days


def frames(root: str | Lake, model_id: str, start: datetime | None = None
           ) -> dict[str, pd.DataFrame]:
    """The model's metric frames: from a lake root (`inferwatch.read`, object-store
    credentials from the environment) or through the job's `Lake` (its storage settings);
    `metrics/drift` as one row per statistic (`read.drift_metrics`)."""
    if isinstance(root, str):
        found = {name: read.table(root, name, model=model_id, start=start) for name in INPUTS}
    else:
        found = {name: read_frame(root, name, [model_id], start) for name in INPUTS}
    found["metrics/drift"] = read.drift_metrics(found["metrics/drift"])
    return found


class Batch:
    """The input tables, stored alerts and outbox of a batch of models, each table read
    once (rows from the earliest model's start on; of `metrics/drift`, the `JUDGED` rows)
    and cut per model."""

    def __init__(self, lake: Lake, starts: Mapping[str, datetime | None], tables: Sequence[str]):
        ids = sorted(starts)
        known = [s for s in starts.values() if s is not None]
        first = min(known) if len(known) == len(starts) else None
        self.starts = dict(starts)
        got = {name: read_frame(lake, name, ids, first if name in INPUTS else None,
                                JUDGED.get(name, ())) for name in (*INPUTS, *tables)}
        if not got["metrics/drift"].empty:
            got["metrics/drift"] = read.drift_metrics(got["metrics/drift"])
            try:  # every model's at once; if any row breaks it, each model's alone
                got[DRIFT_SIGNALS] = signals.drift(got["metrics/drift"])
            except Exception:  # noqa: BLE001 - `evaluate` finds the model that breaks it
                pass
        for frame in got.values():  # once per table: per model, 500 conversions cost seconds
            if "window_start" in frame:
                frame["window_start"] = pd.to_datetime(frame["window_start"], utc=True,
                                                       cache=False)
        self.tables = {name: _by_model(frame) for name, frame in got.items()}

    def frames(self, model_id: str) -> dict[str, pd.DataFrame]:
        """`frames(lake, model_id, its start)`, cut from the batch's reads."""
        start = self.starts.get(model_id)
        out = {}
        for name in (*INPUTS, DRIFT_SIGNALS):
            if name not in self.tables:
                continue
            rows = self.rows(name, model_id)
            if start is not None and "window_start" in rows:
                rows = rows[rows["window_start"] >= _utc(start)]
            out[name] = rows.reset_index(drop=True)
        return out

    def rows(self, name: str, model_id: str) -> pd.DataFrame:
        return self.tables[name].get(model_id, _EMPTY)


_EMPTY = pd.DataFrame()


def _utc(moment: datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _by_model(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    if frame.empty or "model_id" not in frame:
        return {}
    return {m: rows.reset_index(drop=True) for m, rows in frame.groupby("model_id", sort=False)}


def without_owed(found: dict[str, pd.DataFrame], owed: dict[str, set[datetime]]
                 ) -> dict[str, pd.DataFrame]:
    """The frames without the windows (an hour, its day, its week) that hold an hour the
    table's job still owes: built from missing or stale inputs, they are not evaluated
    until that job has done the hour (each run evaluates every window again)."""
    out = {}
    for name, frame in found.items():
        hours = owed.get(WRITTEN_FROM.get(name, name)) or set()
        if not hours or frame.empty or "granularity" not in frame:
            out[name] = frame
            continue
        held = {(g.name, pd.Timestamp(g.truncate(h))) for h in hours
                for g in GRANULARITIES.values()}
        starts = pd.to_datetime(frame["window_start"], utc=True)
        keep = [(g, w) not in held for g, w in zip(frame["granularity"], starts)]
        out[name] = frame[keep].reset_index(drop=True)
    return out
