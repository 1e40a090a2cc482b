"""The numeric drift statistics of many summary rows at once, as arrays.

`metrics.drift` scores a comparison row by row; its numeric statistics (PSI, JS and
Hellinger on the frozen bins, KS with its bound, Wasserstein with its bound, the mean
delta) are numpy work on each row's quantile grids, and one call per row cost more than
the Spark plan that produced the rows (a drift run of a few days has 10^4-10^5 of them).
`numeric_values(rows)` computes them for all rows in a few array operations, with the
same definitions as `metrics.drift_stats` (a test holds both equal): each side's CDF read
off its quantile grid (`drift.cdf_at`) by comparing every point with every grid
quantile, the frozen edges padded to the longest with their last edge (an empty bin on
both sides adds nothing; PSI's smoothing keeps each row's own bin count).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from inferwatch.metrics import drift_stats as ds

GRID = np.asarray(ds.QUANTILE_GRID)
WEIGHTS = np.diff(np.concatenate(([0.0], (GRID[1:] + GRID[:-1]) / 2, [1.0])))
EPS = ds.KLL_RANK_ERROR
CHUNK = 512  # rows per block: the point-by-quantile comparison is rows x 200 x 100


def numeric_values(rows: Sequence[Mapping[str, Any]]
                   ) -> list[dict[str, tuple[float, float | None]]]:
    """Per summary row (the `drift.summaries` columns), {metric: (value, error bound)}
    of its numeric statistics: what `drift._numeric` yields for it ({} where a side has
    no quantiles)."""
    out: list[dict[str, tuple[float, float | None]]] = [{} for _ in rows]
    usable = [i for i, r in enumerate(rows) if r["q_w"] is not None and r["q_r"] is not None]
    for start in range(0, len(usable), CHUNK):
        block = usable[start:start + CHUNK]
        for i, found in zip(block, _block([rows[i] for i in block]), strict=True):
            out[i] = found
    return out


def _block(rows: list[Mapping[str, Any]]) -> list[dict[str, tuple[float, float | None]]]:
    q_w = np.array([r["q_w"] for r in rows], dtype=float)
    q_r = np.array([r["q_r"] for r in rows], dtype=float)
    scale = np.array([ds.robust_scale(_std(r), _iqr(r)) for r in rows])
    found: list[dict[str, tuple[float, float | None]]] = [{} for _ in rows]
    _binned(rows, q_w, q_r, found)
    ks = _ks(q_w, q_r)
    bound = EPS + EPS + 3 * ds.QUANTILE_GRID_GAP
    wasserstein = np.sum(WEIGHTS * np.abs(q_w - q_r), axis=1) / scale
    error = (_spread(q_w) + _spread(q_r)) / scale
    for i, r in enumerate(rows):
        value = float(ks[i])
        found[i]["ks"] = (value, bound) if math.isfinite(value) else (math.nan, math.nan)
        found[i]["wasserstein"] = (float(wasserstein[i]), float(error[i]))
        if r["w_mean"] is not None and r["r_mean"] is not None:
            found[i]["mean_delta"] = ((float(r["w_mean"]) - float(r["r_mean"]))
                                      / float(scale[i]), None)
    return found


def _binned(rows: list[Mapping[str, Any]], q_w: np.ndarray, q_r: np.ndarray,
            found: list[dict]) -> None:
    """PSI, JS and Hellinger of the rows with frozen edges, on their bins."""
    with_edges = [i for i, r in enumerate(rows) if r["edges"]]
    if not with_edges:
        return
    width = max(len(rows[i]["edges"]) for i in with_edges)
    edges = np.array([list(rows[i]["edges"]) + [rows[i]["edges"][-1]] *
                      (width - len(rows[i]["edges"])) for i in with_edges], dtype=float)
    bins = np.array([len(rows[i]["edges"]) + 1 for i in with_edges], dtype=float)
    expected = _pmf(cdf_at(edges, q_r[with_edges]))
    actual = _pmf(cdf_at(edges, q_w[with_edges]))
    psi, js, hellinger = _psi(expected, actual, bins), _js(expected, actual), \
        _hellinger(expected, actual)
    for n, i in enumerate(with_edges):
        found[i].update({"psi": (float(psi[n]), None), "js": (float(js[n]), None),
                         "hellinger": (float(hellinger[n]), None)})


def cdf_at(points: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """`drift.cdf_at` of each row's points (rows x k) on its quantiles (rows x grid)."""
    q = np.maximum.accumulate(quantiles, axis=1)
    left, right = _below(q, points, strict=True), _below(q, points, strict=False)
    size = q.shape[1]
    below = np.maximum(right - 1, 0)
    above = np.minimum(right, size - 1)
    q_below = np.take_along_axis(q, below, axis=1)
    q_above = np.take_along_axis(q, above, axis=1)
    out = np.where(right > 0, GRID[below], 0.0)
    between = (left == right) & (right > 0) & (right < size)
    with np.errstate(invalid="ignore", divide="ignore"):  # only `between` is used
        inside = GRID[below] + (GRID[above] - GRID[below]) * (points - q_below) / (q_above - q_below)
    return np.where(between, inside, out)


def _below(q: np.ndarray, x: np.ndarray, strict: bool) -> np.ndarray:
    """Per row, how many of `q`'s values are < (`strict`) or <= each `x`, as a sum of
    comparisons would count them (a nan never counts and counts nothing), from one stable
    sort of both: rows x (k + g) log, not the rows x k x g of comparing every pair."""
    rows, k = x.shape
    both = np.concatenate((x, q) if strict else (q, x), axis=1)  # ties: the first side first
    is_x = np.zeros(both.shape, dtype=bool)
    if strict:
        is_x[:, :k] = True
    else:
        is_x[:, q.shape[1]:] = True
    order = np.argsort(both, axis=1, kind="stable")
    tags = np.take_along_axis(is_x, order, axis=1)
    q_before = np.cumsum(~tags, axis=1)
    where = order[tags].reshape(rows, k) - (0 if strict else q.shape[1])
    counts = np.empty((rows, k), dtype=np.int64)
    np.put_along_axis(counts, where, q_before[tags].reshape(rows, k), axis=1)
    return np.where(np.isnan(x), 0, counts)


def _pmf(ranks: np.ndarray) -> np.ndarray:
    """`drift_stats.bin_pmf` row by row, normalized as the distances normalize it."""
    cdf = np.maximum.accumulate(np.clip(ranks, 0.0, 1.0), axis=1)
    ones = np.ones((ranks.shape[0], 1))
    pmf = np.diff(np.concatenate((0 * ones, cdf, ones), axis=1), axis=1)
    return pmf / pmf.sum(axis=1, keepdims=True)


def _psi(e: np.ndarray, a: np.ndarray, bins: np.ndarray) -> np.ndarray:
    eps = ds.PSI_EPSILON
    e = (e + eps) / (1 + bins[:, None] * eps)
    a = (a + eps) / (1 + bins[:, None] * eps)
    return np.sum((a - e) * np.log(a / e), axis=1)


def _js(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    m, kl = (p + q) / 2, 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        for x in (p, q):
            kl = kl + np.sum(np.where(x > 0, x * np.log(x / m) - x + m, m), axis=1)
    return np.sqrt(np.minimum(kl / (2 * math.log(2)), 1.0))


def _hellinger(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.sqrt(np.minimum(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2, axis=1) / 2, 1.0))


def _ks(q_w: np.ndarray, q_r: np.ndarray) -> np.ndarray:
    """max |F_w - F_r| over both grids' finite quantiles (nan without any)."""
    points = np.concatenate((q_w, q_r), axis=1)
    finite = np.isfinite(points)
    gaps = np.abs(cdf_at(np.where(finite, points, 0.0), q_w)
                  - cdf_at(np.where(finite, points, 0.0), q_r))
    gaps = np.where(finite, gaps, -np.inf)
    best = gaps.max(axis=1)
    return np.where(np.isfinite(best), best, np.nan)


def _spread(q: np.ndarray) -> np.ndarray:
    """sum(w * (Q(p + eps) - Q(p - eps))) of each row, Q read off its grid as `np.interp`."""
    q = np.maximum.accumulate(q, axis=1)
    return np.sum(WEIGHTS * (_interp(GRID + EPS, q) - _interp(GRID - EPS, q)), axis=1)


def _interp(at: np.ndarray, q: np.ndarray) -> np.ndarray:
    """`np.interp(at, GRID, row)` for every row of `q` (held at the ends)."""
    index = np.clip(np.searchsorted(GRID, at, side="right") - 1, 0, GRID.size - 2)
    frac = np.clip((at - GRID[index]) / (GRID[index + 1] - GRID[index]), 0.0, 1.0)
    return q[:, index] * (1 - frac) + q[:, index + 1] * frac


def _std(row: Mapping[str, Any]) -> float:
    n, m2 = row["r_n_finite"] or 0, row["r_m2"]
    return math.sqrt(max(m2, 0.0) / (n - 1)) if n > 1 and m2 is not None else math.nan


def _iqr(row: Mapping[str, Any]) -> float:
    return (row["iqr_r"][1] - row["iqr_r"][0]) if row["iqr_r"] else math.nan
