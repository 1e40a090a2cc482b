"""The batched numeric drift statistics equal the row-by-row ones (`drift._numeric`)."""
from __future__ import annotations

import math

import numpy as np

from inferwatch.metrics import drift
from inferwatch.metrics import drift_stats as ds
from inferwatch.metrics.drift_batch import numeric_values


def _side(rng, kind: str) -> dict:
    n = int(rng.integers(2, 3000))
    if kind == "ties":  # a few values: point masses in the grid
        values = rng.choice([0.0, 1.0, 2.5], size=n, p=[0.6, 0.3, 0.1])
    elif kind == "constant":
        values = np.full(n, 7.0)
    elif kind == "heavy":
        values = rng.lognormal(0, 1.5, n)
    else:
        values = rng.normal(rng.normal(0, 2), rng.uniform(0.1, 5), n)
    q = np.quantile(values, ds.QUANTILE_GRID, method="inverted_cdf")
    return {"q": q.tolist(), "n": n, "mean": float(values.mean()),
            "m2": float(((values - values.mean()) ** 2).sum()),
            "iqr": np.quantile(values, [0.25, 0.75]).tolist()}


def _rows(seed: int, count: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    kinds = ["normal", "ties", "constant", "heavy"]
    rows = []
    for i in range(count):
        w, r = _side(rng, rng.choice(kinds)), _side(rng, rng.choice(kinds))
        edges = sorted(set(np.round(np.quantile(r["q"], np.linspace(0.1, 0.9, 9)), 3)))
        rows.append({
            "kind": "numeric", "q_w": w["q"], "q_r": r["q"], "iqr_r": r["iqr"],
            "w_mean": None if i % 17 == 0 else w["mean"], "r_mean": r["mean"],
            "r_n_finite": r["n"], "r_m2": None if i % 23 == 0 else r["m2"],
            "edges": None if i % 7 == 0 else edges[: 1 + i % len(edges)],
        })
    rows[3]["q_w"] = None  # a side without values: no numeric statistic
    return rows


def test_batched_numeric_statistics_equal_the_row_by_row_ones():
    rows = _rows(seed=3, count=1500)  # several blocks
    batched = numeric_values(rows)
    assert batched[3] == {}
    compared = 0
    for row, got in zip(rows, batched, strict=True):
        want = dict(drift._numeric(row))
        assert set(got) == set(want), (set(got), set(want))
        for metric, (value, bound) in want.items():
            for a, b in ((got[metric][0], value), (got[metric][1], bound)):
                if b is None or (isinstance(b, float) and math.isnan(b)):
                    assert a is None or math.isnan(a), (metric, a, b)
                else:
                    assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (metric, a, b)
                    compared += 1
    assert compared > 10_000
    # and the values are not all alike: the rows drift by very different amounts
    psi = [v["psi"][0] for v in batched if "psi" in v]
    assert min(psi) < 0.05 and max(psi) > 5


def test_counting_by_one_sort_equals_comparing_every_pair():
    """`cdf_at` counts the grid quantiles below each point with one sort per row; it
    equals summing every comparison, ties, infinities and nans included."""
    from inferwatch.metrics.drift_batch import _below

    rng = np.random.default_rng(0)
    for trial in range(200):
        n, g, k = (int(v) for v in rng.integers(1, 40, 3))
        q = np.sort(rng.integers(-5, 5, (n, g)).astype(float), axis=1)
        x = rng.integers(-6, 6, (n, k)).astype(float)
        if trial % 3 == 0:
            q[rng.random(q.shape) < 0.1] = np.inf
            q = np.sort(q, axis=1)
            x[rng.random(x.shape) < 0.1] = np.nan
            x[rng.random(x.shape) < 0.1] = -np.inf
        if trial % 5 == 0:
            q[:, -1] = np.nan
        pairs = q[:, None, :], x[:, :, None]
        assert (_below(q, x, strict=True) == np.sum(pairs[0] < pairs[1], axis=2)).all()
        assert (_below(q, x, strict=False) == np.sum(pairs[0] <= pairs[1], axis=2)).all()


def test_ks_of_sorted_grids_from_one_sort_equals_comparing_every_point():
    """`_ks_sorted` (finite, non-decreasing grids: the sketches') equals `cdf_at` of every
    point on each grid, ties within and across the sides included; `_ks` sends the other
    rows (unsorted, non-finite) the general way."""
    from inferwatch.metrics.drift_batch import _ks, _ks_sorted, cdf_at

    rng = np.random.default_rng(1)
    for trial in range(60):
        n, g = int(rng.integers(1, 30)), int(rng.integers(2, 60))
        scale = [3, 50, 1000][trial % 3]  # few values: long runs of ties on both sides
        q_w = np.sort(rng.integers(0, scale, (n, g)).astype(float), axis=1)
        q_r = np.sort(rng.integers(0, scale, (n, g)).astype(float) + rng.random() / 2, axis=1)
        points = np.concatenate((q_w, q_r), axis=1)
        want = np.abs(cdf_at(points, q_w) - cdf_at(points, q_r)).max(axis=1)
        assert np.allclose(_ks_sorted(q_w, q_r), want, rtol=0, atol=1e-15)
        mixed = q_w.copy()
        mixed[0] = mixed[0][::-1]  # unsorted, and non-finite: the general way
        mixed[-1, -1] = np.inf
        points = np.concatenate((mixed, q_r), axis=1)
        finite = np.isfinite(points)
        gaps = np.abs(cdf_at(np.where(finite, points, 0.0), mixed)
                      - cdf_at(np.where(finite, points, 0.0), q_r))
        assert np.allclose(_ks(mixed, q_r), np.where(finite, gaps, -np.inf).max(axis=1),
                           rtol=0, atol=1e-15)


def _counts(rng) -> dict | None:
    """A side's {category: count}: empty, None, with zero or null counts, new or `OTHER`
    categories, one category or many."""
    draw = rng.random()
    if draw < 0.05:
        return None
    if draw < 0.1:
        return {}
    names = [f"c{i}" for i in range(int(rng.integers(1, 9)))] + [ds.OTHER]
    chosen = rng.choice(names, size=int(rng.integers(1, len(names) + 1)), replace=False)
    out = {str(c): int(rng.integers(0, 400)) for c in chosen}
    if rng.random() < 0.1:
        out[str(chosen[0])] = None
    if rng.random() < 0.05:
        out = {k: 0 for k in out}
    return out


def test_categorical_statistics_of_a_batch_equal_the_row_by_row_ones():
    """`drift_categorical.categorical_columns` over map columns equals
    `drift._categorical` row by row (empty and missing sides, zero and null counts,
    categories on one side only, `OTHER`), and leaves numeric rows alone."""
    import pyarrow as pa

    from inferwatch.metrics.drift_categorical import categorical_columns

    rng = np.random.default_rng(5)
    rows = [(_counts(rng), _counts(rng)) for _ in range(3000)]
    kind = rng.random(len(rows)) < 0.9  # the others stand for numeric rows
    maps = [pa.array([None if s[i] is None else list(s[i].items()) for s in rows],
                     type=pa.map_(pa.string(), pa.int64())) for i in (0, 1)]
    found = categorical_columns(maps[0].slice(7), maps[1].slice(7), kind[7:])
    compared = 0
    for i, (base, window) in enumerate(rows[7:]):
        want = dict(drift._categorical({"r_categories": base, "w_categories": window})) \
            if kind[7 + i] else {}
        assert {m for m, (_v, done) in found.items() if done[i]} == set(want), i
        for metric, (value, _bound) in want.items():
            got = found[metric][0][i]
            if math.isnan(value):
                assert math.isnan(got), (i, metric, got)
            else:
                assert math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-12), (i, metric)
                compared += 1
    assert compared > 10_000
