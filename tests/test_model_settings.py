"""A model file's `drift:`, `quality:` and `alerts:` sections: typed when the file loads.

A typo, a wrong type or an out-of-range value stops the load with one line naming the
file and the key; valid files give the jobs exactly the values they used when the jobs
read the sections' dicts themselves (the expected values below were taken from that code).
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import yaml

from inferwatch.alerts.settings import settings as alert_plan
from inferwatch.config import ConfigError
from inferwatch.jobs.drift import thresholds
from inferwatch.metrics.baseline import reference_name
from inferwatch.model_config import load_models
from inferwatch.quality.suite import rate_limits, suggest_from, suite_path
from inferwatch.scenario.generate import SUPPORTED_MODELS, model_description

HEAD = "model_id: m\nproblem_type: binary_classification\n"
METRICS = "hellinger, js, ks, mean_delta, null_rate_delta, psi, wasserstein"
ALL_METRICS = ("chi2, cramers_v, hellinger, js, ks, linf, mean_delta, new_category_share, "
               "null_rate_delta, psi, wasserstein")


@pytest.mark.parametrize("text, key, expected", [
    # drift: typo, type, range, each key's own shape
    ("drift: {treshold: 0.2}", "drift.treshold", "one of numeric, categorical, threshold, "
     "thresholds, baseline, multivariate, got 'treshold'"),
    ("drift: {threshold: hi}", "drift.threshold", "a number >= 0, got 'hi'"),
    ("drift: {threshold: -0.1}", "drift.threshold", "a number >= 0, got -0.1"),
    ("drift: {numeric: jss}", "drift.numeric", f"one of {METRICS}, got 'jss'"),
    ("drift: {thresholds: {psi: true}}", "drift.thresholds.psi",
     f"a number >= 0 for one of {ALL_METRICS}, got True"),
    ("drift: {thresholds: {pssi: 0.2}}", "drift.thresholds.pssi",
     f"one of {ALL_METRICS}, got 'pssi'"),
    ("drift: {thresholds: [psi]}", "drift.thresholds",
     "a mapping of metric to number, got ['psi']"),
    ("drift: {multivariate: {threshold: 1.5}}", "drift.multivariate.threshold",
     "a number in [0.5, 1), got 1.5"),
    ("drift: {multivariate: {treshold: 0.7}}", "drift.multivariate.treshold",
     "one of threshold, got 'treshold'"),
    ("drift: {multivariate: yes please}", "drift.multivariate",
     "false, or a mapping with a threshold in [0.5, 1), got 'yes please'"),
    ("drift: [psi]", "drift", "a mapping of settings, got ['psi']"),
    # quality
    ("quality: {max_duplicate_rates: 0.1}", "quality.max_duplicate_rates",
     "one of suite, baseline, suggest, expectations, max_duplicate_rate, "
     "max_quarantine_rate, got 'max_duplicate_rates'"),
    ("quality: {max_quarantine_rate: lots}", "quality.max_quarantine_rate",
     "a rate between 0 and 1, got 'lots'"),
    ("quality: {max_quarantine_rate: 1.5}", "quality.max_quarantine_rate",
     "a rate between 0 and 1, got 1.5"),
    ("quality: {suite: 3}", "quality.suite", "a str, got 3"),
    ("quality: {expectations: {type: expect_x}}", "quality.expectations",
     "a list of expectations, got {'type': 'expect_x'}"),
    # alerts
    ("alerts: {florrs: {}}", "alerts.florrs", "one of enabled, webhook, min_severity, "
     "floors, ceilings, min_windows, clear_windows, anomaly, got 'florrs'"),
    ("alerts: {clear_windows: '3'}", "alerts.clear_windows", "an integer >= 1, got '3'"),
    ("alerts: {clear_windows: 0}", "alerts.clear_windows", "an integer >= 1, got 0"),
    ("alerts: {min_windows: {drift: 0}}", "alerts.min_windows.drift",
     "an integer >= 1 for one of drift, quality, multivariate, performance, coverage, "
     "volume, got 0"),
    ("alerts: {min_windows: {drfit: 2}}", "alerts.min_windows.drfit",
     "one of drift, quality, multivariate, performance, coverage, volume, got 'drfit'"),
    ("alerts: {floors: {auc: high}}", "alerts.floors.auc", "a number, got 'high'"),
    ("alerts: {floors: {n: {value: 5, granularity: 5m}}}", "alerts.floors.n.granularity",
     "1h, 1d or 1w, got '5m'"),
    ("alerts: {ceilings: {n: {bound: 5}}}", "alerts.ceilings.n",
     "a number or {value, granularity}, got {'bound': 5}"),
    ("alerts: {floors: {n: {value: null}}}", "alerts.floors.n",
     "a number or {value, granularity}, got {'value': None}"),
    ("alerts: {anomaly: [{metrics: [n]}, {z: -1}]}", "alerts.anomaly[1].z",
     "a number > 0, got -1"),
    ("alerts: {anomaly: {histroy: 7}}", "alerts.anomaly.histroy",
     "one of metrics, granularity, z, history, min_labeled, seasonal, got 'histroy'"),
    ("alerts: {anomaly: auc}", "alerts.anomaly", "a mapping of anomaly settings, got 'auc'"),
    ("alerts: {min_severity: loud}", "alerts.min_severity",
     "one of info, warning, critical, got 'loud'"),
    ("alerts: {enabled: 'no'}", "alerts.enabled", "a bool, got 'no'"),
    # the top level: a misspelt section is no silent default
    ("allerts: {enabled: false}", "allerts", "one of model_id, problem_type, prediction, "
     "threshold, classes, label, features, slices, protected, baseline, inferences_table, "
     "labels_table, drift, quality, alerts, got 'allerts'"),
])
def test_a_mistake_is_one_line_at_load_naming_file_and_key(tmp_path, text, key, expected):
    path = tmp_path / "m.yaml"
    path.write_text(HEAD + text + "\n")
    with pytest.raises(ConfigError) as err:
        load_models(tmp_path)
    assert str(err.value) == f"{path}: key '{key}': expected {expected}"


def test_null_keeps_the_default_and_settings_are_frozen(tmp_path):
    (tmp_path / "m.yaml").write_text(HEAD + "drift: {threshold: null, multivariate: null}\n"
                                     "alerts: {webhook: null}\nquality:\n")
    model = load_models(tmp_path)["m"]
    assert model.drift.threshold is None and model.drift.multivariate.threshold == 0.6
    assert model.alerts.webhook is None and model.quality.suggest is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.drift.baseline = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        model.alerts.min_windows["drift"] = 1  # type: ignore[index]


DEFAULT_THRESHOLDS = {
    "numeric": {"psi": 0.2, "js": 0.2, "hellinger": 0.2, "ks": 0.2, "wasserstein": 0.25,
                "mean_delta": 0.5, "null_rate_delta": 0.1},
    "categorical": {"js": 0.2, "psi": 0.2, "linf": 0.15, "cramers_v": 0.2, "chi2": math.inf,
                    "new_category_share": 0.05, "null_rate_delta": 0.1}}
MIN_WINDOWS = {"drift": 2, "quality": 2, "multivariate": 1, "performance": 1, "coverage": 1,
               "volume": 1}
COVERAGE = {"granularity": "1d", "min_rows": 50, "drop": 0.5}
MAIN = {"fraud": ["auc", "accuracy", "estimated_auc", "estimated_accuracy"],
        "eta": ["mae", "estimated_mae"]}


def _generated(tmp_path: Path) -> Path:
    """The model files the scenario writes (`scenario.files.write`), without its data."""
    folder = tmp_path / "generated"
    folder.mkdir()
    for model_id in SUPPORTED_MODELS:
        (folder / f"{model_id}.yaml").write_text(
            yaml.safe_dump(model_description(model_id), sort_keys=False))
    return folder


@pytest.mark.parametrize("source", ["conf", "scenario"])
def test_the_shipped_and_generated_model_files_give_the_jobs_the_same_values(tmp_path,
                                                                             source):
    models = load_models("conf/models" if source == "conf" else _generated(tmp_path))
    assert set(models) == {"fraud", "eta"}
    for model_id, model in models.items():
        assert thresholds(model) == DEFAULT_THRESHOLDS  # psi and js at 0.2, as the defaults
        assert model.drift.multivariate.threshold == 0.6
        assert reference_name(model) == "default"
        assert suite_path(model) is None and suggest_from(model) == "default"
        assert rate_limits(model) == {"max_duplicate_rate": 0.05, "max_quarantine_rate": 0.05}
        assert model.quality.expectations == ()
        assert alert_plan(model) == {
            "enabled": True, "webhook": None, "min_severity": "warning", "rules": [],
            "min_labeled": 100, "min_windows": MIN_WINDOWS, "clear_windows": 3,
            "anomalies": [{"metrics": MAIN[model_id], "granularity": "1d", "z": 4.0,
                           "history": 14, "min_labeled": 100, "seasonal": False}],
            "coverage": COVERAGE, "strong": {"drift": 2.0}}


RICH = """\
model_id: rich
problem_type: binary_classification
features: {numeric: [amount], categorical: [country]}
drift:
  numeric: ks
  categorical: linf
  threshold: 0.3
  thresholds: {psi: 0.25, wasserstein: 1, chi2: .inf}
  baseline: spring
  multivariate: {threshold: 0.7}
quality:
  suite: suites/rich.yaml
  baseline: spring
  suggest: false
  expectations: [{type: expect_column_values_to_not_be_null, kwargs: {column: amount}}]
  max_duplicate_rate: 0.1
  max_quarantine_rate: 0
alerts:
  floors: {auc: 0.75, n: {value: 50, granularity: 1h}}
  ceilings: {delay_p90: 172800, log_loss: {value: 0.9}}
  min_windows: {quality: 1}
  clear_windows: 4
  anomaly:
  - {metrics: [auc], granularity: 1w, z: 3, history: 8, min_labeled: 20}
  - {metrics: [n], granularity: 1h, seasonal: true, history: 7}
  webhook: https://hooks.example/T0/B0
  min_severity: critical
  enabled: false
"""


def test_every_setting_given_reaches_the_jobs_as_before(tmp_path):
    (tmp_path / "rich.yaml").write_text(RICH)
    model = load_models(tmp_path)["rich"]
    numeric = {**DEFAULT_THRESHOLDS["numeric"], "ks": 0.3, "psi": 0.25, "wasserstein": 1.0}
    categorical = {**DEFAULT_THRESHOLDS["categorical"], "linf": 0.3, "psi": 0.25}
    assert thresholds(model) == {"numeric": numeric, "categorical": categorical}
    assert model.drift.multivariate.threshold == 0.7 and reference_name(model) == "spring"
    assert suite_path(model) == tmp_path / "suites" / "rich.yaml"
    assert suggest_from(model) is None
    assert rate_limits(model) == {"max_duplicate_rate": 0.1, "max_quarantine_rate": 0.0}
    assert list(model.quality.expectations) == [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "amount"}}]
    rules = [("auc", 0.75, "1w", False), ("n", 50.0, "1h", False),
             ("delay_p90", 172800.0, "1w", True), ("log_loss", 0.9, "1w", True)]
    assert alert_plan(model) == {
        "enabled": False, "webhook": "https://hooks.example/T0/B0",
        "min_severity": "critical", "min_labeled": 20, "clear_windows": 4,
        "rules": [{"metric": m, "bound": b, "granularity": g, "ceiling": c}
                  for m, b, g, c in rules],
        "min_windows": {**MIN_WINDOWS, "quality": 1},
        "anomalies": [{"metrics": ["auc"], "granularity": "1w", "z": 3.0, "history": 8,
                       "min_labeled": 20, "seasonal": False},
                      {"metrics": ["n"], "granularity": "1h", "z": 4.0, "history": 7,
                       "min_labeled": 100, "seasonal": True}],
        "coverage": COVERAGE, "strong": {"drift": 2.0}}
