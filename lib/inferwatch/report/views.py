"""The model-health views, as pandas frames: realized vs estimated performance, label
coverage and delay, champion vs challenger, the drift matrix, quality failures. Pure
functions of the frames `data.load` returns; the figures and the notebooks draw them."""
from __future__ import annotations

import pandas as pd

from inferwatch.granularity import NAMES

# (realized, estimated) pairs, in the order they are shown; a pair is shown when either
# side has a value for the model (binary: auc, accuracy, f1; regression: rmse, mae;
# multiclass: accuracy).
METRIC_PAIRS = (("auc", "estimated_auc"), ("accuracy", "estimated_accuracy"),
                ("f1", "estimated_f1"), ("rmse", "estimated_rmse"), ("mae", "estimated_mae"))
LOWER_IS_BETTER = {"rmse", "mae", "mape", "log_loss", "brier"}
WHOLE = ("*", "*")


def slice_rows(performance: pd.DataFrame, granularity: str,
               slice_key: str = "*") -> pd.DataFrame:
    """Rows of one granularity and slice key, by window (then slice value)."""
    if performance.empty:
        return performance
    rows = performance[(performance["granularity"] == granularity)
                       & (performance["slice_key"] == slice_key)]
    return rows.sort_values(["window_start", "slice_value"]).reset_index(drop=True)


def metric_pairs(performance: pd.DataFrame) -> list[tuple[str, str]]:
    """The (realized, estimated) pairs with at least one value in these rows."""
    return [(real, est) for real, est in METRIC_PAIRS
            if any(c in performance.columns and performance[c].notna().any()
                   for c in (real, est))]


def primary_metric(performance: pd.DataFrame) -> str | None:
    """The first metric of METRIC_PAIRS the model has (auc for a binary model, rmse for a
    regressor, accuracy for a multiclass one)."""
    pairs = metric_pairs(performance)
    return pairs[0][0] if pairs else None


def performance_over_time(performance: pd.DataFrame, granularity: str) -> pd.DataFrame:
    """Whole-model rows of a granularity: one row per window with each realized metric,
    its estimate, volume, label coverage and feedback delay (hours)."""
    rows = slice_rows(performance, granularity)
    if rows.empty:
        return pd.DataFrame()
    metrics = [c for pair in metric_pairs(rows) for c in pair]
    frame = rows[["window_start", "n", "n_labeled", "label_coverage", *metrics]].copy()
    for quantile in ("delay_p50", "delay_p90"):
        frame[f"{quantile}_h"] = rows[quantile] / 3600.0
    return frame


def performance_by_granularity(performance: pd.DataFrame) -> pd.DataFrame:
    """Per granularity: windows, rows, mean label coverage and the mean of each realized
    metric and of its estimate over the windows (a one-glance summary)."""
    whole = performance[performance["slice_key"] == "*"] if not performance.empty else performance
    if whole.empty:
        return pd.DataFrame()
    metrics = [c for pair in metric_pairs(whole) for c in pair]
    summary = whole.groupby("granularity").agg(
        windows=("window_start", "nunique"), first=("window_start", "min"),
        last=("window_start", "max"), n=("n", "sum"), label_coverage=("label_coverage", "mean"),
        **{m: (m, "mean") for m in metrics})
    return summary.reindex([g for g in NAMES if g in summary.index])


def versions(performance: pd.DataFrame, granularity: str) -> pd.DataFrame:
    """`model_version` slice rows (volume, share of the window, primary metric and its
    estimate), the busiest version first: it is taken as the champion, the others as
    challengers. Empty when the model has a single version."""
    rows = slice_rows(performance, granularity, "model_version")
    if rows.empty or rows["slice_value"].nunique(dropna=False) < 2:
        return pd.DataFrame()
    metric = primary_metric(rows)
    keep = ["window_start", "slice_value", "n", "n_labeled", "label_coverage"]
    if metric is not None:
        keep += [metric, f"estimated_{metric}"]
    frame = rows[keep].rename(columns={"slice_value": "model_version"})
    frame["share"] = frame["n"] / frame.groupby("window_start")["n"].transform("sum")
    order = frame.groupby("model_version")["n"].sum().sort_values(ascending=False).index
    frame["role"] = frame["model_version"].map(
        {v: "champion" if i == 0 else "challenger" for i, v in enumerate(order)})
    frame["model_version"] = pd.Categorical(frame["model_version"], categories=list(order))
    return frame.sort_values(["model_version", "window_start"]).reset_index(drop=True)


def drift_scores(drift: pd.DataFrame, granularity: str, comparison: str = "baseline",
                 slice_: tuple[str, str] = WHOLE) -> pd.DataFrame:
    """One row per (column, window): the largest `abs(value) / threshold` over the
    column's judged metrics (status ok, with a threshold), with that metric and value.
    A score above 1 is exactly a `drifted` row. Columns whose every metric lacks data
    keep their windows with a null score."""
    if drift.empty:
        return pd.DataFrame()
    rows = drift[(drift["granularity"] == granularity) & (drift["comparison"] == comparison)
                 & (drift["slice_key"] == slice_[0]) & (drift["slice_value"] == slice_[1])]
    if rows.empty:
        return pd.DataFrame()
    judged = rows[(rows["status"] == "ok") & (rows["threshold"] > 0) & rows["value"].notna()]
    judged = judged.assign(score=judged["value"].abs() / judged["threshold"])
    top = judged.loc[judged.groupby(["column", "window_start"])["score"].idxmax(),
                     ["column", "window_start", "score", "metric", "value", "threshold"]]
    drifted = rows.groupby(["column", "window_start"])["drifted"].any().rename("drifted")
    cells = rows[["column", "window_start"]].drop_duplicates()
    return (cells.merge(top, on=["column", "window_start"], how="left")
            .merge(drifted.reset_index(), on=["column", "window_start"], how="left")
            .sort_values(["column", "window_start"]).reset_index(drop=True))


def drift_matrix(scores: pd.DataFrame) -> pd.DataFrame:
    """`drift_scores` as columns x windows, the most drifted column first."""
    if scores.empty:
        return pd.DataFrame()
    matrix = scores.pivot(index="column", columns="window_start", values="score")
    order = matrix.max(axis=1).fillna(-1).sort_values(ascending=False, kind="stable").index
    return matrix.loc[order]


def drifted_columns(drift: pd.DataFrame, granularity: str,
                    comparison: str = "baseline") -> list[str]:
    """Columns with a drifted whole-model row: the ones the heatmap must light up."""
    if drift.empty:
        return []
    rows = drift[(drift["granularity"] == granularity) & (drift["comparison"] == comparison)
                 & (drift["slice_key"] == "*") & drift["drifted"].fillna(False)]
    return sorted(rows["column"].unique())


def quality_failures(quality: pd.DataFrame) -> pd.DataFrame:
    """Failed expectations, by hour: when, which expectation on which column, severity
    and the one-line message."""
    if quality.empty:
        return pd.DataFrame()
    failed = quality[~quality["success"].fillna(False).astype(bool)]
    columns = ["window_start", "expectation_type", "column", "severity", "message",
               "exception", "suite"]
    return (failed[columns].sort_values(["window_start", "expectation_type", "column"])
            .reset_index(drop=True))


def quality_by_hour(quality: pd.DataFrame) -> pd.DataFrame:
    """Per hour validated: expectations checked, passed and failed."""
    if quality.empty:
        return pd.DataFrame()
    success = quality["success"].fillna(False).astype(bool)
    return (quality.assign(passed=success, failed=~success)
            .groupby("window_start")
            .agg(expectations=("success", "size"), passed=("passed", "sum"),
                 failed=("failed", "sum"))
            .reset_index())
