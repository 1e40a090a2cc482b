"""A model's `alerts:` section, typed (docs/configuration.md lists every key;
`inferwatch.alerts.settings` turns it into the alert job's rules).

    alerts:
      floors: {auc: 0.75, estimated_auc: 0.75}   # realized or estimated; rmse-like: ceilings
      ceilings:                                  # any column of metrics/performance
        delay_p90: 172800                        # feedback delay (s), alerts kind coverage
        n: {value: 20000, granularity: 1h}       # rows per hour, alerts kind volume
      min_windows: {drift: 2, quality: 1}        # consecutive windows before opening
      clear_windows: 3                           # quiet windows before resolving
      anomaly:                                   # one mapping, or a list of them
        - {metrics: [auc], granularity: 1d, z: 4.0, history: 14, min_labeled: 100}
        - {metrics: [n], granularity: 1h, seasonal: true, history: 7}  # rows per hour,
                                                 # against the same hour of past days
      webhook: https://hooks.example/T0/B0       # this model's notifications (default: the
                                                 # environment's alerts.webhook_url)
      min_severity: warning                      # notify alerts at or above it
      enabled: false                             # no alerts for this model

Without a section a model gets drift, quality and multivariate alerts and anomaly alerts
on its main realized and estimated metric per day.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferwatch.config import ConfigError
from inferwatch.granularity import NAMES
from inferwatch.model_settings.keys import (NUMBER, checked, frozen, mapping_of,
                                            parse_section, read_value, setting)

SEVERITIES = ("info", "warning", "critical")
KINDS = ("drift", "quality", "multivariate", "performance", "coverage", "volume")
MIN_WINDOWS = {"drift": 2, "quality": 2, "multivariate": 1, "performance": 1, "coverage": 1,
               "volume": 1}
MIN_LABELED = 100  # labelled rows (rows, for estimates) a window needs to be judged
CLEAR_WINDOWS = 3
MAIN_METRICS = {"binary_classification": ("auc", "accuracy", "estimated_auc",
                                          "estimated_accuracy"),
                "multiclass_classification": ("accuracy", "estimated_accuracy"),
                "regression": ("mae", "estimated_mae")}
GRANULARITY = {"kind": str, "expected": ", ".join(NAMES[:-1]) + f" or {NAMES[-1]}",
               "check": lambda v: v in NAMES}


def _names(path: Path, where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(path, where, "a list of non-empty strings", value)
    return tuple(value)


@dataclass(frozen=True)
class AnomalySettings:
    """One `alerts.anomaly` spec: metrics against their own recent history."""

    metrics: tuple[str, ...] = setting((), read=_names)  # none: the model's MAIN_METRICS
    granularity: str = setting("1d", **GRANULARITY)
    z: float = setting(4.0, NUMBER, "a number > 0", lambda v: v > 0)
    history: int = setting(14, int, "an integer >= 1", lambda v: v >= 1)
    min_labeled: int = setting(MIN_LABELED, int, "an integer >= 0", lambda v: v >= 0)
    seasonal: bool = setting(False, bool)


def _anomalies(path: Path, where: str, value: Any) -> tuple[AnomalySettings, ...]:
    """One spec, or a list of them (say AUC per day and rows per hour of day)."""
    if isinstance(value, list):
        return tuple(_anomaly(path, f"{where}[{at}]", spec) for at, spec in enumerate(value))
    return (_anomaly(path, where, value),)


def _anomaly(path: Path, where: str, spec: Any) -> AnomalySettings:
    if not isinstance(spec, Mapping):
        raise ConfigError(path, where, "a mapping of anomaly settings", spec)
    return parse_section(AnomalySettings, path, where, spec)


@dataclass(frozen=True)
class Bound:
    """A floor or ceiling on a metric; `granularity` None: the first anomaly spec's."""

    value: float = setting(dataclasses.MISSING, NUMBER, "a number")  # required
    granularity: str | None = setting(None, **GRANULARITY)


def _bound(path: Path, where: str, value: Any) -> Bound:
    """A number, or `{value, granularity}`."""
    if isinstance(value, Mapping):
        if value.get("value") is None or set(value) - {"value", "granularity"}:
            raise ConfigError(path, where, "a number or {value, granularity}", value)
        return parse_section(Bound, path, where, value)
    return Bound(read_value(path, where, {"kind": NUMBER, "expected": "a number"}, value))


_kind_windows = mapping_of(checked(int, f"an integer >= 1 for one of {', '.join(KINDS)}",
                                   lambda v: v >= 1), KINDS)


def _min_windows(path: Path, where: str, value: Any) -> Mapping[str, int]:
    """The kinds given over the defaults: `{quality: 1}` leaves drift at 2."""
    return frozen({**MIN_WINDOWS, **_kind_windows(path, where, value)})()


def _webhook(value: str) -> bool:
    return value.startswith(("http://", "https://"))


@dataclass(frozen=True)
class AlertSettings:
    """`alerts:`: which rules fire, how long before an alert opens or resolves, who hears."""

    enabled: bool = setting(True, bool)
    webhook: str | None = setting(None, str, "an http:// or https:// URL", _webhook)
    min_severity: str = setting("warning", str, f"one of {', '.join(SEVERITIES)}",
                                lambda v: v in SEVERITIES)
    floors: Mapping[str, Bound] = setting(None, factory=frozen({}), read=mapping_of(_bound))
    ceilings: Mapping[str, Bound] = setting(None, factory=frozen({}), read=mapping_of(_bound))
    min_windows: Mapping[str, int] = setting(None, factory=frozen(MIN_WINDOWS),
                                             read=_min_windows)
    clear_windows: int = setting(CLEAR_WINDOWS, int, "an integer >= 1", lambda v: v >= 1)
    anomaly: tuple[AnomalySettings, ...] = setting((AnomalySettings(),), read=_anomalies)

