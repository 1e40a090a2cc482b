"""Drift statistics: against scipy and exact computations on the raw rows they summarize."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from scipy.stats.contingency import association

from inferwatch.metrics import drift_stats as ds

GRID = np.array(ds.QUANTILE_GRID)
EPS = ds.KLL_RANK_ERROR


def _ranks(x: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Exact CDF: the fraction of rows <= each point."""
    return np.searchsorted(np.sort(x), points, side="right") / x.size


def _binned(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of rows per bin (-inf, e1], (e1, e2], ..., counted row by row."""
    return np.bincount(np.searchsorted(edges, x, side="left"), minlength=edges.size + 1) / x.size


def _psi_reference(e: np.ndarray, a: np.ndarray, eps: float = 1e-4) -> float:
    e, a = (e + eps) / np.sum(e + eps), (a + eps) / np.sum(a + eps)
    return float(np.sum((a - e) * np.log(a / e)))


def _js_entropy(p: np.ndarray, q: np.ndarray) -> float:
    """JS distance as H(m) - (H(p) + H(q)) / 2 in bits, the other textbook form."""
    def h(x):
        x = x[x > 0]
        return -np.sum(x * np.log2(x))
    return math.sqrt(h((p + q) / 2) - (h(p) + h(q)) / 2)


SAMPLES = {
    "normal_shift": lambda r, n: (r.normal(0, 1, n), r.normal(0.3, 1, n * 3 // 5)),
    "scale": lambda r, n: (r.normal(0, 1, n), r.normal(0, 1.5, n)),
    "lognormal": lambda r, n: (r.lognormal(0, 1, n), r.lognormal(0.3, 1, n // 2)),
    "mixture": lambda r, n: (np.r_[r.normal(0, 1, n // 2), r.normal(4, 1, n // 2)],
                             np.r_[r.normal(0, 1, n // 3), r.normal(4, 1, n - n // 3)]),
    "integers": lambda r, n: (r.poisson(3, n).astype(float), r.poisson(3.4, n).astype(float)),
}


@pytest.mark.parametrize("bins", [10, 20])
@pytest.mark.parametrize("case", sorted(SAMPLES))
def test_binned_distances_equal_raw_binning(case, bins):
    base, win = SAMPLES[case](np.random.default_rng(7), 5000)
    # edges are baseline rows, so rows on an edge test the (e_i, e_i+1] convention
    edges = np.unique(np.quantile(base, np.arange(1, bins) / bins, method="inverted_cdf"))
    e, a = ds.bin_pmf(_ranks(base, edges)), ds.bin_pmf(_ranks(win, edges))
    exp_e, exp_a = _binned(base, edges), _binned(win, edges)
    np.testing.assert_allclose(e, exp_e, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a, exp_a, rtol=0, atol=1e-12)
    assert ds.psi(e, a) == pytest.approx(_psi_reference(exp_e, exp_a), rel=0, abs=1e-12)
    assert ds.psi(e, a) > 0.01
    js = ds.js_distance(e, a)
    assert js == pytest.approx(jensenshannon(exp_e, exp_a, base=2), rel=0, abs=1e-12)
    assert js == pytest.approx(_js_entropy(exp_e, exp_a), rel=0, abs=1e-12)
    assert ds.hellinger(e, a) == pytest.approx(
        math.sqrt(1 - np.sum(np.sqrt(exp_e * exp_a))), rel=0, abs=1e-12)
    assert ds.linf(e, a) == pytest.approx(np.max(np.abs(exp_e - exp_a)), rel=0, abs=1e-12)


def test_distances_at_their_extremes():
    p = np.array([0.2, 0.3, 0.5, 0.0])
    assert ds.js_distance(p, p) == 0.0
    assert ds.hellinger(p, p) == 0.0
    assert ds.psi(p, p) == pytest.approx(0.0, abs=1e-15)
    assert ds.js_distance([0.5, 0.5, 0, 0], [0, 0, 0.3, 0.7]) == pytest.approx(1.0, abs=1e-15)
    assert ds.hellinger([0.5, 0.5, 0, 0], [0, 0, 0.3, 0.7]) == pytest.approx(1.0, abs=1e-15)
    # counts are normalized like PMFs
    assert ds.js_distance([2, 3, 5], [20, 30, 50]) == pytest.approx(0.0, abs=1e-15)


def test_bin_pmf_absorbs_sketch_noise():
    pmf = ds.bin_pmf([-0.01, 0.31, 0.29, 0.7, 1.02])
    np.testing.assert_allclose(pmf, [0.0, 0.31, 0.0, 0.39, 0.3, 0.0], atol=1e-15)
    assert (pmf >= 0).all() and pmf.sum() == pytest.approx(1.0)


def test_psi_is_finite_with_empty_window_bins():
    e = np.full(10, 0.1)
    a = np.r_[np.zeros(9), 1.0]  # every window row above the top edge
    got = ds.psi(e, a)
    assert math.isfinite(got)
    assert got == pytest.approx(_psi_reference(e, a), abs=1e-12)
    # nine emptied deciles add 0.1 ln(0.1 / 1e-4) each, the full bin 0.9 ln 10: 8.29
    assert got == pytest.approx(8.28, abs=0.01)
    assert ds.psi(e, a, epsilon=1e-3) < got  # a larger floor caps empty bins lower


def test_ks_on_both_quantile_grids_is_within_the_grid_gap_of_scipy():
    assert ds.QUANTILE_GRID_GAP == pytest.approx(0.01) == ds.rank_gap(GRID)
    assert ds.rank_gap([0.1, 0.5, 0.9]) == pytest.approx(0.4)
    worst = 0.0
    for seed in range(40):
        for case, sample in SAMPLES.items():
            base, win = sample(np.random.default_rng(seed), 2000)
            exact = stats.ks_2samp(win, base).statistic
            points = ds.ks_points(np.quantile(win, GRID, method="inverted_cdf"),
                                  np.quantile(base, GRID, method="inverted_cdf"))
            got, bound = ds.ks(_ranks(win, points), _ranks(base, points), 0.0, 0.0)
            assert bound == pytest.approx(0.01)
            assert exact - bound - 1e-12 <= got <= exact + 1e-12, (case, seed)
            worst = max(worst, exact - got)
            # at every row, the statistic is scipy's exactly
            rows = np.union1d(base, win)
            full, _ = ds.ks(_ranks(win, rows), _ranks(base, rows), 0.0, 0.0, grid_gap=0.0)
            assert full == pytest.approx(exact, abs=1e-12)
    assert worst < 0.01


def _sketch(x: np.ndarray, eps: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """A worst-case-ish KLL stand-in: a monotone CDF off by up to eps at every value (exactly
    1 at the max), and the grid quantiles it implies."""
    values = np.unique(x)
    cdf = _ranks(x, values) + rng.uniform(-eps, eps, values.size)
    cdf = np.maximum.accumulate(np.clip(cdf, 0, 1))
    cdf[-1] = 1.0
    return values, cdf


def _sketch_cdf(values, cdf, points):
    i = np.searchsorted(values, points, side="right")
    return np.where(i > 0, cdf[np.maximum(i - 1, 0)], 0.0)


def test_ks_with_rank_errors_stays_within_the_stated_bound():
    eps_w, eps_b = EPS, 0.5 * EPS
    worst = 0.0
    for trial in range(300):
        rng = np.random.default_rng(1000 + trial)
        base, win = SAMPLES[sorted(SAMPLES)[trial % len(SAMPLES)]](rng, 1500)
        exact = stats.ks_2samp(win, base).statistic
        # (a) exact grid quantiles, ranks at them off by up to the rank error
        points = ds.ks_points(np.quantile(win, GRID, method="inverted_cdf"),
                              np.quantile(base, GRID, method="inverted_cdf"))
        sign = rng.choice([-1.0, 1.0]) if trial % 2 else rng.uniform(-1, 1, points.size)
        fw = np.clip(_ranks(win, points) + sign * eps_w, 0, 1)
        fb = np.clip(_ranks(base, points) - sign * rng.uniform(0, eps_b, points.size), 0, 1)
        got, bound = ds.ks(fw, fb, eps_w, eps_b)
        assert bound == pytest.approx(eps_w + eps_b + 0.01)
        assert abs(got - exact) <= bound, trial
        worst = max(worst, abs(got - exact))
        # (b) both quantiles and CDFs from noisy sketches
        sw, sb = _sketch(win, eps_w, rng), _sketch(base, eps_b, rng)
        qw, qb = (v[np.searchsorted(c, GRID, side="left")] for v, c in (sw, sb))
        points = ds.ks_points(qw, qb)
        got, _ = ds.ks(_sketch_cdf(*sw, points), _sketch_cdf(*sb, points), eps_w, eps_b)
        assert abs(got - exact) <= bound, trial
        worst = max(worst, abs(got - exact))
    assert 0.5 * (eps_w + eps_b) < worst  # the perturbations did move the statistic


WASSERSTEIN = {  # case: (sample, max |got - exact| in std at n = 1000, at n = 10 000)
    "normal_shift": (lambda r, n: (r.normal(0, 1, n), r.normal(0.5, 1, n)), (0.012, 0.003)),
    "normal_scale": (lambda r, n: (r.normal(0, 1, n), r.normal(0, 1.5, n)), (0.012, 0.003)),
    "mixture": (SAMPLES["mixture"], (0.012, 0.003)),
}
WASSERSTEIN_REL = {  # case: (sample, max |got - exact| / exact at n = 1000, at n = 10 000)
    "lognormal_light": (lambda r, n: (r.lognormal(0, .5, n), r.lognormal(.3, .5, n)),
                        (0.025, 0.01)),
    "lognormal_heavy": (lambda r, n: (r.lognormal(0, 1, n), r.lognormal(.3, 1, n)), (0.16, 0.06)),
    "lognormal_sigma": (lambda r, n: (r.lognormal(0, 1, n), r.lognormal(0, 1.3, n)), (0.32, 0.14)),
}


def _w_errors(sample, n):
    for seed in range(100):
        base, win = sample(np.random.default_rng(seed), n)
        std = base.std(ddof=1)
        exact = stats.wasserstein_distance(win, base) / std
        got = ds.wasserstein(np.quantile(win, GRID), np.quantile(base, GRID), GRID, std)
        yield got, exact


@pytest.mark.parametrize("case", sorted(WASSERSTEIN))
def test_wasserstein_within_stated_absolute_bound(case):
    sample, bounds = WASSERSTEIN[case]
    for n, bound in zip((1000, 10_000), bounds):
        errors = [abs(got - exact) for got, exact in _w_errors(sample, n)]
        assert max(errors) <= bound, (n, max(errors))


@pytest.mark.parametrize("case", sorted(WASSERSTEIN_REL))
def test_wasserstein_within_stated_relative_bound(case):
    sample, bounds = WASSERSTEIN_REL[case]
    for n, bound in zip((1000, 10_000), bounds):
        errors = [abs(got - exact) / exact for got, exact in _w_errors(sample, n)]
        assert max(errors) <= bound, (n, max(errors))


def test_wasserstein_error_bounds_rank_perturbed_quantiles():
    ratios = []
    for trial in range(200):
        rng = np.random.default_rng(trial)
        sample = [WASSERSTEIN["normal_shift"][0], WASSERSTEIN_REL["lognormal_heavy"][0],
                  SAMPLES["mixture"]][trial % 3]
        base, win = sample(rng, 5000)
        std = base.std(ddof=1)
        exact = ds.wasserstein(np.quantile(win, GRID, method="inverted_cdf"),
                               np.quantile(base, GRID, method="inverted_cdf"), GRID, std)
        shift = (rng.choice([-1.0, 1.0], 2) if trial % 2 else rng.uniform(-1, 1, (2, GRID.size)))
        qw = np.quantile(win, np.clip(GRID + shift[0] * EPS, 0, 1), method="inverted_cdf")
        qb = np.quantile(base, np.clip(GRID + shift[1] * EPS, 0, 1), method="inverted_cdf")
        bound = ds.wasserstein_error(qw, qb, GRID, std, EPS, EPS)
        got = ds.wasserstein(qw, qb, GRID, std)
        assert abs(got - exact) <= bound, trial
        ratios.append(abs(got - exact) / bound)
    assert max(ratios) > 0.2  # a bound, not a constant far above every error


def test_categorical_statistics_equal_scipy():
    rng = np.random.default_rng(11)
    for _ in range(50):
        b = {f"c{i}": int(v) for i, v in enumerate(rng.integers(0, 400, 8))}
        w = {f"c{i}": int(v) for i, v in enumerate(rng.integers(0, 400, 8)) if i != 2}
        b[ds.OTHER], w["new"], b["gone"], w["gone"] = 50, 30, 0, 0  # "gone": all-zero column
        cats, pb, pw = ds.category_pmfs(b, w)
        assert cats == sorted(cats) and "gone" in cats
        table = np.array([[b.get(c, 0) for c in cats], [w.get(c, 0) for c in cats]])
        table = table[:, table.sum(axis=0) > 0]
        stat, v = ds.chi2(b, w)
        assert stat == pytest.approx(stats.chi2_contingency(table, correction=False)[0],
                                     rel=1e-12)
        assert v == pytest.approx(association(table, method="cramer"), rel=1e-12)
        assert ds.js_distance(pb, pw) == pytest.approx(jensenshannon(pb, pw, base=2), abs=1e-12)
        assert math.isfinite(ds.psi(pb, pw))


def test_categorical_by_hand():
    b = {"a": 50, "b": 30, ds.OTHER: 20}
    w = {"a": 40, "b": 20, "c": 25, ds.OTHER: 15}
    cats, pb, pw = ds.category_pmfs(b, w)
    assert cats == [ds.OTHER, "a", "b", "c"]
    np.testing.assert_allclose(pb, [0.2, 0.5, 0.3, 0.0])
    np.testing.assert_allclose(pw, [0.15, 0.4, 0.2, 0.25])
    assert ds.linf(pb, pw) == pytest.approx(0.25)
    # "c" is new although the baseline has an OTHER bucket; the window's OTHER is not
    assert ds.new_category_share(b, w) == pytest.approx(0.25)
    assert ds.new_category_share({"a": 1, "b": 0}, {"a": 1, "b": 1, ds.OTHER: 2}) == 0.75
    assert ds.chi2({"a": 5}, {"a": 9}) == (0.0, 0.0)


def test_other_matches_the_profile_bucket():
    from inferwatch.metrics.profile import OTHER

    assert ds.OTHER == OTHER


def test_constant_baseline_falls_back_to_iqr_then_one():
    base = np.full(1000, 3.0)
    win = np.random.default_rng(5).normal(3.5, 1, 1000)
    std, iqr = base.std(ddof=1), np.subtract(*np.quantile(base, [0.75, 0.25]))
    assert std == 0.0 and iqr == 0.0
    assert ds.robust_scale(std, iqr) == 1.0
    assert ds.robust_scale(0.0, 2.0) == 2.0 and ds.robust_scale(math.nan, 2.0) == 2.0
    assert ds.robust_scale(1.5, 2.0) == 1.5 and ds.robust_scale(math.inf) == 1.0
    got = ds.wasserstein(np.quantile(win, GRID), np.quantile(base, GRID), GRID, std, iqr)
    assert got == pytest.approx(np.mean(np.abs(np.quantile(win, GRID) - 3.0)), abs=1e-12)
    assert got == pytest.approx(stats.wasserstein_distance(win, base), abs=0.02)
    assert ds.mean_delta(win.mean(), 3.0, std, iqr) == pytest.approx(win.mean() - 3.0)
    # a constant column bins into one edge: PSI stays finite
    e = ds.bin_pmf(_ranks(base, np.array([3.0])))
    a = ds.bin_pmf(_ranks(win, np.array([3.0])))
    np.testing.assert_array_equal(e, [1.0, 0.0])
    assert ds.psi(e, a) == pytest.approx(_psi_reference(e, a), abs=1e-12)


def test_means_and_null_rates():
    rng = np.random.default_rng(2)
    base, win = rng.normal(10, 2, 4000), rng.normal(10.5, 2, 3000)
    assert ds.mean_delta(win.mean(), base.mean(), base.std(ddof=1)) == pytest.approx(
        (win.mean() - base.mean()) / base.std(ddof=1), rel=1e-12)
    assert ds.null_rate_delta(0.05, 0.02) == pytest.approx(0.03)
    assert ds.null_rate_delta(0.0, 0.02) == pytest.approx(-0.02)
    with pytest.raises(ValueError, match="null rates"):
        ds.null_rate_delta(1.5, 0.0)


def test_an_empty_side_gives_nan():
    empty = ds.bin_pmf([None] * 9)  # a null CDF from an empty sketch
    assert empty.shape == (10,) and np.isnan(empty).all()
    full = np.full(10, 0.1)
    for f in (ds.psi, ds.js_distance, ds.hellinger, ds.linf):
        assert math.isnan(f(full, empty)) and math.isnan(f(empty, full))
    assert math.isnan(ds.js_distance(full, np.zeros(10)))
    assert all(math.isnan(v) for v in ds.ks([0.5, np.nan], [0.4, 0.6], EPS, EPS))
    assert math.isnan(ds.wasserstein(np.full(GRID.size, np.nan), GRID, GRID, 1.0))
    _, pb, pw = ds.category_pmfs({"a": 3}, {})
    assert pb.tolist() == [1.0] and np.isnan(pw).all()
    assert all(math.isnan(v) for v in ds.chi2({"a": 3, "b": 1}, {}))
    assert math.isnan(ds.new_category_share({"a": 3}, {}))
    assert math.isnan(ds.new_category_share({"a": 3}, {"a": 0}))
    assert math.isnan(ds.mean_delta(None, 1.0, 1.0))


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="same length"):
        ds.psi([0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match="epsilon"):
        ds.psi([0.5, 0.5], [0.5, 0.5], epsilon=0)
    with pytest.raises(ValueError, match=">= 0"):
        ds.chi2({"a": -1}, {"a": 1})
    with pytest.raises(ValueError, match=">= 0"):
        ds.ks([0.5], [0.5], -0.1, 0.0)
    with pytest.raises(ValueError, match="one quantile per prob"):
        ds.wasserstein([1.0, 2.0], [1.0, 2.0], GRID, 1.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        ds.wasserstein([1.0, 2.0], [1.0, 2.0], [0.5, 0.5], 1.0)
