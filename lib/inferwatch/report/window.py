"""One window under the magnifier: which slices dropped against the model's previous
windows, which features drifted, which expectations failed. Pure functions of the frames
`data.load` returns.

    >>> data = load("lake", "fraud")
    >>> slice_changes(data.performance, utc("2026-03-03T08:00"), "1h")
"""
from __future__ import annotations

import pandas as pd

from inferwatch.report.data import window_end
from inferwatch.report.views import LOWER_IS_BETTER, primary_metric

# A slice "dropped" when its metric is worse than the mean of its previous windows by
# more than Z_DROP of their standard deviations (at least MIN_DROP in the metric's unit,
# so that a slice whose history is flat does not flag on noise), over at least
# MIN_HISTORY previous windows.
Z_DROP = 2.0
MIN_DROP = 0.02
MIN_HISTORY = 3
# Label coverage "fell" when it is this far below the previous windows' mean.
COVERAGE_FALL = 0.25


def pick_window(drift: pd.DataFrame, quality: pd.DataFrame,
                performance: pd.DataFrame, granularity: str) -> pd.Timestamp | None:
    """The latest window with a drifted whole-model feature or a failed expectation,
    else the latest window with performance rows (for a notebook run without a window)."""
    candidates = []
    if not drift.empty:
        rows = drift[(drift["granularity"] == granularity)
                     & (drift["slice_key"] == "*") & drift["drifted"].fillna(False)]
        candidates += list(rows["window_start"])
    if not quality.empty and granularity == "1h":
        candidates += list(quality.loc[~quality["success"].fillna(False).astype(bool),
                                       "window_start"])
    if candidates:
        return max(candidates)
    if not performance.empty:
        rows = performance[performance["granularity"] == granularity]
        if not rows.empty:
            return rows["window_start"].max()
    return None


def _worse(metric: str, now: pd.Series, before: pd.Series) -> pd.Series:
    """How much worse `now` is than `before` (positive = worse), whatever the direction."""
    return (now - before) if metric in LOWER_IS_BETTER else (before - now)


def slice_changes(performance: pd.DataFrame, window: pd.Timestamp, granularity: str,
                  lookback: int = 24) -> pd.DataFrame:
    """Every slice of the window (the whole model, each `slices` value, each version)
    against its own `lookback` previous windows of the same granularity: volume, label
    coverage, the primary metric realized and estimated, now vs the previous mean, how
    many standard deviations worse, and whether it `dropped` (realized or estimated) or
    its coverage `coverage_fell`. Worst first."""
    if performance.empty:
        return pd.DataFrame()
    rows = performance[performance["granularity"] == granularity]
    metric = primary_metric(rows)
    if metric is None or not (rows["window_start"] == window).any():
        return pd.DataFrame()
    estimated = f"estimated_{metric}"
    keys = ["slice_key", "slice_value"]
    rows = rows.assign(slice_value=rows["slice_value"].fillna("(null)"))
    now = rows[rows["window_start"] == window].set_index(keys)
    past_starts = sorted(rows.loc[rows["window_start"] < window, "window_start"].unique())
    past = rows[rows["window_start"].isin(past_starts[-lookback:])]
    history = past.groupby(keys).agg(
        windows=("window_start", "nunique"), n_before=("n", "mean"),
        coverage_before=("label_coverage", "mean"),
        **{f"{m}_before": (m, "mean") for m in (metric, estimated)},
        **{f"{m}_std": (m, "std") for m in (metric, estimated)})
    frame = now[["n", "label_coverage", metric, estimated]].join(history, how="left")
    for m in (metric, estimated):
        worse = _worse(metric, frame[m], frame[f"{m}_before"])
        spread = frame[f"{m}_std"].where(frame[f"{m}_std"] > 0)
        frame[f"{m}_worse_sd"] = worse / spread
        frame[f"{m}_dropped"] = ((frame["windows"] >= MIN_HISTORY) & (worse > MIN_DROP)
                                 & (worse > Z_DROP * frame[f"{m}_std"].fillna(0)))
    frame["dropped"] = frame[f"{metric}_dropped"] | frame[f"{estimated}_dropped"]
    frame["coverage_fell"] = (frame["coverage_before"] - frame["label_coverage"]) > COVERAGE_FALL
    frame["metric"] = metric
    order = frame[[f"{metric}_worse_sd", f"{estimated}_worse_sd"]].max(axis=1)
    frame = frame.assign(_order=order.fillna(-float("inf"))).sort_values(
        ["dropped", "coverage_fell", "_order"], ascending=False)
    columns = ["metric", "n", "n_before", "label_coverage", "coverage_before", metric,
               f"{metric}_before", f"{metric}_worse_sd", estimated, f"{estimated}_before",
               f"{estimated}_worse_sd", "windows", "dropped", "coverage_fell"]
    return frame[columns].reset_index()


def drifted_features(drift: pd.DataFrame, window: pd.Timestamp,
                     granularity: str) -> pd.DataFrame:
    """Per (slice, column, comparison) with a drifted row in the window: the metrics that
    crossed their threshold and the largest `abs(value) / threshold`. Whole model first,
    then by score."""
    if drift.empty:
        return pd.DataFrame()
    rows = drift[(drift["granularity"] == granularity) & (drift["window_start"] == window)
                 & drift["drifted"].fillna(False)]
    if rows.empty:
        return pd.DataFrame()
    rows = rows.assign(score=rows["value"].abs() / rows["threshold"],
                       slice_value=rows["slice_value"].fillna("(null)"),
                       whole=rows["slice_key"] == "*")
    grouped = (rows.sort_values("score", ascending=False)
               .groupby(["whole", "slice_key", "slice_value", "column", "comparison"])
               .agg(metrics=("metric", ", ".join), score=("score", "max"),
                    n=("n", "max"), n_reference=("n_reference", "max"))
               .reset_index())
    return (grouped.sort_values(["whole", "score"], ascending=False)
            .drop(columns="whole").reset_index(drop=True))


def failed_expectations(quality: pd.DataFrame, window: pd.Timestamp,
                        granularity: str) -> pd.DataFrame:
    """Expectations that failed in the window's hours (quality is validated per hour)."""
    if quality.empty:
        return pd.DataFrame()
    end = window_end(window, granularity)
    rows = quality[(quality["window_start"] >= window) & (quality["window_start"] < end)
                   & ~quality["success"].fillna(False).astype(bool)]
    columns = ["window_start", "expectation_type", "column", "severity", "message"]
    return rows[columns].sort_values(columns[:3]).reset_index(drop=True)


def validated_hours(quality: pd.DataFrame, window: pd.Timestamp, granularity: str) -> int:
    """Hours of the window that the quality job validated (0: no verdict either way)."""
    if quality.empty:
        return 0
    end = window_end(window, granularity)
    inside = (quality["window_start"] >= window) & (quality["window_start"] < end)
    return int(quality.loc[inside, "window_start"].nunique())


def window_alerts(alerts: pd.DataFrame | None, window: pd.Timestamp,
                  granularity: str) -> pd.DataFrame | None:
    """The alerts that cover the window (open in it), None when there is no alerts table."""
    if alerts is None or alerts.empty:
        return alerts
    end = window_end(window, granularity)
    until = alerts["resolved_window"].fillna(alerts["last_window"])
    inside = (alerts["first_window"] < end) & (until >= window)
    return alerts[inside].reset_index(drop=True)
