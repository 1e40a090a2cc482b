"""Incidents, labels, duplicates and malformed rows for the synthetic scenario.

The scenario generator in :mod:`inferwatch.scenario` simulates clean traffic; this module
holds everything that makes it realistic and testable: the incident schedule (scaled with
the scenario length, always after the first, baseline day), the feature corruptions, the
label log with its delays, corrections and gaps, re-delivered duplicates and malformed
rows. Timestamps are handled as int64 microseconds since the epoch for speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

US_PER_HOUR = 3_600_000_000
US_PER_MINUTE = 60_000_000
US_PER_DAY = 24 * US_PER_HOUR

NEVER_LABELLED_RATE = 0.10
CORRECTION_RATE = 0.01
DUPLICATE_RATE = 0.01
HINT_MISSING_RATE = 0.30
NULL_SPIKE_RATE = 0.40

# (model, kind, column, slice (column, value) | None, onset fraction, end fraction | None,
#  params). Fractions are of the post-baseline period, so every incident starts after day 1.
_SCHEDULE: tuple[tuple, ...] = (
    ("fraud", "null_spike", "account_age_days", None, 0.10, 0.30, {"rate": NULL_SPIKE_RATE}),
    ("fraud", "covariate_drift", "amount", None, 0.25, None, {"factor": 1.8}),
    ("fraud", "concept_drift", None, ("country", "GB"), 0.35, None, {"logit_shift": 1.6}),
    ("eta", "unit_change", "distance_km", None, 0.40, None, {"factor": 0.621}),
    ("fraud", "label_stop", None, ("country", "BR"), 0.50, None, {}),
    ("eta", "stale_feature", "courier_load", None, 0.60, 0.85, {"value": 1.0}),
)

_DETAILS = {
    "null_spike": "{column} is null in ~{rate:.0%} of rows (the model imputes its median)",
    "covariate_drift": "{column} multiplied by {factor} in the real world (scores follow)",
    "concept_drift": "fraud rate rises in the slice: true logit +{logit_shift}, "
    "labels no longer follow the score",
    "unit_change": "{column} logged in miles (x{factor}); the model consumes the logged "
    "value, so estimates drop while true delivery times do not",
    "label_stop": "no label events with label_ts >= onset for the slice",
    "stale_feature": "{column} frozen to {value} in the log and in the model's input",
}


@dataclass(frozen=True)
class Incident:
    """One injected incident, with hour offsets from the scenario start."""

    model_id: str | None
    kind: str
    column: str | None
    slice: tuple[str, str] | None
    onset_h: int
    end_h: int | None
    detail: str
    params: dict = field(default_factory=dict)

    def window_mask(self, ts_us: np.ndarray, start_us: int) -> np.ndarray:
        """True for timestamps inside [onset, end)."""
        mask = ts_us >= start_us + self.onset_h * US_PER_HOUR
        if self.end_h is not None:
            mask &= ts_us < start_us + self.end_h * US_PER_HOUR
        return mask

    def to_manifest(self, start: datetime) -> dict:
        """JSON-ready manifest entry (ISO hours, SQL-style slice predicate)."""
        return {
            "model_id": self.model_id,
            "kind": self.kind,
            "column": self.column,
            "slice": None if self.slice is None else f"{self.slice[0]} = '{self.slice[1]}'",
            "onset": iso(start + timedelta(hours=self.onset_h)),
            "end": None if self.end_h is None else iso(start + timedelta(hours=self.end_h)),
            "detail": self.detail,
        }


def iso(ts: datetime | pd.Timestamp) -> str:
    """UTC ISO-8601 with a trailing Z, microseconds only when non-zero."""
    ts = pd.Timestamp(ts).tz_convert("UTC")
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if ts.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return ts.strftime(fmt)


def plan_incidents(models: tuple[str, ...], days: int) -> list[Incident]:
    """The feature/label incidents for ``models``, onsets scaled with ``days``.

    With ``days >= 2`` the onset hour is ``24 + floor(f * (24 * days - 24))`` for a fixed
    fraction ``f`` per incident, so the first day stays clean as a baseline; with one day
    the fractions apply to the whole day.
    """
    base = 24 if days >= 2 else 0
    period = 24 * days - base
    out = []
    for model, kind, column, slc, f_on, f_end, params in _SCHEDULE:
        if model not in models:
            continue
        onset = base + int(np.floor(f_on * period))
        end = None if f_end is None else max(onset + 1, base + int(np.floor(f_end * period)))
        detail = _DETAILS[kind].format(column=column, **params)
        out.append(Incident(model, kind, column, slc, onset, end, detail, params))
    return out


def apply_world(frame: pd.DataFrame, incidents: list[Incident], start_us: int) -> None:
    """In place: incidents that change reality (covariate drift) on the true features."""
    for inc in incidents:
        if inc.kind == "covariate_drift":
            mask = inc.window_mask(frame["ts_us"].to_numpy(), start_us)
            frame.loc[mask, inc.column] = (frame.loc[mask, inc.column] * inc.params["factor"]).round(2)


def apply_pipeline(
    frame: pd.DataFrame, incidents: list[Incident], start_us: int, rng: np.random.Generator
) -> None:
    """In place: incidents that only corrupt the logged features (the model sees them too)."""
    for inc in incidents:
        mask = inc.window_mask(frame["ts_us"].to_numpy(), start_us)
        if inc.kind == "unit_change":
            frame.loc[mask, inc.column] = (frame.loc[mask, inc.column] * inc.params["factor"]).round(2)
        elif inc.kind == "stale_feature":
            frame.loc[mask, inc.column] = inc.params["value"]
        elif inc.kind == "null_spike":
            frame.loc[mask & (rng.random(len(frame)) < inc.params["rate"]), inc.column] = np.nan


def slice_mask(frame: pd.DataFrame, inc: Incident, ts_us: np.ndarray, start_us: int) -> np.ndarray:
    """Rows of ``frame`` in the incident's slice and window."""
    col, value = inc.slice
    return (frame[col].to_numpy() == value) & inc.window_mask(ts_us, start_us)


def _delays_us(model_id: str, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Label delay: fraud days with a chargeback tail to 120 days; eta minutes to hours."""
    n = len(y)
    if model_id == "fraud":
        chargeback = rng.random(n) < 0.35
        days = np.where(chargeback, rng.lognormal(np.log(25), 0.8, n), rng.lognormal(np.log(1.5), 0.9, n))
        return (np.clip(days, 0.01, 120.0) * US_PER_DAY).astype(np.int64)
    # eta: the label lands when the order is delivered, plus a processing lag.
    lag_min = np.clip(rng.lognormal(np.log(3), 1.3, n), 0.1, 48 * 60)
    return ((y + lag_min) * US_PER_MINUTE).astype(np.int64)


def simulate_labels(
    model_id: str,
    frame: pd.DataFrame,
    y: np.ndarray,
    incidents: list[Incident],
    start_us: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Label events for one model's unique inferences (``frame`` needs ts_us and slices).

    ~10% never get a label, ~1% of labelled ones get a later correction, label_stop drops
    every event of its slice arriving at or after onset. Labels after the scenario end are
    kept. Hints (model_id, inference_ts) are each missing in ~30% of events.
    """
    ts_us = frame["ts_us"].to_numpy()
    keep = rng.random(len(frame)) >= NEVER_LABELLED_RATE
    idx = np.flatnonzero(keep)
    label_us = ts_us[idx] + _delays_us(model_id, y[idx], rng)
    values = y[idx].astype(np.float64)
    n_fix = int(round(CORRECTION_RATE * len(idx)))
    fix = np.sort(rng.choice(len(idx), size=n_fix, replace=False)) if n_fix else np.array([], int)
    if model_id == "fraud":
        extra_us = rng.lognormal(np.log(5), 0.7, n_fix) * US_PER_DAY
        fixed = np.where(rng.random(n_fix) < 0.6, 1.0 - values[fix], values[fix])
    else:
        extra_us = rng.lognormal(np.log(2), 0.8, n_fix) * US_PER_HOUR
        fixed = np.maximum(1.0, np.round(values[fix] + rng.normal(0, 4, n_fix), 1))
    rows = np.concatenate([idx, idx[fix]])
    label_us = np.concatenate([label_us, label_us[fix] + US_PER_MINUTE + extra_us.astype(np.int64)])
    values = np.concatenate([values, fixed])
    alive = np.ones(len(rows), dtype=bool)
    for inc in incidents:
        if inc.kind == "label_stop":
            col, value = inc.slice
            onset_us = start_us + inc.onset_h * US_PER_HOUR
            alive &= ~((frame[col].to_numpy()[rows] == value) & (label_us >= onset_us))
    rows, label_us, values = rows[alive], label_us[alive], values[alive]
    n = len(rows)
    hint_model = np.where(rng.random(n) < HINT_MISSING_RATE, None, model_id)
    hint_ts = pd.Series(ts_us[rows].astype("datetime64[us]")).dt.tz_localize("UTC")
    hint_ts = hint_ts.where(rng.random(n) >= HINT_MISSING_RATE)
    return pd.DataFrame(
        {
            "inference_id": frame["inference_id"].to_numpy()[rows],
            "label": values,
            "label_ts": pd.Series(label_us.astype("datetime64[us]")).dt.tz_localize("UTC"),
            "model_id": pd.Series(hint_model, dtype=object),
            "inference_ts": hint_ts,
        }
    )


def delivery_entries(
    dup_models: np.ndarray, models: tuple[str, ...], n_malformed: int, start: datetime, end: datetime
) -> list[dict]:
    """Manifest entries for the whole-period delivery problems: duplicates and malformed rows."""
    window = {"column": None, "slice": None, "onset": iso(start), "end": iso(end)}
    entries = [
        {"model_id": m, "kind": "duplicates", **window,
         "detail": f"{int((dup_models == m).sum())} rows re-delivered as exact copies "
         "(same inference_id, appended after the unique rows)"}
        for m in models
    ]
    detail = f"{n_malformed} malformed rows (all strings), see malformed_reasons"
    return [*entries, {"model_id": None, "kind": "malformed", **window, "detail": detail}]


def pick_duplicates(n_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of the ~1% of rows that get delivered a second time."""
    k = int(round(DUPLICATE_RATE * n_rows))
    return np.sort(rng.choice(n_rows, size=k, replace=False)) if k else np.array([], dtype=int)


def stringify(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as object strings (None for nulls), timestamps as ISO with Z."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[col] = [None if pd.isna(v) else iso(v) for v in s]
        elif pd.api.types.is_float_dtype(s.dtype):
            out[col] = [None if np.isnan(v) else repr(float(v)) for v in s]
        else:
            out[col] = [None if v is None or v is pd.NA else str(v) for v in s]
    return pd.DataFrame(out, index=frame.index, dtype=object)


# reason code -> (column to corrupt or None for "the model's first numeric feature", value)
_MALFORMED = (
    ("bad_model_id", "model_id", "../etc"),
    ("missing_inference_id", "inference_id", None),
    ("unparseable_ts", "ts", "yesterday"),
    ("future_ts", "ts", None),
    ("bad_prediction", "prediction", "not-a-number"),
    ("bad_numeric_feature", None, "abc"),
)


def make_malformed(
    inferences: pd.DataFrame, first_numeric: dict[str, str], rng: np.random.Generator
) -> tuple[pd.DataFrame, list[dict]]:
    """Two malformed rows per reason, each a valid row of a model, stringified then broken.

    Malformed rows get fresh ids (``<model>-x<n>``) so they never collide with valid
    ones; the manifest entries say which row, which id, which column and why.
    """
    models = sorted(first_numeric)
    spec = [r for r in _MALFORMED for _ in range(2)]
    model_of = inferences["model_id"].to_numpy()
    picks = []
    for i in range(len(spec)):
        pool = np.flatnonzero(model_of == models[i % len(models)])
        picks.append(pool[rng.integers(len(pool))])
    bad = stringify(inferences.iloc[picks]).reset_index(drop=True)
    reasons = []
    for i, (reason, column, value) in enumerate(spec):
        model = models[i % len(models)]
        bad.at[i, "inference_id"] = f"{model}-x{i:08d}"
        column = column or first_numeric[model]
        if reason == "future_ts":
            value = ("2099" + bad.at[i, "ts"][4:]).replace("-02-29", "-02-28")
        bad.at[i, column] = value
        reasons.append(
            {"row": i, "inference_id": bad.at[i, "inference_id"], "reason": reason, "column": column}
        )
    return bad, reasons
