"""Root-cause hints for one model and window, from the metric tables alone.

Ranked, each with its numbers: the slices that contribute most to the window's shortfall
(how far their metric is below the whole model's, times their labelled rows; at least 30), the features that drifted most in the
window (by how far past its threshold the strongest statistic is), the expectations that
failed in it, and the label coverage and feedback delay of the window against the
model's usual (median of its other windows), so "labels have not arrived yet" reads
differently from "labels stopped".
"""
from __future__ import annotations

from datetime import datetime

import pandas as pd

from inferwatch.alerts.performance import HIGHER_IS_WORSE
from inferwatch.granularity import granularity as lookup_granularity
from inferwatch.granularity import truncate

TOP = 5
MIN_SLICE_LABELED = 30


def hints(frames: dict[str, pd.DataFrame], metric: str, window: datetime,
          granularity: str) -> dict[str, list[dict]]:
    start = pd.Timestamp(truncate(window, granularity))
    perf = _at(frames.get("metrics/performance"), granularity, start)
    return {"slices": _slices(perf, metric), "drift": _drift(frames.get("metrics/drift"),
                                                             granularity, start),
            "quality": _quality(frames.get("metrics/quality"), start, granularity),
            "labels": _labels(frames.get("metrics/performance"), granularity, start)}


def explain(lake: str, model, window: datetime, granularity: str,
            metric: str | None = None) -> str:
    """`inferwatch explain`: the window's hints and the alerts that cover it, as text."""
    from inferwatch import read
    from inferwatch.alerts.settings import MAIN_METRICS

    names = ("metrics/performance", "metrics/drift", "metrics/quality")
    found = {n: read.table(lake, n, model=model.model_id) for n in names}
    found["metrics/drift"] = read.drift_metrics(found["metrics/drift"])
    start = truncate(window, granularity)
    stored = read.table(lake, "alerts", model=model.model_id)
    covering = stored
    if not stored.empty:
        at = pd.Timestamp(start)
        last = stored["resolved_window"].fillna(stored["last_window"])
        covering = stored[(stored["first_window"] <= at) & (last >= at)]
    if metric is None:  # the metric of a performance alert covering the window, if any
        alerted = covering[covering["kind"] == "performance"] if len(covering) else covering
        metric = alerted["metric"].iloc[0] if len(alerted) else \
            (MAIN_METRICS.get(model.problem_type) or ["accuracy"])[0]
    lines = [f"{model.model_id}, {granularity} window {start:%Y-%m-%d %H:%M} UTC, "
             f"ranked by {metric}:"]
    lines += text(hints(found, metric, start, granularity))
    if not stored.empty:
        lines.append("alerts:" + ("" if len(covering) else " none cover this window"))
        lines += [f"  - {r.status}: {r.message}" for r in covering.itertuples()]
    return "\n".join(lines)


def text(found: dict[str, list[dict]]) -> list[str]:
    lines = []
    for name, items in found.items():
        lines.append(f"{name}:" + ("" if items else " nothing notable"))
        lines += [f"  {i + 1}. {item['hint']}" for i, item in enumerate(items)]
    return lines


def _at(frame: pd.DataFrame | None, granularity: str, start: pd.Timestamp) -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame()
    return frame[(frame["granularity"] == granularity) & (frame["window_start"] == start)]


def _slices(perf: pd.DataFrame, metric: str) -> list[dict]:
    if perf.empty or metric not in perf:
        return []
    whole = perf[perf["slice_key"] == "*"][metric]
    if whole.empty or pd.isna(whole.iloc[0]):
        return []
    overall = float(whole.iloc[0])
    sign = -1.0 if metric in HIGHER_IS_WORSE else 1.0
    support = perf["n"] if metric.startswith("estimated_") else perf["n_labeled"]
    parts = perf[(perf["slice_key"] != "*") & (support >= MIN_SLICE_LABELED)
                 & perf[metric].notna()].copy()
    parts["gap"] = sign * (overall - parts[metric])
    # contribution to the model's shortfall: the gap weighted by the slice's labelled rows
    parts["weight"] = parts["gap"] * support[parts.index]
    parts = parts[parts["gap"] > 0].sort_values("weight", ascending=False).head(TOP)
    return [{"slice_key": r.slice_key, "slice_value": r.slice_value, "value": r[metric],
             "overall": overall, "hint": f"{r.slice_key}={r.slice_value}: {metric} "
             f"{r[metric]:.3f} vs {overall:.3f} overall ({int(r['n_labeled'])} labelled)"}
            for _, r in parts.iterrows()]


def _drift(frame: pd.DataFrame | None, granularity: str, start: pd.Timestamp) -> list[dict]:
    rows = _at(frame, granularity, start)
    if rows.empty:
        return []
    rows = rows[(rows["comparison"] == "baseline") & rows["drifted"].fillna(False)
                & (rows["slice_key"] == "*")]
    rows = rows.assign(score=rows["value"].abs() / rows["threshold"])
    best = rows.sort_values("score", ascending=False).drop_duplicates("column").head(TOP)
    return [{"column": r.column, "metric": r.metric, "value": r.value,
             "hint": f"{r.column}: {r.metric} {r.value:.3g} (threshold {r.threshold:.3g})"}
            for r in best.itertuples()]


def _quality(frame: pd.DataFrame | None, start: pd.Timestamp, granularity: str
             ) -> list[dict]:
    if frame is None or frame.empty:
        return []
    end = lookup_granularity(granularity).window_end(start)
    failed = frame[(frame["window_start"] >= start) & (frame["window_start"] < end)
                   & ~frame["success"].fillna(False).astype(bool)]
    failed = failed.drop_duplicates(["expectation_type", "column"]).head(TOP)
    return [{"expectation_type": r.expectation_type, "column": r.column,
             "hint": r.message or r.expectation_type} for r in failed.itertuples()]


def _labels(frame: pd.DataFrame | None, granularity: str, start: pd.Timestamp) -> list[dict]:
    if frame is None or frame.empty:
        return []
    whole = frame[(frame["granularity"] == granularity) & (frame["slice_key"] == "*")]
    now = whole[whole["window_start"] == start]
    if now.empty:
        return []
    usual = whole[whole["window_start"] != start]["label_coverage"].median()
    coverage = now["label_coverage"].iloc[0]
    delay = now["delay_p50"].iloc[0] if "delay_p50" in now else None
    hint = f"label coverage {coverage:.0%}"
    if pd.notna(usual):
        hint += f" (usual {usual:.0%})"
    if delay is not None and pd.notna(delay):
        hint += f", median feedback delay {delay / 3600:.1f} h"
    return [{"coverage": coverage, "usual": usual, "hint": hint}]
