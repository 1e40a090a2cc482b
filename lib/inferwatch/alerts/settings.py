"""A model's `alerts:` section, checked, with the defaults a model without one gets.

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

from typing import Any

from inferwatch.alerts.performance import HIGHER_IS_WORSE
from inferwatch.config import ConfigError, kind_names, of_kind
from inferwatch.granularity import NAMES
from inferwatch.model_config import ModelConfig

KEYS = {"floors": dict, "ceilings": dict, "min_windows": dict, "clear_windows": int,
        "anomaly": (dict, list),
        "enabled": bool, "webhook": str, "min_severity": str}
SEVERITIES = ("info", "warning", "critical")
ANOMALY_KEYS = {"metrics": list, "granularity": str, "z": (int, float), "history": int,
                "min_labeled": int, "seasonal": bool}
KINDS = ("drift", "quality", "multivariate", "performance", "coverage", "volume")
MIN_WINDOWS = {"drift": 2, "quality": 2, "multivariate": 1, "performance": 1, "coverage": 1,
               "volume": 1}
MIN_LABELED = 100  # labelled rows (rows, for estimates) a window needs to be judged
CLEAR_WINDOWS = 3
# a window whose strongest signal is this far past its threshold opens at once: a clean
# column's noise flags 2-3% of hours at 1x, and almost never at 2x with 2 statistics
STRONG = {"drift": 2.0}
MAIN_METRICS = {"binary_classification": ["auc", "accuracy", "estimated_auc",
                                          "estimated_accuracy"],
                "multiclass_classification": ["accuracy", "estimated_accuracy"],
                "regression": ["mae", "estimated_mae"]}


def settings(model: ModelConfig) -> dict[str, Any]:
    spec = model.alerts or {}
    path = model.path
    _check_keys(path, "alerts", {k: v for k, v in spec.items()
                                 if not (k == "webhook" and v is None)}, KEYS)
    windows = {**MIN_WINDOWS, **spec.get("min_windows", {})}
    for kind, n in windows.items():
        if kind not in KINDS or not of_kind(n, int) or n < 1:
            raise ConfigError(path, f"alerts.min_windows.{kind}",
                              f"an integer >= 1 for one of {', '.join(KINDS)}", n)
    clear = spec.get("clear_windows", CLEAR_WINDOWS)
    if clear < 1:
        raise ConfigError(path, "alerts.clear_windows", "an integer >= 1", clear)
    anomalies = _anomalies(spec.get("anomaly", {}), model, path)
    coverage = {"granularity": "1d", "min_rows": 50, "drop": 0.5}
    webhook = spec.get("webhook")
    if webhook and not webhook.startswith(("http://", "https://")):
        raise ConfigError(path, "alerts.webhook", "an http:// or https:// URL", webhook)
    severity = spec.get("min_severity", "warning")
    if severity not in SEVERITIES:
        raise ConfigError(path, "alerts.min_severity", f"one of {', '.join(SEVERITIES)}",
                          severity)
    return {"enabled": spec.get("enabled", True), "webhook": webhook or None,
            "min_severity": severity, "rules": rules(spec, path, anomalies[0]["granularity"] if anomalies else "1d"),
            "min_labeled": anomalies[0]["min_labeled"] if anomalies else MIN_LABELED,
            "min_windows": windows, "clear_windows": clear, "anomalies": anomalies,
            "coverage": coverage, "strong": STRONG}


def _anomalies(given: dict | list, model: ModelConfig, path) -> list[dict]:
    """`alerts.anomaly`: one spec or a list of them (say AUC per day and rows per hour of
    day), each filled in from the defaults."""
    out = []
    for at, spec in enumerate(given if isinstance(given, list) else [given]):
        where = "alerts.anomaly" + (f"[{at}]" if isinstance(given, list) else "")
        if not isinstance(spec, dict):
            raise ConfigError(path, where, "a mapping of anomaly settings", spec)
        anomaly = {"metrics": MAIN_METRICS.get(model.problem_type, []), "granularity": "1d",
                   "z": 4.0, "history": 14, "min_labeled": MIN_LABELED,
                   "seasonal": False}
        _check_keys(path, where, spec, ANOMALY_KEYS)
        anomaly.update(spec)
        _check_granularity(path, f"{where}.granularity", anomaly["granularity"])
        out.append(anomaly)
    return out


def rules(spec: dict, path, granularity: str) -> list[dict]:
    """`floors` and `ceilings` as rules: {metric, bound, ceiling, granularity}. A bound is
    a number (at the anomaly granularity, `1d` by default) or `{value, granularity}`; a
    floor on a metric where higher is worse (`rmse`, `log_loss`) is its ceiling."""
    out = []
    for key in ("floors", "ceilings"):
        for metric, bound in spec.get(key, {}).items():
            where = f"alerts.{key}.{metric}"
            if isinstance(bound, dict):
                extra = set(bound) - {"value", "granularity"}
                if extra or "value" not in bound:
                    raise ConfigError(path, where, "a number or {value, granularity}", bound)
                value, at = bound["value"], bound.get("granularity", granularity)
            else:
                value, at = bound, granularity
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ConfigError(path, where, "a number", value)
            _check_granularity(path, f"{where}.granularity", at)
            out.append({"metric": metric, "bound": float(value), "granularity": at,
                        "ceiling": key == "ceilings" or metric in HIGHER_IS_WORSE})
    return out


def _check_keys(path, where: str, spec: dict, kinds: dict) -> None:
    """Each key of `spec` one of `kinds`, its value of that key's type (`of_kind`)."""
    for key, value in spec.items():
        if key not in kinds:
            raise ConfigError(path, f"{where}.{key}", f"one of {', '.join(kinds)}", key)
        if not of_kind(value, kinds[key]):
            raise ConfigError(path, f"{where}.{key}", kind_names(kinds[key]), value)


def _check_granularity(path, where: str, value: Any) -> None:
    if value not in NAMES:
        raise ConfigError(path, where, ", ".join(NAMES[:-1]) + f" or {NAMES[-1]}",
                          value)
