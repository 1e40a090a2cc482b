"""Read helpers for people and notebooks: tables as pandas frames, without Spark."""
from __future__ import annotations

import pandas as pd
from deltalake import DeltaTable

from inferwatch.config import load_env

TABLES = ["raw/inferences", "raw/labels", "inferences", "labels", "labels_pending",
          "quarantine", "metrics/performance", "metrics/fairness", "job_runs"]


def read_table(lake_root: str, name: str, model: str | None = None) -> pd.DataFrame:
    """A lake table as pandas (delta-rs reads it; no Spark, no JVM).

    >>> read_table("lake", "metrics/performance", model="fraud")
    """
    path = f"{lake_root.rstrip('/')}/{name}"
    if not DeltaTable.is_deltatable(path):
        raise FileNotFoundError(f"no table '{name}' under {lake_root} (known: {', '.join(TABLES)})")
    table = DeltaTable(path)
    filters = None
    if model is not None and "model_id" in table.metadata().partition_columns:
        filters = [("model_id", "=", model)]
    frame = table.to_pandas(filters=filters)
    if model is not None and "model_id" in frame.columns:
        frame = frame[frame["model_id"] == model]
    return frame


def count_rows(lake_root: str, name: str) -> int | None:
    path = f"{lake_root.rstrip('/')}/{name}"
    if not DeltaTable.is_deltatable(path):
        return None
    return int(DeltaTable(path).count())


# Short names with the columns a person wants first.
VIEWS = {
    "performance": ("metrics/performance", [
        "model_id", "granularity", "window_start", "slice_key", "slice_value", "n", "n_labeled",
        "label_coverage", "accuracy", "precision", "recall", "f1", "auc", "log_loss", "brier",
        "rmse", "mae", "mape", "r2", "delay_p50", "delay_p90"]),
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


def show_table(conf: str, lake: str | None, name: str, model: str | None = None,
               limit: int = 20, granularity: str | None = None) -> str:
    env = load_env(conf, lake=lake)
    table, columns = VIEWS.get(name, (name, None))
    frame = read_table(env.lake, table, model)
    if granularity is not None and "granularity" in frame.columns:
        frame = frame[frame["granularity"] == granularity]
    if columns is not None:
        frame = frame[[c for c in columns if c in frame.columns]].dropna(axis=1, how="all")
        frame = frame.sort_values([c for c in ("model_id", "granularity", "window_start",
                                               "slice_key", "slice_value", "attribute", "group")
                                   if c in frame.columns])
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        return f"{name}: {len(frame)} rows\n{frame.head(limit).to_string(index=False)}"


def lake_summary(lake_root: str) -> str:
    """Row counts of every table, quarantine by reason and the latest job runs."""
    lines = ["tables:"]
    for name in TABLES:
        rows = count_rows(lake_root, name)
        if rows is not None:
            lines.append(f"  {name:<22} {rows:>10,} rows")
    if count_rows(lake_root, "quarantine"):
        quarantine = read_table(lake_root, "quarantine")
        reasons = quarantine["reason"].str.replace(r"'[^']*'", "'…'", regex=True)
        lines.append("quarantined rows by reason:")
        for (table, reason), n in (quarantine.assign(reason=reasons)
                                   .groupby(["table", "reason"]).size().items()):
            lines.append(f"  {n:>6}  {table}: {reason}")
    if count_rows(lake_root, "job_runs"):
        runs = read_table(lake_root, "job_runs").sort_values("started_at")
        lines.append("job runs (rows in = out + duplicates + quarantined):")
        for row in runs.itertuples():
            took = (row.ended_at - row.started_at).total_seconds()
            lines.append(f"  {row.job:<18} {row.status:<8} in={row.rows_in:<8} out={row.rows_out:<8}"
                         f" dup={row.rows_duplicate:<6} quarantined={row.rows_quarantined:<5}"
                         f" {took:6.1f}s")
    return "\n".join(lines)
