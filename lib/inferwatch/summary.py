"""Text for people: a table or view printed by `inferwatch show`, and the demo's summary."""
from __future__ import annotations

import pandas as pd

from inferwatch import read


def show(lake_root: str, name: str, model: str | None = None, limit: int = 20,
         granularity: str | None = None) -> str:
    frame = read.view(lake_root, name, model=model, granularity=granularity)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        return f"{name}: {len(frame)} rows\n{frame.head(limit).to_string(index=False)}"


def drifted(lake_root: str, model: str, window: str | None = None,
            granularity: str = "1h", limit: int = 20) -> str:
    """What drifted against the baseline, most recent window first, then by how far past
    its threshold (value / threshold)."""
    frame = read.view(lake_root, "drift_metrics", model=model, granularity=granularity)
    if frame.empty:
        return f"drift: no rows for model {model} at {granularity}"
    if window is not None:
        frame = frame[frame["window_start"] == pd.Timestamp(window)]
    hits = frame[frame["drifted"] & (frame["comparison"] == "baseline")].copy()
    hits["times_threshold"] = (hits["value"].abs() / hits["threshold"]).round(1)
    hits = hits.sort_values(["window_start", "times_threshold"], ascending=[False, False])
    columns = ["window_start", "slice_key", "slice_value", "column", "metric", "value",
               "threshold", "times_threshold", "n"]
    head = (f"drift of {model} ({granularity}): {len(hits)} drifted statistics in "
            f"{hits['window_start'].nunique()} windows; {len(frame)} statistics in all")
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        return head + "\n" + hits[columns].head(limit).to_string(index=False)


def first_drift(lake_root: str, model: str) -> str:
    """Per column, the first hour it drifted against the baseline (whole model), and by
    which metrics: the demo's answer to "what moved, and since when"."""
    frame = read.view(lake_root, "drift_metrics", model=model, granularity="1h")
    if frame.empty:
        return f"drift of {model}: no rows"
    hits = frame[frame["drifted"] & (frame["comparison"] == "baseline")
                 & (frame["slice_key"] == "*")]
    if hits.empty:
        return f"drift of {model}: nothing drifted against the baseline"
    lines = [f"drift of {model} against its baseline (first drifted hour per column):"]
    for column, rows in hits.groupby("column"):
        first = rows["window_start"].min()
        metrics = sorted(rows[rows["window_start"] == first]["metric"])
        hours = rows["window_start"].nunique()
        lines.append(f"  {column:<18} since {first:%Y-%m-%d %H:%M}  ({hours} hours; "
                     f"{', '.join(metrics)})")
    return "\n".join(lines)


def first_quality_failures(lake_root: str, model: str) -> str:
    """Per failed expectation (type, column), the first hour it failed and why."""
    frame = read.view(lake_root, "quality", model=model)
    if frame.empty:
        return f"quality of {model}: no rows"
    hits = frame[~frame["success"].astype(bool)]
    hours = frame["window_start"].nunique()
    if hits.empty:
        return f"quality of {model}: every expectation passed in {hours} hours"
    lines = [f"quality of {model}: {hits['window_start'].nunique()} of {hours} hours failed "
             "an expectation (first failed hour per expectation):"]
    for (kind, column), rows in hits.groupby(["expectation_type", hits["column"].fillna("-")]):
        first = rows.sort_values("window_start").iloc[0]
        lines.append(f"  {first['window_start']:%Y-%m-%d %H:%M} {column:<16} "
                     f"({rows['window_start'].nunique()} hours) {first['message']}"[:160])
    return "\n".join([lines[0], *sorted(lines[1:])])


def lake_summary(lake_root: str) -> str:
    """Row counts of every table, quarantine by reason and the latest job runs."""
    lines = ["tables:"]
    for name in read.TABLES:
        rows = read.count_rows(lake_root, name)
        if rows is not None:
            lines.append(f"  {name:<22} {rows:>10,} rows")
    if read.count_rows(lake_root, "quarantine"):
        quarantine = read.table(lake_root, "quarantine")
        reasons = quarantine["reason"].str.replace(r"'[^']*'", "'…'", regex=True)
        lines.append("quarantined rows by reason:")
        for (table, reason), n in (quarantine.assign(reason=reasons)
                                   .groupby(["table", "reason"]).size().items()):
            lines.append(f"  {n:>6}  {table}: {reason}")
    if read.count_rows(lake_root, "job_runs"):
        runs = read.table(lake_root, "job_runs")
        runs = runs[runs["model_id"].isna()].sort_values("started_at")
        lines.append("job runs (rows in = out + duplicates + pending + quarantined):")
        for row in runs.itertuples():
            took = (row.ended_at - row.started_at).total_seconds()
            lines.append(f"  {row.job:<18} {row.status:<8} in={row.rows_in:<8} "
                         f"out={row.rows_out:<8} dup={row.rows_duplicate:<6} "
                         f"pending={row.rows_pending:<5} quarantined={row.rows_quarantined:<5}"
                         f" {took:6.1f}s")
    return "\n".join(lines)
