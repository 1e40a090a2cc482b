"""Concept drift at the pace of its labels: a CUSUM on each slice's hourly error counts.

A slice's labelled rows of an hour are `n` Bernoulli trials of which `errors` went
wrong (a misclassified row). The detector learns the slice's error rate `p0` from its
labels (at least `warmup` of them before it judges; a Laplace prior), then adds up,
hour by hour, the log-likelihood ratio of the hour's counts under a worse rate `p1`
against `p0` (Page's CUSUM for Bernoulli data, an hour's counts as one batch):

    S_t = max(0, S_{t-1} + errors_t ln(p1/p0) + (n_t - errors_t) ln((1-p1)/(1-p0)))

and fires when S_t passes `threshold`. The hour's sample size is in the sum: an hour
of 5 labels moves S a tenth of what 50 labels at the same rate move it, so sparse
hours neither fire on their own nor hide a rise. Two rises are judged at once
(`Settings.rises`): a small one, `p0 + max(0.02, 0.15 p0)`, which takes many labels
to see, and a large one, `p0 + max(0.1, p0)`, seen in an hour or two; each goes at
most half way from p0 to 1. `p0` is the slice's own rate, raised by `margin` standard
errors so that a young reference does not pass for a rise, and it keeps learning: the
labels of an excursion that ends (every S back to 0) join it, so `p0` is the rate of
every label since the last firing but those of the rise being judged. After firing,
the detector learns the new rate afresh (another warm-up) before it judges again, so
a change seldom fires twice.

The state after each hour (`State`) is all it needs to go on: a run continues from the
state stored for the hour before the first one it is given, so a late label batch that
changes an old hour re-runs the detector from that hour (`run` from the stored state of
the hour before it).
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

SMALLEST_RISE = 0.005  # a rise of the error rate smaller than this is not judged


@dataclass(frozen=True)
class Settings:
    warmup: int = 300  # labels the reference holds before it judges
    # the rises judged, each (at least, at least this share of p0): a small one, which
    # takes many labels to see, and a large one, seen in an hour or two
    rises: tuple[tuple[float, float], ...] = ((0.02, 0.15), (0.1, 1.0))
    threshold: float = 10.0  # log-likelihood ratio (nats) at which a rise fires
    margin: float = 1.5  # p0 = the reference rate + this many of its standard errors

    def p0(self, n: int, errors: int) -> float:
        """The reference rate judged against: Laplace-smoothed, raised by `margin`
        standard errors (so a reference of few labels does not pass for a rise), at
        most half way from its rate to 1."""
        rate = (errors + 1) / (n + 2)
        raised = rate + self.margin * math.sqrt(rate * (1 - rate) / (n + 2))
        return min(raised, (1 + rate) / 2)

    def increments(self, p0: float) -> list[tuple[float, float]]:
        """Per rise: (what an error adds to its CUSUM, what a correct row adds). A rise
        goes at most half way from p0 to 1: a slice wrong 95% of the time has rises
        left to judge, and its CUSUM still falls while the rate holds; one with less
        than `SMALLEST_RISE` left (a slice wrong every time) is not judged."""
        out = []
        for least, share in self.rises:
            rise = min(max(least, share * p0), (1 - p0) / 2)
            p1 = p0 + rise
            out.append((math.log(p1 / p0), math.log((1 - p1) / (1 - p0)))
                       if rise >= SMALLEST_RISE else (0.0, 0.0))
        return out


@dataclass(frozen=True)
class State:
    """The detector after an hour: the reference counts (every label since the last
    firing but those of the current excursion), the excursion's counts, a CUSUM per
    rise, and whether this hour fired."""
    ref_n: int = 0
    ref_errors: int = 0
    run_n: int = 0
    run_errors: int = 0
    cusums: tuple[float, ...] = ()
    fired: bool = False


def step(state: State, n: int, errors: int, settings: Settings) -> State:
    """The state after an hour of `n` labelled rows, `errors` of them wrong."""
    if errors < 0 or errors > n:
        raise ValueError(f"an hour's errors must lie in [0, n]: got {errors} of {n}")
    if state.ref_n < settings.warmup:  # learning the rate
        return State(state.ref_n + n, state.ref_errors + errors)
    before = state.cusums or (0.0,) * len(settings.rises)
    rises = settings.increments(settings.p0(state.ref_n, state.ref_errors))
    cusums = tuple(max(0.0, s + errors * up + (n - errors) * down)
                   for s, (up, down) in zip(before, rises, strict=True))
    if max(cusums) >= settings.threshold:  # fires, then learns the new rate afresh
        return State(fired=True)
    if max(cusums) == 0:  # the excursion ended: its labels join the reference
        return State(state.ref_n + state.run_n + n, state.ref_errors + state.run_errors + errors)
    return State(state.ref_n, state.ref_errors, state.run_n + n, state.run_errors + errors,
                 cusums)


def run(hours: Iterable[tuple[object, int, int]], settings: Settings = Settings(),
        state: State = State()) -> list[tuple[object, State]]:
    """[(hour, the state after it)] for `hours` in order, each (hour, n, errors),
    starting from `state` (the one stored for the hour before the first)."""
    out = []
    for hour, n, errors in hours:
        state = step(state, int(n), int(errors), settings)
        out.append((hour, state))
    return out
