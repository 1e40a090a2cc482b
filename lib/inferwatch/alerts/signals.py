"""What fires in a window: one row per (window, kind, slice, column) that breaks a rule.

Read from the compact metric tables (pandas frames from `inferwatch.read`), never from
rows. Each signal says what moved, where, by how much and against what:

- `drift`: a column of a slice whose hourly comparison with the baseline flags at least
  `min_metrics` (2) of its statistics (one flagged statistic out of five is the noise a
  clean column shows in ~3% of hours; a real shift moves PSI, KS and Wasserstein
  together, tests/metrics/test_drift.py);
- `quality`: a failed expectation of severity `critical` (a stopped feed, a schema
  change, a bound broken);
- `multivariate`: a day the domain classifier tells from the baseline;
- `performance`: a realized or estimated metric of a slice below its floor (the model's
  `alerts.floors`), or far below its own recent history (`anomalies`).
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

COLUMNS = ["model_id", "granularity", "window_start", "kind", "slice_key", "slice_value",
           "column", "metric", "value", "threshold", "score", "detail"]
MIN_METRICS = 2
HIGHER_IS_WORSE = {"log_loss", "brier", "rmse", "mae", "mape", "estimated_log_loss",
                   "estimated_brier", "estimated_rmse", "estimated_mae", "estimated_mape"}


def empty() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS)


def drift(frame: pd.DataFrame, min_metrics: int = MIN_METRICS) -> pd.DataFrame:
    if frame is None or frame.empty:
        return empty()
    hits = frame[(frame["granularity"] == "1h") & (frame["comparison"] == "baseline")
                 & (frame["status"] == "ok") & frame["drifted"].fillna(False).astype(bool)]
    if hits.empty:
        return empty()
    hits = hits.assign(score=hits["value"].abs() / hits["threshold"])
    keys = ["model_id", "granularity", "window_start", "slice_key", "slice_value", "column"]
    counted = hits.groupby(keys, dropna=False)["metric"].transform("count")
    top = (hits[counted >= min_metrics].sort_values("score", ascending=False)
           .drop_duplicates(keys))
    metrics = hits.groupby(keys, dropna=False)["metric"].apply(lambda m: ", ".join(sorted(m)))
    top = top.join(metrics.rename("flagged"), on=keys)
    return pd.DataFrame({
        **{k: top[k] for k in keys}, "kind": "drift", "metric": top["metric"],
        "value": top["value"], "threshold": top["threshold"], "score": top["score"],
        "detail": [f"{c}: {m} {v:.3g} > {t:.3g} (also {f})" for c, m, v, t, f in
                   zip(top["column"], top["metric"], top["value"], top["threshold"],
                       top["flagged"])],
    })[COLUMNS]


def quality(frame: pd.DataFrame) -> pd.DataFrame:
    if frame is None or frame.empty:
        return empty()
    failed = frame[~frame["success"].fillna(False).astype(bool)
                   & (frame["severity"].fillna("critical") == "critical")]
    if failed.empty:
        return empty()
    return pd.DataFrame({
        "model_id": failed["model_id"], "granularity": failed["granularity"],
        "window_start": failed["window_start"], "kind": "quality", "slice_key": "*",
        "slice_value": "*", "column": failed["column"],
        "metric": failed["expectation_type"], "value": [_observed(v) for v in
                                                        failed["observed_value"]],
        "threshold": math.nan, "score": 1.0,
        "detail": failed["message"].fillna(failed["expectation_type"]),
    })[COLUMNS]


def multivariate(frame: pd.DataFrame) -> pd.DataFrame:
    if frame is None or frame.empty:
        return empty()
    hit = frame[frame["drifted"].fillna(False).astype(bool)]
    if hit.empty:
        return empty()
    leads = [", ".join(f["feature"] for f in list(t)[:3]) if t is not None else ""
             for t in hit["top_features"]]
    return pd.DataFrame({
        "model_id": hit["model_id"], "granularity": hit["granularity"],
        "window_start": hit["window_start"], "kind": "multivariate", "slice_key": "*",
        "slice_value": "*", "column": None, "metric": "auc", "value": hit["auc"],
        "threshold": hit["threshold"], "score": hit["auc"] / hit["threshold"],
        "detail": [f"domain classifier AUC {a:.3f} > {t:.3g}; led by {lead}"
                   for a, t, lead in zip(hit["auc"], hit["threshold"], leads)],
    })[COLUMNS]


def performance(frame: pd.DataFrame, floors: Mapping[str, float], granularity: str,
                min_labeled: int) -> pd.DataFrame:
    """Metrics of `granularity` windows past their floor (`{metric: floor}`; a metric
    where higher is worse, like `rmse`, has a ceiling instead), with enough support."""
    if frame is None or frame.empty or not floors:
        return empty()
    rows = frame[frame["granularity"] == granularity]
    out = []
    for metric, floor in floors.items():
        if metric not in rows:
            continue
        estimated = metric.startswith("estimated_")
        support = rows["n"] if estimated else rows["n_labeled"]
        worse = rows[metric] > floor if metric in HIGHER_IS_WORSE else rows[metric] < floor
        hit = rows[worse.fillna(False) & (support >= min_labeled)]
        for r in hit.itertuples():
            value = getattr(r, metric)
            out.append((r.model_id, r.granularity, r.window_start, "performance",
                        r.slice_key, r.slice_value, None, metric, value, floor,
                        _ratio(value, floor, metric),
                        f"{metric} {value:.3f} {'above its ceiling' if metric in HIGHER_IS_WORSE else 'below its floor'} {floor:g} "
                        f"on {int(getattr(r, 'n_labeled' if not estimated else 'n'))} rows"))
    return pd.DataFrame(out, columns=COLUMNS) if out else empty()


def anomalies(frame: pd.DataFrame, metrics: list[str], granularity: str, min_labeled: int,
              history: int, z: float) -> pd.DataFrame:
    """Windows whose metric is more than `z` robust standard deviations worse than the
    median of the slice's previous `history` windows (MAD scaled by 1.4826; at least a
    third of `history` windows with support, and a floor on the MAD so a metric that
    never moved does not turn every wobble into an alert)."""
    if frame is None or frame.empty:
        return empty()
    rows = frame[frame["granularity"] == granularity].sort_values("window_start")
    out = []
    for (slice_key, slice_value), part in rows.groupby(["slice_key", "slice_value"],
                                                       dropna=False):
        for metric in metrics:
            if metric not in part:
                continue
            support = part["n"] if metric.startswith("estimated_") else part["n_labeled"]
            series = part[metric].where(support >= min_labeled)
            past = series.shift(1).rolling(history, min_periods=max(3, history // 3))
            median = past.median()
            mad = past.apply(lambda w: np.nanmedian(np.abs(w - np.nanmedian(w))), raw=True)
            scale = np.maximum(1.4826 * mad, 0.01 * median.abs() + 1e-9)
            sign = 1.0 if metric in HIGHER_IS_WORSE else -1.0
            score = sign * (series - median) / scale
            for i in np.flatnonzero((score > z).to_numpy()):
                r = part.iloc[i]
                out.append((r["model_id"], granularity, r["window_start"], "performance",
                            slice_key, slice_value, None, metric, r[metric], median.iloc[i],
                            float(score.iloc[i]),
                            f"{metric} {r[metric]:.3f} vs its recent median "
                            f"{median.iloc[i]:.3f} ({score.iloc[i]:.1f} robust sd worse)"))
    return pd.DataFrame(out, columns=COLUMNS) if out else empty()


def _observed(text: str | None) -> float:
    try:
        value = json.loads(text) if text else None
    except (TypeError, ValueError):
        return math.nan
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else math.nan


def _ratio(value: float, floor: float, metric: str) -> float:
    if metric in HIGHER_IS_WORSE:
        return value / floor if floor else math.inf
    return floor / value if value else math.inf
