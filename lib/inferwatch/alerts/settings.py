"""A model's `alerts:` settings as the alert job uses them: rules, anomaly specs, windows.

The section itself (its keys, defaults and checks, with an example) is
`model_settings.alerts.AlertSettings`, read when the model file loads; this module turns
it into the job's plan. Without a section a model gets drift, quality and multivariate
alerts and anomaly alerts on its main realized and estimated metric per day.
"""
from __future__ import annotations

from typing import Any

from inferwatch.alerts.performance import HIGHER_IS_WORSE
from inferwatch.model_config import ModelConfig
from inferwatch.model_settings.alerts import (  # noqa: F401 - the job's vocabulary, re-exported
    CLEAR_WINDOWS, KINDS, MAIN_METRICS, MIN_LABELED, MIN_WINDOWS, SEVERITIES, AlertSettings)

# a window whose strongest signal is this far past its threshold opens at once: a clean
# column's noise flags 2-3% of hours at 1x, and almost never at 2x with 2 statistics
STRONG = {"drift": 2.0}
COVERAGE = {"granularity": "1d", "min_rows": 50, "drop": 0.5}


def settings(model: ModelConfig) -> dict[str, Any]:
    """The alert job's plan from the model's checked `alerts:` settings."""
    spec = model.alerts
    anomalies = [{"metrics": list(a.metrics or MAIN_METRICS.get(model.problem_type, ())),
                  "granularity": a.granularity, "z": a.z, "history": a.history,
                  "min_labeled": a.min_labeled, "seasonal": a.seasonal}
                 for a in spec.anomaly]
    first = anomalies[0] if anomalies else {"granularity": "1d", "min_labeled": MIN_LABELED}
    return {"enabled": spec.enabled, "webhook": spec.webhook or None,
            "min_severity": spec.min_severity, "rules": rules(spec, first["granularity"]),
            "min_labeled": first["min_labeled"], "min_windows": dict(spec.min_windows),
            "clear_windows": spec.clear_windows, "anomalies": anomalies,
            "coverage": dict(COVERAGE), "strong": STRONG}


def rules(spec: AlertSettings, granularity: str) -> list[dict]:
    """`floors` and `ceilings` as rules: {metric, bound, ceiling, granularity}. A bound
    without its own granularity is at the anomaly granularity (`1d` by default); a floor
    on a metric where higher is worse (`rmse`, `log_loss`) is its ceiling."""
    return [{"metric": metric, "bound": bound.value,
             "granularity": bound.granularity or granularity,
             "ceiling": key == "ceilings" or metric in HIGHER_IS_WORSE}
            for key, bounds in (("floors", spec.floors), ("ceilings", spec.ceilings))
            for metric, bound in bounds.items()]
