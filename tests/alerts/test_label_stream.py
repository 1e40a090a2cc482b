"""The label-stream detector (`alerts.label_stream`) on simulated hourly error counts:
quiet on a steady rate whatever the hours' sizes, quick on a rise, resumable from any
stored hour (so a late label batch re-runs it from the hour it changed), and the
statistic checked against Page's CUSUM computed by hand. Against river's ADWIN on
river's concept-drift streams: benchmarks/bench_label_drift.py."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from inferwatch.alerts.label_stream import Settings, State, run, step


def _hours(rates: list[tuple[int, float]], sizes, seed: int) -> list[tuple[int, int, int]]:
    """[(hour, n, errors)]: `rates` as (hours, error rate) segments, n from `sizes(rng)`."""
    rng = np.random.default_rng(seed)
    out = []
    for count, rate in rates:
        for _ in range(count):
            n = int(sizes(rng))
            out.append((len(out), n, int(rng.binomial(n, rate))))
    return out


def _fired(hours, settings: Settings = Settings()) -> list[int]:
    return [hour for hour, state in run(hours, settings) if state.fired]


@pytest.mark.parametrize("rate", [0.02, 0.1, 0.3, 0.95, 1.0])
def test_a_steady_rate_fires_about_never(rate):
    """A year of hours (8,760) a seed, 5 seeds, hours of 0 to 200 labels: at most one
    firing in all of them (more than 4 million labels), also for a slice wrong 95% of
    the time (its rises stop short of 1) and one always wrong (nowhere to rise)."""
    fired = sum(len(_fired(_hours([(8_760, rate)], lambda r: r.integers(0, 200), seed)))
                for seed in range(5))
    assert fired <= 1, fired


@pytest.mark.parametrize("before,after,within", [(0.1, 0.2, 5), (0.02, 0.1, 3),
                                                 (0.3, 0.5, 5), (0.1, 0.13, 45)])
def test_a_rise_fires_within_hours_of_it_and_seldom_again(before, after, within):
    """100 labels an hour, the rate rises at hour 200: in each of 8 seeds the first
    firing is at most `within` hours after it (a rise of 0.03 takes the most evidence);
    once the detector has learnt the new rate it seldom fires again while it lasts (a
    second firing in at most one of the 8 runs' 300 hours)."""
    again = 0
    for seed in range(8):
        fired = _fired(_hours([(200, before), (300, after)], lambda r: 100, seed))
        assert fired and 200 <= fired[0] < 200 + within, (seed, fired)
        again += len(fired) - 1
    assert again <= 1, again


def test_sparse_hours_take_more_of_them_not_a_false_alarm():
    """5 labels an hour: a rise from 0.1 to 0.3 fires, never before it, after more hours
    than the same rise with 100 labels an hour."""
    sparse, dense = [], []
    for seed in range(5):
        for per_hour, firsts in ((5, sparse), (100, dense)):
            fired = _fired(_hours([(400, 0.1), (400, 0.3)], lambda r: per_hour, seed))  # noqa: B023
            assert fired and fired[0] >= 400, (seed, per_hour, fired)
            firsts.append(fired[0] - 400)
    assert max(dense) <= 2 and 5 < np.median(sparse) < 40, (sparse, dense)


def test_a_run_resumes_from_any_stored_hour():
    """Hours run in one go equal hours run in two parts, the second from the state the
    first stored for its last hour (cut anywhere, also at and after a firing); a late
    batch of an hour, re-run from the hour before it, equals a run of all hours with
    the batch, here where it makes an hour fire that did not."""
    hours = _hours([(100, 0.1), (100, 0.25), (100, 0.25)], lambda r: r.integers(0, 150), 3)
    whole = run(hours)
    fired = [hour for hour, state in whole if state.fired]
    assert fired, "the rise should fire"
    for cut in (1, 57, fired[0], fired[0] + 1, 150, 299):
        first = run(hours[:cut])
        assert first + run(hours[cut:], state=first[-1][1]) == whole
    late = list(hours)
    hour, n, errors = late[60]
    late[60] = (hour, n + 150, errors + 150)  # a late batch of 150 wrong labels
    again = run(late)
    assert [h for h, s in again if s.fired][0] == 60  # it fires the hour it lands in
    assert whole[:60] + run(late[60:], state=whole[59][1]) == again


def test_the_statistic_is_pages_cusum_of_the_hours_log_likelihood_ratios():
    """Until the first firing, each rise's CUSUM equals max(0, S + llr), llr the hour's
    binomial log-likelihood ratio of p1 against p0 (scipy's log pmf): p0 the reference's
    Laplace-smoothed rate plus 1.5 standard errors, the reference every label but those
    of the current excursion, p1 p0 plus the rise, at most half way to 1."""
    settings = Settings()
    hours = _hours([(50, 0.1), (150, 0.15)], lambda r: r.integers(20, 80), 8)
    state, sums = State(), [0.0, 0.0]
    ref_n = ref_e = run_n = run_e = 0
    for _hour, n, errors in hours:
        state = step(state, n, errors, settings)
        if ref_n < settings.warmup:
            ref_n, ref_e = ref_n + n, ref_e + errors
            assert state.cusums == () and state.ref_n == ref_n
            continue
        rate = (ref_e + 1) / (ref_n + 2)
        p0 = min(rate + 1.5 * math.sqrt(rate * (1 - rate) / (ref_n + 2)), (1 + rate) / 2)
        for i, rise in enumerate((max(0.02, 0.15 * p0), max(0.1, p0))):
            p1 = p0 + min(rise, (1 - p0) / 2)
            sums[i] = max(0.0, sums[i] + binom.logpmf(errors, n, p1) - binom.logpmf(errors, n, p0))
        if max(sums) >= settings.threshold:
            assert state.fired
            break
        if max(sums) == 0:
            ref_n, ref_e, run_n, run_e = ref_n + run_n + n, ref_e + run_e + errors, 0, 0
            assert state.cusums == ()
        else:
            run_n, run_e = run_n + n, run_e + errors
            assert state.cusums == pytest.approx(sums, abs=1e-9)
        assert not state.fired and (state.ref_n, state.ref_errors) == (ref_n, ref_e)
        assert (state.run_n, state.run_errors) == (run_n, run_e)
    else:
        pytest.fail("the rise from 0.10 to 0.15 never fired")


def test_a_worked_hour():
    """A reference of 98 labels, 9 wrong: rate 10/100 = 0.1, standard error 0.03, p0 =
    0.145; the small rise (0.15 p0) to 0.16675, the large (p0) to 0.29. An hour of 40
    labels, 12 wrong: 12 ln(1.15) + 28 ln(0.83325/0.855) = 0.95565 and 12 ln(2) + 28
    ln(0.71/0.855) = 3.11434."""
    state = step(State(ref_n=98, ref_errors=9), 40, 12, Settings(warmup=50))
    assert state.cusums == pytest.approx((0.95565, 3.11434), abs=1e-5)
    assert (state.ref_n, state.run_n, state.run_errors, state.fired) == (98, 40, 12, False)


def test_impossible_counts_are_refused():
    with pytest.raises(ValueError, match=r"errors must lie in \[0, n\]: got 5 of 3"):
        step(State(), 3, 5, Settings())
