"""What the notebooks and the report read: one model's metric tables as pandas frames,
through `inferwatch.read` (delta-rs, no Spark).

    >>> data = load("lake", "fraud", start="2026-03-03")
    >>> data.performance.granularity.unique()
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from inferwatch import read
from inferwatch.errors import UserError
from inferwatch.granularity import granularity as lookup_granularity

ALERTS_TABLE = "alerts"


@dataclass
class ModelData:
    """One model's rows of the metric tables within [start, end) of `window_start`.
    `quality` is empty when the lake has no metrics/quality table; `alerts` is None when
    the lake (or this version of inferwatch) has no alerts table yet."""

    lake: str
    model: str
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    performance: pd.DataFrame
    drift: pd.DataFrame
    quality: pd.DataFrame
    alerts: pd.DataFrame | None

    @property
    def empty(self) -> bool:
        return self.performance.empty and self.drift.empty and self.quality.empty


def utc(value: str | datetime | pd.Timestamp | None) -> pd.Timestamp | None:
    """A timestamp in UTC; one without a zone is taken as UTC (as everywhere in the lake)."""
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except ValueError as err:
        raise UserError(f"'{value}' is not a timestamp like 2026-03-02T10:00") from err
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def locate(lake: str) -> str:
    """The lake as given, or `../<lake>` for a relative path that only exists from the
    parent folder: Jupyter runs a notebook of `notebooks/` from that folder, while
    `make demo` writes `demo/lake` at the repository root."""
    if "://" in lake or Path(lake).is_absolute() or Path(lake).exists():
        return lake
    parent = Path("..") / lake
    return str(parent) if parent.exists() else lake


def window_end(window: pd.Timestamp, granularity: str) -> pd.Timestamp:
    """The end of the `granularity` window starting at `window` (an unknown granularity is
    a one-line `UserError`)."""
    return lookup_granularity(granularity).window_end(window)


def _range(start: pd.Timestamp | None, end: pd.Timestamp | None) -> str:
    if start is None and end is None:
        return ""
    return f" in [{start or '...'}, {end or '...'})"


def alerts(lake: str, model: str, start: pd.Timestamp | None = None,
           end: pd.Timestamp | None = None) -> pd.DataFrame | None:
    """The model's alerts, or None while there is no alerts table to read."""
    if not read.exists(lake, ALERTS_TABLE):
        return None
    found = read.table(lake, ALERTS_TABLE, model=model)
    if found.empty:
        return found
    until = found["resolved_window"].fillna(found["last_window"])
    keep = pd.Series(True, index=found.index)
    if start is not None:
        keep &= until >= pd.Timestamp(start)
    if end is not None:
        keep &= found["first_window"] < pd.Timestamp(end)
    return found[keep].reset_index(drop=True)


def load(lake: str, model: str, start: str | datetime | None = None,
         end: str | datetime | None = None) -> ModelData:
    """The model's performance, drift, quality and alerts rows in [start, end). An unknown
    model, or one without any metric row in the range, is a `UserError` (one line)."""
    first, last = utc(start), utc(end)
    if first is not None and last is not None and first >= last:
        raise UserError(f"--start {first} is not before --end {last}")
    frames = {name: read.table(lake, name, model=model, start=first, end=last)
              for name in ("metrics/performance", "metrics/drift", "metrics/quality")}
    data = ModelData(lake, model, first, last, frames["metrics/performance"],
                     read.drift_metrics(frames["metrics/drift"]), frames["metrics/quality"],
                     alerts(lake, model, first, last))
    if data.empty:
        # read.view names the models the lake knows when this one is not among them.
        read.view(lake, "performance", model=model)
        if not any(read.exists(lake, name) for name in ("inferences", *frames)):
            raise UserError(f"no inferwatch lake at {lake} (no inferences or metrics/ "
                            "tables): give the lake root, or run `make demo` first")
        raise UserError(f"no metric rows of model '{model}' under {lake}{_range(first, last)}; "
                        "run the pipeline (`inferwatch run hourly`) or widen the range")
    return data


def version_volume(lake: str, model: str, start: pd.Timestamp | None = None,
                   end: pd.Timestamp | None = None, freq: str = "1h") -> pd.DataFrame:
    """Inferences per hour (or `freq`) and `model_version`, counted from the `inferences`
    table itself: one column per version, the busiest first (the champion, by volume)."""
    rows = read.table(lake, "inferences", model=model)
    if rows.empty:
        return pd.DataFrame()
    ts = rows["ts"] if rows["ts"].dt.tz is not None else rows["ts"].dt.tz_localize("UTC")
    keep = pd.Series(True, index=rows.index)
    if start is not None:
        keep &= ts >= start
    if end is not None:
        keep &= ts < end
    counts = (rows[keep].assign(window_start=ts[keep].dt.floor(freq))
              .groupby(["window_start", "model_version"], dropna=False).size()
              .unstack("model_version", fill_value=0))
    return counts[counts.sum().sort_values(ascending=False).index]
