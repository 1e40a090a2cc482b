"""`inferwatch tune`: a suite's bounds fitted to the model's own clean history.

The suite is replayed over past hours (each hour validated with GX exactly as the quality
job does, `quality.hour`), and each tunable expectation is widened or narrowed so that
at most `target_per_week` x hours / 168 of the replayed hours would fail it (the
documented default: one false failure per expectation per week of clean data):

- a bounded statistic (mean, stddev, median, distinct count): a clean hour must break
  its bounds with probability at most target / 168. A few days of history cannot show
  such a rare tail, so each bound is the wider of the clean extreme (padded by `PAD` x
  the clean spread) and the median -/+ z x the robust sigma (1.4826 x MAD), z being the
  normal quantile of that rate, widened by 1 + 1/sqrt(hours) for a short history; a
  floor alone (stddev) never goes below half the least clean value, so a frozen
  column still fails;
- rows per hour: the ratios of observed to the suggested hour-of-day volume are tuned
  the same way, and every hour of day gets the tuned multipliers;
- a row-wise expectation with `mostly` (nulls, range, value set): `mostly` becomes
  1 - (the tolerated hours' unexpected fraction + `SLACK`).
Hours that are far out (a statistic more than `OUTLIER_MADS` robust sigmas from the
median, clipped until none is left, a row-wise expectation broken by more than half the rows) are left out
and counted as incidents, not as history to accept: tuning on a range that holds an
incident does not teach the suite to pass it. Type, column-set and uniqueness checks are
not tuned. Each tuned spec's `meta.tuned` records the hours, the target and the
failures before and after.
"""
from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from statistics import NormalDist

TARGET_PER_WEEK = 1.0
PAD = 0.1
SLACK = 0.02
OUTLIER_MADS = 3.5
MIN_HOURS = 6
BOUNDED = ("expect_column_mean_to_be_between", "expect_column_stdev_to_be_between",
           "expect_column_median_to_be_between",
           "expect_column_unique_value_count_to_be_between")
ROW_WISE = ("expect_column_values_to_not_be_null", "expect_column_values_to_be_between",
            "expect_column_values_to_be_in_set")
ROW_COUNT = "expect_table_row_count_to_be_between"


def key(spec_type: str, kwargs: dict) -> tuple:
    return spec_type, kwargs.get("column")


def tune(specs: list[dict], results: Sequence[tuple], n_hours: int,
         target_per_week: float = TARGET_PER_WEEK) -> tuple[list[dict], list[dict]]:
    """(tuned specs, one report row per spec) from the replayed QUALITY_SCHEMA rows."""
    allowed = math.floor(target_per_week * n_hours / 168.0)
    by_key: dict[tuple, list[tuple]] = {}
    for r in results:
        by_key.setdefault(key(r[4], json.loads(r[6])), []).append(r)
    tuned, report = [], []
    for spec in specs:
        found = by_key.get(key(spec["type"], spec.get("kwargs") or {}), [])
        before = sum(1 for r in found if not r[7])
        new = _tuned(spec, found, allowed, target_per_week / 168.0)
        after, excluded = (before, 0) if new is None else new[1:]
        if new is not None:
            new = new[0]
            new["meta"] = {**(spec.get("meta") or {}), "tuned": {
                "hours": len(found), "target_per_week": target_per_week,
                "incident_hours_left_out": excluded, "failures_before": before,
                "failures_after": after}}
        tuned.append(new or spec)
        report.append({"type": spec["type"], "column": (spec.get("kwargs") or {}).get("column"),
                       "hours": len(found), "before": before, "after": after,
                       "bounds_before": _bounds(spec), "bounds_after": _bounds(new or spec)})
    return tuned, report


def _tuned(spec: dict, found: list[tuple], allowed: int,
           rate: float) -> tuple[dict, int, int] | None:
    kwargs = dict(spec.get("kwargs") or {})
    if not found or any(r[13] for r in found):  # an errored hour: nothing to learn from
        return None
    if spec["type"] in ROW_WISE:
        fractions = [(r[11] or 0.0) / 100.0 for r in found]
        kept = sorted((u for u in fractions if u <= 0.5), reverse=True)
        if not kept:
            return None
        tolerated = kept[min(allowed, len(kept) - 1)]
        mostly = round(max(0.0, 1.0 - min(1.0, tolerated + SLACK)), 6)
        after = sum(1 for u in fractions if u > 1.0 - mostly + 1e-12)
        return {**spec, "kwargs": {**kwargs, "mostly": mostly}}, after, len(fractions) - len(kept)
    if spec["type"] == ROW_COUNT and (spec.get("meta") or {}).get("by_hour_of_day"):
        return _row_count(spec, found, rate)
    if spec["type"] not in BOUNDED:
        return None
    values = [float(json.loads(r[8])) for r in found if r[8] not in (None, "null")]
    bounds = _fit(values, rate, "min_value" in kwargs, "max_value" in kwargs)
    if bounds is None:
        return None
    (low, high), excluded = bounds
    if "min_value" in kwargs:
        kwargs["min_value"] = low
    if "max_value" in kwargs:
        kwargs["max_value"] = high
    after = sum(1 for v in values if (low is not None and v < low)
                or (high is not None and v > high))
    return {**spec, "kwargs": kwargs}, after, excluded


def _fit(values: list[float], allowed_rate: float, lower: bool, upper: bool
         ) -> tuple[tuple[float | None, float | None], int] | None:
    """Bounds that a clean hour breaks with probability about `allowed_rate`: the wider
    of the clean extremes and median -/+ z x robust sigma (z for that rate under a normal
    tail, widened by 1 + 1/sqrt(n) for a short history), padded."""
    values = [v for v in values if math.isfinite(v)]
    if len(values) < MIN_HOURS:
        return None
    kept = sorted(values)
    for _ in range(20):  # clip far hours until none is left to clip
        med = statistics.median(kept)
        sigma = 1.4826 * statistics.median(abs(v - med) for v in kept)
        inside = [v for v in kept if sigma == 0 or abs(v - med) <= OUTLIER_MADS * sigma]
        if len(inside) == len(kept) or len(inside) < MIN_HOURS:
            break
        kept = inside
    sides = int(lower) + int(upper)
    z = NormalDist().inv_cdf(1.0 - max(allowed_rate, 1e-6) / sides)
    reach = z * sigma * (1.0 + 1.0 / math.sqrt(len(kept)))
    pad = PAD * (kept[-1] - kept[0])
    low = min(kept[0] - pad, med - reach) if lower else None
    if lower and not upper and kept[0] > 0:  # a floor (stddev): never below half the least
        low = max(low, 0.5 * kept[0])
    high = max(kept[-1] + pad, med + reach) if upper else None
    return (low, high), len(values) - len(kept)


def _row_count(spec: dict, found: list[tuple], rate: float) -> tuple[dict, int, int] | None:
    typical = spec["meta"]["value"]
    ratios = []
    for r in found:
        expected = typical.get(str(r[2].hour)) or statistics.median(typical.values())
        observed = json.loads(r[8]) if r[8] not in (None, "null") else None
        if observed is not None and expected:
            ratios.append(float(observed) / float(expected))
    bounds = _fit(ratios, rate, True, True)
    if bounds is None:
        return None
    (low, high), excluded = bounds
    low = max(low, 0.0)
    by_hour = {str(h): [low * typical.get(str(h), statistics.median(typical.values())),
                        high * typical.get(str(h), statistics.median(typical.values()))]
               for h in range(24)}
    meta = {**spec["meta"], "by_hour_of_day": by_hour, "margin": f"{low:.3f}x..{high:.3f}x"}
    after = sum(1 for q in ratios if q < low or q > high)
    return {**spec, "meta": meta}, after, excluded


def _bounds(spec: dict) -> str:
    kwargs = spec.get("kwargs") or {}
    if "mostly" in kwargs:
        return f"mostly {kwargs['mostly']:.4g}"
    margin = (spec.get("meta") or {}).get("margin") if spec["type"] == ROW_COUNT else None
    if margin:
        return str(margin)
    parts = [f"{k.split('_')[0]} {kwargs[k]:.4g}" for k in ("min_value", "max_value")
             if isinstance(kwargs.get(k), (int, float))]
    return ", ".join(parts) or "-"


def format_report(report: list[dict]) -> str:
    lines = [f"{'expectation':<48} {'column':<16} {'hours':>5} {'fail before':>11} "
             f"{'after':>5}  bounds before -> after"]
    for row in report:
        lines.append(f"{row['type']:<48} {str(row['column'] or '-'):<16} {row['hours']:>5} "
                     f"{row['before']:>11} {row['after']:>5}  {row['bounds_before']} -> "
                     f"{row['bounds_after']}")
    return "\n".join(lines)
