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
NARROW = 16  # at most this many points a row: `_below` compares every pair


# (value, error bound or None, computed) of each statistic, one entry per row
Columns = dict[str, tuple[np.ndarray, np.ndarray | None, np.ndarray]]


def numeric_values(rows: Sequence[Mapping[str, Any]]
                   ) -> list[dict[str, tuple[float, float | None]]]:
    """Per summary row (the `drift.summaries` columns), {metric: (value, error bound)}
    of its numeric statistics: what `drift._numeric` yields for it ({} where a side has
    no quantiles)."""
    found = numeric_columns(
        [r["q_w"] for r in rows], [r["q_r"] for r in rows], np.array([_std(r) for r in rows]),
        np.array([_iqr(r) for r in rows]), [r["edges"] for r in rows],
        np.array([_number(r["w_mean"]) for r in rows]),
        np.array([_number(r["r_mean"]) for r in rows]),
        np.array([r["w_mean"] is not None and r["r_mean"] is not None for r in rows], dtype=bool))
    out: list[dict[str, tuple[float, float | None]]] = [{} for _ in rows]
    for metric, (values, bounds, computed) in found.items():
        for i in np.flatnonzero(computed):
            out[i][metric] = (float(values[i]), None if bounds is None else float(bounds[i]))
    return out


def numeric_columns(q_w: Sequence, q_r: Sequence, std: np.ndarray, iqr: np.ndarray,
                    edges: Sequence, w_mean: np.ndarray, r_mean: np.ndarray,
                    means: np.ndarray) -> Columns:
    """The numeric statistics of many comparisons as arrays, per row: each side's
    quantiles at `QUANTILE_GRID` (None: no statistic), the reference's std and IQR, its
    frozen edges (None or empty: no binned statistic) and both means (`means`: both
    known, else no `mean_delta`). `ks` and `wasserstein` carry error bounds."""
    n = len(q_w)
    found: Columns = {}
    for metric, bounded in (("psi", False), ("js", False), ("hellinger", False),
                            ("ks", True), ("wasserstein", True), ("mean_delta", False)):
        found[metric] = (np.full(n, np.nan), np.full(n, np.nan) if bounded else None,
                         np.zeros(n, dtype=bool))
    usable = np.array([a is not None and b is not None for a, b in zip(q_w, q_r)], dtype=bool)
    rows = np.flatnonzero(usable)
    for start in range(0, rows.size, CHUNK):
        block = rows[start:start + CHUNK]
        _block(np.array([q_w[i] for i in block], dtype=float),
               np.array([q_r[i] for i in block], dtype=float),
               np.array([ds.robust_scale(std[i], iqr[i]) for i in block]),
               [edges[i] for i in block], w_mean[block], r_mean[block], means[block],
               block, found)
    return found


def _block(q_w: np.ndarray, q_r: np.ndarray, scale: np.ndarray, edges: list,
           w_mean: np.ndarray, r_mean: np.ndarray, means: np.ndarray, at: np.ndarray,
           found: Columns) -> None:
    """The statistics of one block of rows (rows `at` of `found`)."""
    _binned(edges, q_w, q_r, at, found)
    ks = _ks(q_w, q_r)
    finite = np.isfinite(ks)
    _put(found, "ks", at, np.where(finite, ks, np.nan),
         np.where(finite, EPS + EPS + 3 * ds.QUANTILE_GRID_GAP, np.nan))
    _put(found, "wasserstein", at, np.sum(WEIGHTS * np.abs(q_w - q_r), axis=1) / scale,
         (_spread(q_w) + _spread(q_r)) / scale)
    _put(found, "mean_delta", at[means], ((w_mean - r_mean) / scale)[means])


def _put(found: Columns, metric: str, at: np.ndarray, values: np.ndarray,
         bounds: np.ndarray | None = None) -> None:
    value, bound, computed = found[metric]
    value[at] = values
    if bound is not None and bounds is not None:
        bound[at] = bounds
    computed[at] = True


def _binned(edges: list, q_w: np.ndarray, q_r: np.ndarray, at: np.ndarray,
            found: Columns) -> None:
    """PSI, JS and Hellinger of the rows with frozen edges, on their bins."""
    with_edges = [i for i, e in enumerate(edges) if e is not None and len(e)]
    if not with_edges:
        return
    width = max(len(edges[i]) for i in with_edges)
    padded = np.array([list(edges[i]) + [edges[i][-1]] * (width - len(edges[i]))
                       for i in with_edges], dtype=float)
    bins = np.array([len(edges[i]) + 1 for i in with_edges], dtype=float)
    expected = _pmf(cdf_at(padded, q_r[with_edges]))
    actual = _pmf(cdf_at(padded, q_w[with_edges]))
    rows = at[with_edges]
    _put(found, "psi", rows, _psi(expected, actual, bins))
    _put(found, "js", rows, _js(expected, actual))
    _put(found, "hellinger", rows, _hellinger(expected, actual))


def cdf_at(points: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """`drift.cdf_at` of each row's points (rows x k) on its quantiles (rows x grid)."""
    q = np.maximum.accumulate(quantiles, axis=1)
    return _cdf_counted(points, q, _below(q, points, strict=True),
                        _below(q, points, strict=False))


def _below(q: np.ndarray, x: np.ndarray, strict: bool) -> np.ndarray:
    """Per row, how many of `q`'s values are < (`strict`) or <= each `x`, as a sum of
    comparisons would count them (a nan never counts and counts nothing), from one stable
    sort of both: rows x (k + g) log, not the rows x k x g of comparing every pair."""
    rows, k = x.shape
    if k <= NARROW:  # a few points (bin edges): comparing every pair is cheaper than a sort
        counted = (q[:, None, :] < x[:, :, None]) if strict else (q[:, None, :] <= x[:, :, None])
        return counted.sum(axis=2)
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
    """max |F_w - F_r| over both grids' finite quantiles (nan without any). Rows whose
    grids are finite and non-decreasing (a sketch's, always) take `_ks_sorted`; the
    others compare every point with each grid (`cdf_at`)."""
    out = np.full(q_w.shape[0], np.nan)
    plain = (np.isfinite(q_w).all(axis=1) & np.isfinite(q_r).all(axis=1)
             & (np.diff(q_w, axis=1) >= 0).all(axis=1) & (np.diff(q_r, axis=1) >= 0).all(axis=1))
    if plain.any():
        out[plain] = _ks_sorted(q_w[plain], q_r[plain])
    if not plain.all():
        rest = ~plain
        points = np.concatenate((q_w[rest], q_r[rest]), axis=1)
        finite = np.isfinite(points)
        gaps = np.abs(cdf_at(np.where(finite, points, 0.0), q_w[rest])
                      - cdf_at(np.where(finite, points, 0.0), q_r[rest]))
        best = np.where(finite, gaps, -np.inf).max(axis=1)
        out[rest] = np.where(np.isfinite(best), best, np.nan)
    return out


def _ks_sorted(q_w: np.ndarray, q_r: np.ndarray) -> np.ndarray:
    """`_ks` of rows of finite, non-decreasing grids from one sort of both: in the sorted
    union, the quantiles of a side below a point (< and <=) are that side's count before
    the point's run of equal values and through it; each side's CDF at every point is
    then `cdf_at`'s, term for term (a test holds both equal)."""
    g = q_w.shape[1]
    both = np.concatenate((q_w, q_r), axis=1)
    order = np.argsort(both, axis=1, kind="stable")
    points = np.take_along_axis(both, order, axis=1)
    from_w = order < g
    at = np.broadcast_to(np.arange(2 * g), points.shape)
    starts = np.ones(points.shape, dtype=bool)
    starts[:, 1:] = points[:, 1:] != points[:, :-1]
    ends = np.ones(points.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, at, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, at, 2 * g)[:, ::-1], axis=1)[:, ::-1]
    cdfs = []
    for q, mine in ((q_w, from_w), (q_r, ~from_w)):
        through = np.cumsum(mine, axis=1)
        left = np.take_along_axis(through - mine, first, axis=1)
        right = np.take_along_axis(through, last, axis=1)
        cdfs.append(_cdf_counted(points, q, left, right))
    return np.abs(cdfs[0] - cdfs[1]).max(axis=1)


def _cdf_counted(points: np.ndarray, q: np.ndarray, left: np.ndarray, right: np.ndarray
                 ) -> np.ndarray:
    """`cdf_at` of `points` on non-decreasing `q`, given how many of `q` are < (`left`)
    and <= (`right`) each point."""
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
    return (row["iqr_r"][1] - row["iqr_r"][0]) if row["iqr_r"] is not None and len(
        row["iqr_r"]) else math.nan


def _number(value) -> float:
    return math.nan if value is None else float(value)
