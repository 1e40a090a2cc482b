"""Signals from `metrics/performance`: what fires in a window of a model's labelled and
estimated performance, label feedback and volume (rows in `signals.COLUMNS` order).

- `performance`: a column past a floor or ceiling of the model's `alerts.floors` /
  `alerts.ceilings` (kind `performance`; `volume` for the row count `n`; `coverage` for
  `label_coverage` and `delay_p*`);
- `anomalies`: a column far worse than its own recent (or same-season) history;
- `coverage`: a slice's label coverage collapsed against the whole model's in the same
  window.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from inferwatch.alerts.signals import COLUMNS, empty

MIN_COVERAGE = 0.05  # below it, the whole model's labels are too few to compare slices
ALPHA = 1e-6  # a slice's labelled rows this unlikely at the model's coverage: stopped
# rules on these are about the feed, not the model: the support they need and their kind
SUPPORT = {"n": None, "label_coverage": "n"}
HIGHER_IS_WORSE = {"log_loss", "brier", "rmse", "mae", "mape", "estimated_log_loss",
                   "estimated_brier", "estimated_rmse", "estimated_mae", "estimated_mape",
                   "delay_p50", "delay_p90", "delay_p99"}
SEASON = {"1h": "hour", "1d": "dayofweek"}


def performance(frame: pd.DataFrame, rules: list[dict], min_labeled: int) -> pd.DataFrame:
    """Windows whose metric is past a rule of the model's `alerts.floors` / `ceilings`
    (`settings.Rule`: metric, bound, ceiling or not, granularity), with enough support:
    labelled rows for a realized metric or a feedback delay, rows for an estimate or a
    label coverage, none for the row count `n` itself. Kinds: `volume` for `n`, `coverage`
    for label coverage and delays, `performance` for the rest."""
    if frame is None or frame.empty or not rules:
        return empty()
    out = []
    for rule in rules:
        metric, bound, ceiling = rule["metric"], rule["bound"], rule["ceiling"]
        rows = frame[frame["granularity"] == rule["granularity"]]
        if metric not in rows or rows.empty:
            continue
        support = SUPPORT.get(metric, "n" if metric.startswith("estimated_") else "n_labeled")
        enough = rows[support] >= min_labeled if support else True
        worse = rows[metric] > bound if ceiling else rows[metric] < bound
        hit = rows[worse.fillna(False) & enough]
        kind = rule_kind(metric)
        side = "above its ceiling" if ceiling else "below its floor"
        for r in hit.itertuples():
            value = float(getattr(r, metric))
            score = (value / bound if bound else math.inf) if ceiling else \
                (bound / value if value else math.inf)
            out.append((r.model_id, r.granularity, r.window_start, kind, r.slice_key,
                        r.slice_value, None, metric, value, bound, score,
                        f"{metric} {value:.4g} {side} {bound:g} on "
                        f"{int(getattr(r, support or 'n'))} {'labelled ' if support == 'n_labeled' else ''}rows"))
    return pd.DataFrame(out, columns=COLUMNS) if out else empty()


def rule_kind(metric: str) -> str:
    if metric == "n":
        return "volume"
    return "coverage" if metric == "label_coverage" or metric.startswith("delay_") \
        else "performance"


def anomalies(frame: pd.DataFrame, metrics: list[str], granularity: str, min_labeled: int,
              history: int, z: float, seasonal: bool = False) -> pd.DataFrame:
    """Windows whose metric is more than `z` standard errors worse than the median of the
    slice's previous `history` windows (at least one); `seasonal`: of the previous windows
    in the same season (hour of day for `1h`, day of week for `1d`), so a night hour is
    compared with nights. The scale is the larger of the history's robust spread (MAD x
    1.4826, once 5 windows exist) and the window's own sampling error (`sampling_error`),
    so a short or very steady history does not turn every wobble of a small window into
    an alert. Worse is lower, higher for `HIGHER_IS_WORSE` (losses, errors, delays),
    either way for the row count `n` (kind `volume`; delays and coverage: `coverage`)."""
    if frame is None or frame.empty:
        return empty()
    rows = frame[frame["granularity"] == granularity]
    keys = [rows["slice_key"], rows["slice_value"]]
    if seasonal and granularity in SEASON:
        keys.append(getattr(pd.to_datetime(rows["window_start"]).dt, SEASON[granularity]))
    rows = rows.assign(_group=rows.groupby(keys, dropna=False).ngroup()).sort_values(
        ["_group", "window_start"], kind="stable")
    group = rows.pop("_group").to_numpy()
    out = []  # (slice, metric, time): the order of one slice after another
    for m, metric in enumerate(metrics):
        if metric not in rows:
            continue
        support = SUPPORT.get(metric, "n" if metric.startswith("estimated_") else "n_labeled")
        series = rows[metric].astype(float)
        if support:
            series = series.where(rows[support] >= min_labeled)
        median, mad, count = _past(series.to_numpy(), group, history)
        spread = np.where(count >= 5, 1.4826 * mad, 0.0)
        scale = np.maximum(spread, sampling_error(rows, metric).to_numpy())
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = (series.to_numpy() - median) / np.where(scale == 0.0, np.nan, scale)
        score = np.abs(delta) if metric == "n" else delta if metric in HIGHER_IS_WORSE \
            else -delta
        for i in np.flatnonzero(np.nan_to_num(score, nan=-np.inf) > z):
            r = rows.iloc[i]
            out.append((group[i], m, i, r["model_id"], granularity, r["window_start"], rule_kind(metric),
                        r["slice_key"], r["slice_value"], None, metric, r[metric], median[i],
                        float(score[i]),
                        f"{metric} {r[metric]:.4g} vs {median[i]:.4g} before "
                        f"({score[i]:.1f} standard errors "
                        f"{'off' if metric == 'n' else 'worse'})"))
    return pd.DataFrame([o[3:] for o in sorted(out, key=lambda o: o[:3])],
                        columns=COLUMNS) if out else empty()


def _past(values: np.ndarray, group: np.ndarray, history: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row (rows sorted by group, then time): the median, the median absolute
    deviation and the count of the non-null values among the group's previous `history`
    rows (NaN, NaN, 0 where there are none), every group at once: each group's values
    follow `history` NaNs in one padded array, so a row's window never reaches into the
    group before it."""
    if not len(values):
        return values, values, np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    ordinal = np.zeros(len(values), dtype=np.int64)
    ordinal[starts] = 1
    at = np.arange(len(values)) + np.cumsum(ordinal) * history  # each group's pad before it
    padded = np.full(len(values) + len(starts) * history, np.nan)
    padded[at] = values
    windows = np.lib.stride_tricks.sliding_window_view(padded, history)[at - history]
    count = np.count_nonzero(~np.isnan(windows), axis=1)
    with warnings.catch_warnings():  # a window with no values: NaN, as meant
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(windows, axis=1)
        mad = np.nanmedian(np.abs(windows - median[:, None]), axis=1)
    return median, mad, count


def sampling_error(rows: pd.DataFrame, metric: str) -> pd.Series:
    """One standard error of the metric in each window: Hanley-McNeil for AUC (from the
    labelled positives and negatives), binomial for rates, the stored estimate's own for
    `estimated_accuracy`; 0 where unknown (the history's spread then decides)."""
    name = metric.removeprefix("estimated_")
    value = rows[metric].astype(float)
    if metric == "estimated_accuracy" and "estimated_accuracy_std" in rows:
        return rows["estimated_accuracy_std"].astype(float).fillna(0.0)
    if name == "auc" and {"n_pos", "n_neg"} <= set(rows.columns):
        pos, neg = rows["n_pos"].astype(float), rows["n_neg"].astype(float)
        q1, q2 = value / (2 - value), 2 * value ** 2 / (1 + value)
        var = (value * (1 - value) + (pos - 1) * (q1 - value ** 2)
               + (neg - 1) * (q2 - value ** 2)) / (pos * neg)
        return np.sqrt(var.clip(lower=0)).fillna(0.0)
    if metric == "n":  # Poisson counts
        return np.sqrt(value.clip(lower=0)).fillna(0.0)
    if name in ("accuracy", "precision", "recall", "f1", "label_coverage"):
        n = rows["n" if metric.startswith("estimated_") or name == "label_coverage"
                 else "n_labeled"].astype(float)
        return np.sqrt((value * (1 - value) / n).clip(lower=0)).fillna(0.0)
    return pd.Series(0.0, index=rows.index)


def coverage(frame: pd.DataFrame, granularity: str, min_rows: int, drop: float
             ) -> pd.DataFrame:
    """Windows in which a slice's label coverage is below `drop` x the whole model's in
    the same window, and too far below to be chance: fewer labelled rows than a binomial
    draw of the slice's rows at the model's coverage gives with probability `ALPHA`.
    Comparing within a window compares labels of the same age, so "labels have not
    arrived yet" (every slice low together, as the model's usual delay says) reads as
    nothing, while labels that stopped for one slice stand out, even while few labels
    of anyone have arrived (coverage 25%: 21 of 350 labelled is p ~ 1e-20)."""
    if frame is None or frame.empty or "label_coverage" not in frame:
        return empty()
    rows = frame[frame["granularity"] == granularity]
    whole = rows[rows["slice_key"] == "*"].set_index("window_start")["label_coverage"]
    parts = rows[(rows["slice_key"] != "*") & (rows["n"] >= min_rows)]
    usual = parts["window_start"].map(whole)
    labelled = (parts["label_coverage"] * parts["n"]).round()
    chance = pd.Series(stats.binom.cdf(labelled, parts["n"], usual.clip(0, 1).fillna(0)),
                       index=parts.index)
    low = parts[(usual >= MIN_COVERAGE) & (parts["label_coverage"] < drop * usual)
                & (chance < ALPHA)]
    out = [(r.model_id, granularity, r.window_start, "coverage", r.slice_key, r.slice_value,
            None, "label_coverage", r.label_coverage, drop * u,
            u / max(r.label_coverage, 1e-9),
            f"label coverage {r.label_coverage:.0%} vs {u:.0%} for the whole model in the "
            f"same window ({int(r.n)} rows; chance {p:.1g}): labels stopped for the slice?")
           for r, u, p in zip(low.itertuples(), usual[low.index], chance[low.index])]
    return pd.DataFrame(out, columns=COLUMNS) if out else empty()
