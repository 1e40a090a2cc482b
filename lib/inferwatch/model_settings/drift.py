"""A model's `drift:` section, typed (docs/configuration.md lists every key).

    drift:
      numeric: psi              # the numeric metric `threshold` sets
      categorical: js           # the categorical metric `threshold` sets
      threshold: 0.2            # for those two metrics
      thresholds: {ks: 0.3}     # any metric's threshold, for both column kinds
      baseline: default         # the baseline windows are compared with
      multivariate: {threshold: 0.65}   # or false: no domain classifier for this model

The metrics' default thresholds live here too (`DEFAULT_THRESHOLDS`): `metrics.drift`
judges a row by them when the model sets none, and the baseline's calibration scales
them.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferwatch.config import ConfigError
from inferwatch.model_settings.keys import (NUMBER, checked, frozen, mapping_of,
                                            parse_section, setting)

# Defaults (effect sizes, not p-values; see README "Drift"): PSI 0.2 is the usual
# "significant shift" line; a JS distance or Hellinger of 0.2 and a KS of 0.2 mean a
# fifth of the probability mass moved; Wasserstein 0.25 is a quarter of a standard
# deviation; Cramér's V 0.2 a weak-to-moderate association with the side.
DEFAULT_THRESHOLDS = {
    "numeric": {"psi": 0.2, "js": 0.2, "hellinger": 0.2, "ks": 0.2, "wasserstein": 0.25,
                "mean_delta": 0.5, "null_rate_delta": 0.1},
    "categorical": {"js": 0.2, "psi": 0.2, "linf": 0.15, "cramers_v": 0.2, "chi2": math.inf,
                    "new_category_share": 0.05, "null_rate_delta": 0.1},
}
METRICS = sorted({m for kind in DEFAULT_THRESHOLDS.values() for m in kind})
# the statistics in the column order of `metrics/drift` (one column each), and the two
# whose sketch error is bounded (`<metric>_error_bound`)
STATISTICS = ("psi", "js", "hellinger", "ks", "wasserstein", "mean_delta", "linf", "chi2",
              "cramers_v", "new_category_share", "null_rate_delta")
BOUNDED = ("ks", "wasserstein")
# values each side needs before a distribution statistic (rows, for a null rate) is judged
MIN_COUNT = 50
# the domain classifier's AUC above which a day has drifted (metrics.domain says why 0.6)
MULTIVARIATE_THRESHOLD = 0.6


def _one_of(kind: str) -> dict[str, Any]:
    names = sorted(DEFAULT_THRESHOLDS[kind])
    return {"kind": str, "expected": f"one of {', '.join(names)}",
            "check": lambda v: v in names}


@dataclass(frozen=True)
class MultivariateSettings:
    """`drift.multivariate`: the daily domain classifier (`jobs.multivariate`)."""

    threshold: float = setting(MULTIVARIATE_THRESHOLD, NUMBER, "a number in [0.5, 1)",
                               lambda v: 0.5 <= v < 1.0)


def _multivariate(path: Path, where: str, value: Any) -> MultivariateSettings | None:
    """`false` turns it off; `true` (or nothing) keeps the defaults; else a mapping."""
    if value is False:
        return None
    if value is True:
        return MultivariateSettings()
    if not isinstance(value, Mapping):
        raise ConfigError(path, where, "false, or a mapping with a threshold in [0.5, 1)",
                          value)
    return parse_section(MultivariateSettings, path, where, value)


@dataclass(frozen=True)
class DriftSettings:
    """`drift:`: which thresholds judge each column, against which baseline."""

    numeric: str | None = setting(None, **_one_of("numeric"))
    categorical: str | None = setting(None, **_one_of("categorical"))
    threshold: float | None = setting(None, NUMBER, "a number >= 0", lambda v: v >= 0)
    thresholds: Mapping[str, float] = setting(
        None, factory=frozen({}), read=mapping_of(
            checked(NUMBER, f"a number >= 0 for one of {', '.join(METRICS)}",
                    lambda v: v >= 0), tuple(METRICS), "a mapping of metric to number"))
    baseline: str = setting("default", str)
    multivariate: MultivariateSettings | None = setting(None, factory=MultivariateSettings,
                                                        read=_multivariate)

    def by_kind(self) -> dict[str, dict[str, float]]:
        """Per column kind, each metric's threshold: the defaults, then `thresholds`, then
        `threshold` for the metrics `numeric` and `categorical` name."""
        out = {kind: dict(values) for kind, values in DEFAULT_THRESHOLDS.items()}
        for metric, value in self.thresholds.items():
            for kind in out:
                if metric in out[kind]:
                    out[kind][metric] = value
        if self.threshold is not None:
            for kind, metric in (("numeric", self.numeric), ("categorical", self.categorical)):
                if metric is not None:
                    out[kind][metric] = self.threshold
        return out
