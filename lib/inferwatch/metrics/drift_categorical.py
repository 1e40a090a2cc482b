"""The categorical drift statistics of many comparisons at once, as arrays.

`metrics.drift._categorical` scores one comparison from its two `{category: count}` maps
(`drift_stats.category_pmfs`, `js_distance`, `psi`, `linf`, `chi2`,
`new_category_share`): about 0.2 ms of Python a row. Here every row's categories are one
long table (row, category, reference count, window count: the union of both maps'
categories, as `category_pmfs` takes it) and each statistic is a sum or a maximum per
row over it (`np.bincount`, `np.maximum.at`), with the same definitions (a test holds both
equal). A row with an empty or missing side has none of them, as row by row.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from inferwatch.metrics import drift_stats as ds

STATISTICS = ("js", "psi", "linf", "chi2", "cramers_v", "new_category_share")


def categorical_columns(reference: pa.Array, window: pa.Array, rows: np.ndarray
                        ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{metric: (value, computed)} per row of two map<string, count> columns, for the
    `rows` (a boolean mask) that are categorical."""
    n = len(reference)
    found = {m: (np.full(n, np.nan), np.zeros(n, dtype=bool)) for m in STATISTICS}
    sides = [_entries(column) for column in (reference, window)]
    present = rows.copy()
    for side in sides:  # a null or empty map has no entries
        present &= np.bincount(side["row"].to_numpy(), minlength=n) > 0
    if not present.any():
        return found
    kept = [side[present[side["row"].to_numpy()]] for side in sides]
    both = kept[0].merge(kept[1], on=["row", "key"], how="outer", suffixes=("_r", "_w"))
    row = both["row"].to_numpy()
    b = both["count_r"].fillna(0).to_numpy(dtype=float)
    w = both["count_w"].fillna(0).to_numpy(dtype=float)
    if (b < 0).any() or (w < 0).any():
        raise ValueError("category counts must be >= 0")
    p, q = _normalized(_normalized(b, row, n), row, n), _normalized(_normalized(w, row, n), row, n)
    size = np.bincount(row, minlength=n).astype(float)
    values = {"js": _js(p, q, row, n), "psi": _psi(p, q, row, size, n),
              "linf": _max(np.abs(p - q), row, n)}
    values["chi2"], values["cramers_v"] = _chi2(b, w, row, n)
    in_window = both["count_w"].notna().to_numpy()  # the window's own categories
    total = np.bincount(row, np.where(in_window, w, 0.0), minlength=n)
    new = np.bincount(row, np.where(in_window & ~(b > 0), w, 0.0), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        values["new_category_share"] = np.where(total > 0, new / total, np.nan)
    for metric, value in values.items():
        found[metric][0][present] = value[present]
        found[metric][1][present] = True
    return found


def map_entries(column: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """(row, key, value) of every entry of a map column, as arrays (a slice of a column
    is honoured; a null map has no entry)."""
    listed = pa.ListArray.from_arrays(column.offsets, column.values)  # a map: its entries
    entries = pc.list_flatten(listed)
    return (pc.list_parent_indices(listed).to_numpy(),
            entries.field("key").to_numpy(zero_copy_only=False), entries.field("value"))


def _entries(column: pa.Array) -> pd.DataFrame:
    """(row, key, count) of every entry of a map column (a null count as 0)."""
    row, key, count = map_entries(column)
    return pd.DataFrame({"row": row, "key": key, "count": pc.fill_null(count, 0).to_numpy()})


def _normalized(x: np.ndarray, row: np.ndarray, n: int) -> np.ndarray:
    """x / its row's sum (`drift_stats._pair`): all nan for a row summing to 0."""
    sums = np.bincount(row, x, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sums[row] > 0, x / sums[row], np.nan)


def _js(p: np.ndarray, q: np.ndarray, row: np.ndarray, n: int) -> np.ndarray:
    m, kl = (p + q) / 2, np.zeros(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        for x in (p, q):
            kl += np.bincount(row, np.where(x > 0, x * np.log(x / m) - x + m,
                                            np.where(np.isnan(x), np.nan, m)), minlength=n)
    return np.sqrt(np.minimum(kl / (2 * math.log(2)), 1.0))


def _psi(p: np.ndarray, q: np.ndarray, row: np.ndarray, size: np.ndarray, n: int
         ) -> np.ndarray:
    eps = ds.PSI_EPSILON
    e, a = (p + eps) / (1 + size[row] * eps), (q + eps) / (1 + size[row] * eps)
    return np.bincount(row, (a - e) * np.log(a / e), minlength=n)


def _max(x: np.ndarray, row: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -np.inf)
    with np.errstate(invalid="ignore"):  # a nan (an empty side) stays nan
        np.maximum.at(out, row, x)
    return out


def _chi2(b: np.ndarray, w: np.ndarray, row: np.ndarray, n: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """`drift_stats.chi2` per row: categories with no count on either side dropped."""
    used = (b + w) > 0
    rb, rw = np.bincount(row, b, minlength=n), np.bincount(row, w, minlength=n)
    total, columns = rb + rw, np.bincount(row, used.astype(float), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        col = b + w
        eb, ew = rb[row] * col / total[row], rw[row] * col / total[row]
        terms = np.where(used, (b - eb) ** 2 / eb + (w - ew) ** 2 / ew, 0.0)
        stat = np.bincount(row, terms, minlength=n)
        cramers = np.minimum(np.sqrt(stat / total), 1.0)
    empty = (rb == 0) | (rw == 0)
    single = columns < 2
    return (np.where(empty, np.nan, np.where(single, 0.0, stat)),
            np.where(empty, np.nan, np.where(single, 0.0, cramers)))
