"""What fires in a window: one row per (window, kind, slice, column) that breaks a rule.

Read from the compact metric tables (pandas frames from `inferwatch.read`), never from
rows. Each signal says what moved, where, by how much and against what:

- `drift`: a column whose hourly comparison with the baseline flags at least
  `min_metrics` (2) of its statistics, 3 for a slice (one flagged statistic out of five
  is the noise a clean column shows in ~3% of hours; a real shift moves PSI, KS and
  Wasserstein together, tests/metrics/test_drift.py; slices are smaller and many); a
  flagged `null_rate_delta` counts as 2 (exact counts: a null spike moves nothing else);
  a numeric column needs one statistic that is not on the bins (`UNBINNED`); a column
  near its thresholds (`HOLD`) is a `hold` row, which only keeps its open alert open;
- `quality`: a failed expectation of severity `critical` (a stopped feed, a schema
  change, a bound broken);
- `multivariate`: a day the domain classifier tells from the baseline;
- performance, label feedback and volume: `alerts.performance`.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

COLUMNS = ["model_id", "granularity", "window_start", "kind", "slice_key", "slice_value",
           "column", "metric", "value", "threshold", "score", "detail"]
MIN_METRICS = 2
# a numeric column needs one of these among its flagged statistics: PSI, JS and Hellinger
# on the frozen decile bins over-react to a discrete column (counts, ratings) whose few
# values sit on the bin edges
UNBINNED = {"ks", "wasserstein", "mean_delta", "null_rate_delta"}
SMALL_N = 20  # rows of an hour below which not even a large shift is judged
# An open drift alert stays open while its column's statistics pass this share of their
# thresholds (by the same counting rules as firing): a calibrated threshold is 1.5x the
# largest score of the baseline's clean held-out hours, so 1/1.5 is above anything clean
# showed. Without it a long shift flapped: quiet on small night hours, resolved, re-opened.
HOLD = 1 / 1.5


def empty() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS)


def held(signals: pd.DataFrame) -> pd.Series:
    """Which rows are `hold` rows (`drift`); signals of other kinds have none."""
    if "hold" not in signals:
        return pd.Series(False, index=signals.index)
    return signals["hold"].astype("boolean").fillna(False).astype(bool)


def drift(frame: pd.DataFrame, min_metrics: int = MIN_METRICS) -> pd.DataFrame:
    """Columns that fire (`hold` False), and columns that do not fire but whose statistics
    pass `HOLD` x their thresholds by the same counting rules (`hold` True): these only keep
    an open alert of the column from resolving (`alerts.lifecycle`). `frame` may hold many
    models' rows (`read.drift_metrics`): each window is judged within its model."""
    if frame is None or frame.empty:
        return empty()
    base = frame[(frame["granularity"] == "1h") & (frame["comparison"] == "baseline")]
    keys = ["model_id", "window_start", "column", "metric"]  # of any number of models
    whole = base.loc[base["slice_key"] == "*", keys + ["n"]].rename(columns={"n": "n_all"})
    base = base.merge(whole, on=keys, how="left")
    # a slice holding every row of the window (one model_version) is the whole model again
    base = base[(base["slice_key"] == "*") | (base["n"] != base["n_all"])]
    judged = base[base["status"] == "ok"]
    hits = judged[judged["drifted"].fillna(False).astype(bool)]
    fired = _columns(pd.concat([hits, small_windows(base)]), min_metrics)
    near = judged[judged["value"].abs() >= HOLD * judged["threshold"]]
    held = _columns(near, min_metrics)
    if not fired.empty and not held.empty:
        at = ["model_id", "window_start", "slice_key", "slice_value", "column"]
        both = held[at].merge(fired[at].drop_duplicates(), how="left", indicator=True)
        held = held[(both["_merge"] == "left_only").to_numpy()]
    parts = [p for p in (fired.assign(hold=False), held.assign(hold=True)) if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else empty()


def _columns(hits: pd.DataFrame, min_metrics: int) -> pd.DataFrame:
    """One signal per (window, slice, column) whose flagged statistics (`hits`) count at
    least `min_metrics` (a slice one more), one of them unbinned for a numeric column."""
    if hits.empty:
        return empty()
    hits = hits.assign(score=hits["value"].abs() / hits["threshold"],
                       weight=np.where(hits["metric"] == "null_rate_delta", min_metrics, 1))
    keys = ["model_id", "granularity", "window_start", "slice_key", "slice_value", "column"]
    counted = hits.groupby(keys, dropna=False)["weight"].transform("sum")
    need = np.where(hits["slice_key"] == "*", min_metrics, min_metrics + 1)
    unbinned = hits["metric"].isin(UNBINNED) | (hits["kind"] != "numeric")
    anchored = unbinned.groupby([hits[k] for k in keys], dropna=False).transform("any")
    top = (hits[(counted >= need) & anchored].sort_values("score", ascending=False)
           .drop_duplicates(keys))
    if top.empty:
        return empty()
    metrics = hits.groupby(keys, dropna=False)["metric"].apply(lambda m: sorted(set(m)))
    top = top.join(metrics.rename("flagged"), on=keys)
    # how far past its threshold the column is on two statistics (its second-best score;
    # a null-rate delta, exact counts, confirms itself): one noisy statistic on a small
    # hour (a rare category, an emptied bin) must not open an alert at once
    second = hits.assign(score=np.where(hits["metric"] == "null_rate_delta", np.inf,
                                        hits["score"])).groupby(keys, dropna=False)[
        "score"].apply(lambda v: np.inf if np.isinf(v).any() else
                       sorted(v)[-2] if len(v) > 1 else 0.0)
    top = top.join(second.rename("confirm"), on=keys)
    top["confirm"] = np.minimum(top["confirm"], top["score"])
    top["flagged"] = [", ".join(x for x in f if x != m) or "alone"
                      for f, m in zip(top["flagged"], top["metric"])]
    return pd.DataFrame({
        **{k: top[k] for k in keys}, "kind": "drift", "metric": top["metric"],
        "value": top["value"], "threshold": top["threshold"], "score": top["score"],
        "detail": [f"{c}: {m} {v:.3g} > {t:.3g} (also {f})" for c, m, v, t, f in
                   zip(top["column"], top["metric"], top["value"], top["threshold"],
                       top["flagged"])],
        "confirm": top["confirm"],
    })[COLUMNS + ["confirm"]]


def small_windows(base: pd.DataFrame) -> pd.DataFrame:
    """Rows of hours with fewer rows than the drift job judges (`insufficient_data`) but at
    least `SMALL_N`, whose KS statistic, less its sketch bound, passes the two-sample KS
    critical value at 99% for those counts, 1.63 sqrt(1/n + 1/n_ref): a shift too large to
    be chance even on few rows. Kept as `ks` and `psi` rows so that it counts as two."""
    small = base[(base["status"] == "insufficient_data") & (base["n"] >= SMALL_N)]
    ks = small[small["metric"] == "ks"]
    critical = 1.63 * np.sqrt(1 / ks["n"] + 1 / ks["n_reference"].clip(lower=1))
    strong = ks[(ks["value"] - ks["error_bound"].fillna(0)) > critical]
    keys = ["model_id", "window_start", "slice_key", "slice_value", "column"]
    chosen = small.merge(strong[keys], on=keys)
    chosen = chosen[chosen["metric"].isin(["ks", "psi"]) & chosen["threshold"].notna()
                    & (chosen["value"].abs() > chosen["threshold"])]
    return chosen.assign(status="ok", drifted=True)


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
    """One row per leading feature (up to 3) of each drifted day: the causes to match."""
    if frame is None or frame.empty:
        return empty()
    hit = frame[frame["drifted"].eq(True)]
    out = []
    for r in hit.itertuples():
        leads = [f["feature"] for f in list(r.top_features if r.top_features is not None
                                            else [])[:3]] or [None]
        for feature in leads:
            out.append((r.model_id, r.granularity, r.window_start, "multivariate", "*", "*",
                        feature, "auc", r.auc, r.threshold, r.auc / r.threshold,
                        f"domain classifier AUC {r.auc:.3f} > {r.threshold:.3g}; led by "
                        f"{', '.join(str(x) for x in leads)}"))
    return pd.DataFrame(out, columns=COLUMNS) if out else empty()


def _observed(text: str | None) -> float:
    try:
        value = json.loads(text) if text else None
    except (TypeError, ValueError):
        return math.nan
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else math.nan
