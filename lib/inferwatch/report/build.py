"""`inferwatch report`: one model's health as one self-contained HTML file.

    >>> build_report("lake", "fraud", start="2026-03-03", out="fraud.html")
    PosixPath('fraud.html')
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from inferwatch.errors import UserError
from inferwatch.granularity import granularity as lookup_granularity
from inferwatch.report import figures, views
from inferwatch.report.data import ModelData, load
from inferwatch.report.html import Section, page


def _performance(data: ModelData, granularity: str) -> list[Section]:
    over_time = views.performance_over_time(data.performance, granularity)
    pairs = views.metric_pairs(over_time)
    none = f"No whole-model performance rows at {granularity} for {data.model} in this range."
    return [
        Section("Performance: realized vs estimated",
                "Realized metrics use the labelled rows of each window; estimates use the "
                "predictions of every row and no label, so they exist before labels arrive.",
                figures.performance(over_time, pairs, granularity),
                none if over_time.empty else f"No metric with a value for {data.model}.",
                views.performance_by_granularity(data.performance),
                "Mean per window, whole model, by granularity"),
        Section("Label coverage, feedback delay and volume",
                "Coverage is labelled / scored rows; delay is label_ts - ts of the labelled "
                "rows. A feedback pipeline that stops shows as coverage falling to 0.",
                figures.coverage(over_time, granularity), none),
    ]


def _versions(data: ModelData, granularity: str) -> Section:
    frame = views.versions(data.performance, granularity)
    rows = views.slice_rows(data.performance, granularity, "model_version")
    names = sorted(rows["slice_value"].dropna().unique()) if not rows.empty else []
    empty = (f"One model_version ({', '.join(names)}) in this range: no challenger to compare."
             if names else f"No model_version rows at {granularity} in this range.")
    table = None
    if not frame.empty:
        table = (frame.groupby(["model_version", "role"], observed=True)
                 .agg(windows=("window_start", "nunique"), n=("n", "sum"),
                      share=("share", "mean"))
                 .reset_index())
    return Section("Champion vs challenger",
                   "The model_version slice; the version with the most inferences is taken "
                   "as the champion.", figures.versions(frame, granularity), empty,
                   table, "Versions")


def _drift(data: ModelData, granularity: str) -> Section:
    scores = views.drift_scores(data.drift, granularity)
    table = None
    if not scores.empty:
        hot = scores[scores["drifted"].fillna(False)]
        if not hot.empty:
            table = (hot.sort_values("score", ascending=False)
                     .groupby("column", sort=False)
                     .agg(windows_drifted=("window_start", "nunique"),
                          first=("window_start", "min"), last=("window_start", "max"),
                          worst_score=("score", "max"), worst_metric=("metric", "first"))
                     .reset_index())
    empty = (f"No drift rows against a baseline at {granularity} in this range (a model "
             "without a baseline only has comparisons with the previous window).")
    return Section("Drift against the baseline",
                   "Columns x windows, whole-model slice: each cell is the largest "
                   "abs(value) / threshold over the column's drift metrics; above 1 the "
                   "column drifted.", figures.drift_heatmap(scores, views.drift_matrix(scores),
                                                            granularity),
                   empty, table, "Drifted columns")


def _quality(data: ModelData) -> Section:
    failures = views.quality_failures(data.quality)
    empty = ("No metrics/quality rows for this model in this range: the quality job "
             "(`inferwatch run quality`) has not validated any of its hours.")
    return Section("Data quality",
                   "Every Great Expectations result per validated hour, plus duplicate and "
                   "quarantine rates; a failed expectation says why in its message.",
                   figures.quality(failures, views.quality_by_hour(data.quality)), empty,
                   failures.drop(columns=["exception", "suite"]) if not failures.empty else None,
                   "Failed expectations")


def _alerts(data: ModelData) -> Section:
    empty = ("No alerts table in this lake yet: alerts will show here once a job writes "
             "them." if data.alerts is None else "No alert for this model in this range.")
    return Section("Alerts", "Alerts raised for the model over time.",
                   figures.alerts(data.alerts), empty, data.alerts, "Alerts")


def sections(data: ModelData, granularity: str = "1h") -> list[Section]:
    """The report's sections, in order, for a loaded model."""
    lookup_granularity(granularity)  # an unknown one is a one-line UserError
    return [*_performance(data, granularity), _versions(data, granularity),
            _drift(data, granularity), _quality(data), _alerts(data)]


def _facts(data: ModelData, granularity: str) -> list[str]:
    starts = pd.concat([f["window_start"] for f in (data.performance, data.drift, data.quality)
                        if not f.empty])
    shown = (f"[{data.start or 'first'}, {data.end or 'last'})"
             if data.start is not None or data.end is not None else "whole history")
    return [f"Lake {data.lake} · windows {starts.min():%Y-%m-%d %H:%M} to "
            f"{starts.max():%Y-%m-%d %H:%M} UTC ({shown}) · granularity {granularity}",
            f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by inferwatch report"]


def build_report(lake_root: str, model: str, start: str | datetime | None = None,
                 end: str | datetime | None = None, out: str | Path = "report.html",
                 granularity: str = "1h") -> Path:
    """Write the model's report to `out` (one HTML file that needs no network) and return
    its path. An unknown model or a range without rows is a `UserError`."""
    data = load(str(lake_root), model, start, end)
    parts = sections(data, granularity)
    path = Path(out)
    if not path.parent.exists():
        raise UserError(f"cannot write {path}: folder {path.parent} does not exist")
    path.write_text(page(f"inferwatch · {model}", _facts(data, granularity), parts),
                    encoding="utf-8")
    return path
