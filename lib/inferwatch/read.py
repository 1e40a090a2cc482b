"""`inferwatch.read`: the lake's tables as pandas frames, for notebooks; no Spark, no JVM.

    >>> from inferwatch import read
    >>> read.table("lake", "metrics/performance", model="fraud", granularity="1d")
    >>> read.view("lake", "estimates", model="eta")
"""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from inferwatch.errors import UnknownNameError
from inferwatch.lake.storage import delta_options, delta_uri, settings_from
from inferwatch.model_settings.drift import MIN_COUNT, STATISTICS

TABLES = ("raw/inferences", "raw/labels", "inferences", "inference_index", "labels",
          "labels_pending", "quarantine", "metrics/performance", "metrics/fairness",
          "metrics/profile", "metrics/drift", "state/performance", "state/fairness",
          "state/profile", "baselines", "baseline_samples", "metrics/multivariate_drift",
          "metrics/quality", "state/deliveries", "alerts", "alerts_outbox", "job_runs",
          "leases")

# Short names with the columns a person wants first.
VIEWS = {
    "performance": ("metrics/performance", [
        "model_id", "granularity", "window_start", "slice_key", "slice_value", "n", "n_labeled",
        "label_coverage", "accuracy", "precision", "recall", "f1", "auc", "log_loss", "brier",
        "f1_macro", "f1_weighted", "rmse", "mae", "mape", "r2", "delay_p50", "delay_p90"]),
    "estimates": ("metrics/performance", [
        "model_id", "granularity", "window_start", "slice_key", "slice_value", "n",
        "label_coverage", "accuracy", "estimated_accuracy", "estimated_accuracy_std",
        "accuracy_estimate_error", "auc", "estimated_auc", "auc_estimate_error", "f1",
        "estimated_f1", "rmse", "estimated_rmse", "rmse_estimate_error", "mae", "estimated_mae",
        "mae_estimate_error"]),
    "fairness": ("metrics/fairness", [
        "model_id", "granularity", "window_start", "attribute", "group", "n", "n_labeled",
        "selection_rate", "tpr", "fpr", "parity_difference", "disparate_impact",
        "statistical_parity_difference", "disparate_impact_ratio", "equalized_odds_difference"]),
}
VIEWS["profile"] = ("metrics/profile", [
    "model_id", "granularity", "window_start", "slice_key", "slice_value", "column", "kind",
    "count", "num_nulls", "avg", "stddev", "min", "max", "quantiles", "distinct_count",
    "frequent_items"])
VIEWS["quality"] = ("metrics/quality", [
    "model_id", "window_start", "suite", "expectation_type", "column", "success",
    "observed_value", "unexpected_percent", "severity", "message"])
VIEWS["drift"] = ("metrics/drift", [
    "model_id", "granularity", "window_start", "slice_key", "slice_value", "column",
    "comparison", "baseline", "drifted_metrics", *STATISTICS, "status", "n", "n_reference"])
VIEWS["alerts"] = ("alerts", [
    "model_id", "status", "severity", "kind", "slice_key", "slice_value", "column", "metric",
    "first_window", "last_window", "resolved_window", "peak_value", "threshold", "message"])
VIEWS["multivariate"] = ("metrics/multivariate_drift", [
    "model_id", "granularity", "window_start", "baseline", "auc", "threshold", "drifted",
    "status", "n", "top_features"])
# the view of one row per drift statistic (`drift_metrics`) and its table
LONG = ("drift_metrics", "metrics/drift")
SORT = ("model_id", "granularity", "window_start", "slice_key", "slice_value", "attribute",
        "group", "column", "comparison", "metric")


def _location(lake_root: str, name: str) -> tuple[str, dict[str, str] | None]:
    """delta-rs URI and storage options of a table; object-store credentials come from
    the environment variables docs/storage.md names."""
    uri = delta_uri(f"{lake_root.rstrip('/')}/{name}")
    return uri, delta_options(settings_from(None), uri)


def _delta(lake_root: str, name: str) -> DeltaTable:
    uri, options = _location(lake_root, name)
    return DeltaTable(uri, storage_options=options)


def exists(lake_root: str, name: str) -> bool:
    return DeltaTable.is_deltatable(*_location(lake_root, name))


def table(lake_root: str, name: str, model: str | None = None, granularity: str | None = None,
          start: datetime | None = None, end: datetime | None = None,
          columns: list[str] | None = None) -> pd.DataFrame:
    """A lake table as pandas, filtered by model, granularity and [start, end) of
    `window_start` (metric tables) where the table has those columns (delta-rs skips
    the files whose statistics rule them out); `columns`: only these."""
    if name not in TABLES:
        raise UnknownNameError("table", name, TABLES)
    if not exists(lake_root, name):
        return pd.DataFrame()
    delta = _delta(lake_root, name)
    present = {f.name for f in delta.schema().fields}
    filters = []
    if model is not None and "model_id" in present:
        filters.append(("model_id", "=", model))
    if granularity is not None and "granularity" in present:
        filters.append(("granularity", "=", granularity))
    if "window_start" in present:
        filters += [("window_start", op, _utc(t)) for op, t in ((">=", start), ("<", end))
                    if t is not None]
    return delta.to_pandas(filters=filters or None, columns=columns).reset_index(drop=True)


def newest(lake_root: str, name: str, model: str, column: str = "window_start"):
    """The largest `column` value of `model`'s rows (a pandas Timestamp for times), from
    the Delta log's file statistics: no data file is read unless a file has no statistics
    for it. None when the model has no rows."""
    if not exists(lake_root, name):
        return None
    delta = _delta(lake_root, name)
    actions = pa.table(delta.get_add_actions(flatten=True))
    field = f"max.{column}"
    if "partition.model_id" in actions.column_names:
        actions = actions.filter(pc.equal(actions["partition.model_id"], model))
        if not actions.num_rows:
            return None
        if field in actions.column_names and actions[field].null_count == 0:
            value = pc.max(actions[field]).as_py()
            return pd.Timestamp(value) if isinstance(value, datetime) else value
    rows = table(lake_root, name, model=model, columns=[column])
    return None if rows.empty else rows[column].max()


def _utc(moment: datetime | str) -> datetime:
    """A time as the tables store it (UTC; a naive time is read as UTC)."""
    stamp = pd.Timestamp(moment)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
            ).to_pydatetime()


def view(lake_root: str, name: str, model: str | None = None,
         granularity: str | None = None) -> pd.DataFrame:
    """A view (performance, estimates, fairness) or a table, sorted, its key columns first."""
    if name not in VIEWS and name not in TABLES and name != LONG[0]:
        raise UnknownNameError("table or view", name, [*VIEWS, LONG[0], *TABLES])
    source, columns = VIEWS.get(name, (LONG[1], None) if name == LONG[0] else (name, None))
    frame = table(lake_root, source, model=model, granularity=granularity)
    if model is not None and frame.empty and exists(lake_root, source):
        delta = _delta(lake_root, source)
        if "model_id" in {f.name for f in delta.schema().fields}:
            known = set(delta.to_pyarrow_table(columns=["model_id"])["model_id"].to_pylist())
            if model not in known:
                raise UnknownNameError("model", model, sorted(m for m in known if m), source)
    if name == LONG[0]:
        frame = drift_metrics(frame)
    elif columns is not None and not frame.empty:
        frame = frame[[c for c in columns if c in frame.columns]].dropna(axis=1, how="all")
        frame = frame.sort_values([c for c in SORT if c in frame.columns])
    return frame.reset_index(drop=True)


def count_rows(lake_root: str, name: str) -> int | None:
    if not exists(lake_root, name):
        return None
    return int(_delta(lake_root, name).count())


def drift_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    """`metrics/drift` rows (one per comparison, a column per statistic) as one row per
    statistic that has a value: the comparison's keys, `metric`, `value`, `error_bound`,
    `threshold` (the one it was judged by; NaN without), `drifted` and `status` (`ok`
    when both sides had enough values, for `null_rate_delta` enough rows)."""
    keys = ["model_id", "granularity", "window_start", "slice_key", "slice_value", "column",
            "kind", "comparison", "baseline", "baseline_version", "reference_start", "n",
            "n_reference"]
    columns = [*keys, "metric", "value", "error_bound", "threshold", "drifted", "status"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    keys = [k for k in keys if k in frame.columns]
    stats = [m for m in STATISTICS if m in frame.columns]
    values = frame[stats].to_numpy(dtype=float, na_value=np.nan)
    row, col = np.nonzero(~np.isnan(values))  # row-major: each comparison's in order
    if not len(row):
        return pd.DataFrame(columns=columns)
    names = np.asarray(stats, dtype=object)[col]
    bounds = np.full(values.shape, np.nan)
    for j, metric in enumerate(stats):
        if f"{metric}_error_bound" in frame.columns:
            bounds[:, j] = frame[f"{metric}_error_bound"].to_numpy(dtype=float, na_value=np.nan)
        elif metric == "null_rate_delta":
            bounds[:, j] = 0.0  # exact counts
    limits = [dict(t) if t is not None else {} for t in frame["thresholds"]]
    drifted = [set(d) if d is not None else set() for d in frame["drifted_metrics"]]
    rows_ok = (frame["n"].fillna(0).clip(upper=frame["n_reference"].fillna(0))
               >= MIN_COUNT).to_numpy()
    ok = np.where(names == "null_rate_delta", rows_ok[row],
                  (frame["status"] == "ok").to_numpy()[row])
    out = frame[keys].take(row).reset_index(drop=True).assign(
        metric=names, value=values[row, col], error_bound=bounds[row, col],
        threshold=[limits[i].get(m, np.nan) for i, m in zip(row, names)],
        drifted=[m in drifted[i] for i, m in zip(row, names)],
        status=np.where(ok, "ok", "insufficient_data"))
    return out.sort_values([c for c in SORT if c in out.columns], kind="stable"
                           ).reset_index(drop=True)[[c for c in columns if c in out.columns]]
