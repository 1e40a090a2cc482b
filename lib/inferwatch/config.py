"""Configuration: the environment file (`conf/local.yaml`) and model descriptions.

Config is data, loaded once at the edge and validated; every error names the file, the
key and what was expected, so a typo never surfaces as a stack trace deep in a job.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from inferwatch.errors import UserError
from inferwatch.lake.storage import (StorageSettings, delta_options, settings_from,
                                     spark_conf, spark_uri)

MODEL_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
PROBLEM_TYPES = ("binary_classification", "multiclass_classification", "regression")


class ConfigError(UserError):
    """A configuration file is missing, unreadable or holds an unexpected value."""

    def __init__(self, path: Path | str, key: str, expected: str, got: Any = None):
        self.path, self.key, self.expected = str(path), key, expected
        found = "" if got is None else f", got {got!r}"
        super().__init__(f"{path}: key '{key}': expected {expected}{found}")


@dataclass(frozen=True)
class SparkSettings:
    master: str = "local[*]"
    app_name: str = "inferwatch"
    shuffle_partitions: int = 8
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EnvConfig:
    """Where the lake lives and how Spark runs; one file per environment."""

    path: Path
    lake: str
    models_dir: Path
    spark: SparkSettings
    future_tolerance_hours: float = 24.0
    duplicate_lookback_days: float = 7.0
    pending_expiry_days: float = 90.0
    # maintain: compaction target and how long unreferenced files stay (time travel)
    target_file_mb: float = 128.0
    vacuum_retention_hours: float = 168.0
    # alerts: Slack-compatible webhook (`alerts.webhook_url`, or INFERWATCH_WEBHOOK_URL)
    webhook_url: str | None = None
    # object storage (docs/storage.md): the file's `storage:` keys over the environment's
    storage: StorageSettings = field(default_factory=lambda: StorageSettings({}))


@dataclass(frozen=True)
class ModelConfig:
    """One model description (`conf/models/<model_id>.yaml`)."""

    path: Path
    model_id: str
    problem_type: str
    prediction: str = "prediction"
    threshold: float | None = None
    classes: tuple[str, ...] = ()  # multiclass: class names; a numeric label i means classes[i]
    label: str = "label"
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    slices: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()
    baseline: dict[str, Any] = field(default_factory=dict)
    drift: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(path, "<file>", "an existing YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(path, "<file>", f"valid YAML ({err.problem}{where})") from None
    except yaml.YAMLError as err:
        raise ConfigError(path, "<file>", f"valid YAML ({err})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(path, "<file>", f"a readable UTF-8 file ({err})") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(path, "<top level>", "a mapping of keys to values", type(data).__name__)
    return data


def _typed(path: Path, data: dict, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = data.get(key, default)
    if value is not None and not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        article = "an" if names[0] in "aeiou" else "a"
        raise ConfigError(path, key, f"{article} {names}", value)
    return value


def _names(path: Path, data: dict, key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(path, key, "a list of non-empty strings", value)
    return tuple(value)


def load_env(path: str | Path, lake: str | None = None, models_dir: str | Path | None = None) -> EnvConfig:
    """Load and validate an environment file; `lake`/`models_dir` override what it says.

    Relative paths in the file are relative to the working directory, as users type them.
    """
    path = Path(path)
    data = _read_yaml(path) if path.exists() or lake is None else {}
    spark = _typed(path, data, "spark", dict, {}) or {}
    conf = _typed(path, spark, "conf", dict, {}) or {}
    shuffle = _typed(path, spark, "shuffle_partitions", int, 8)
    if shuffle < 1:
        raise ConfigError(path, "spark.shuffle_partitions", "an integer >= 1", shuffle)
    tolerance = _typed(path, data, "future_tolerance_hours", (int, float), 24.0)
    lookback = _typed(path, data, "duplicate_lookback_days", (int, float), 7.0)
    expiry = _typed(path, data, "pending_expiry_days", (int, float), 90.0)
    maintain = _typed(path, data, "maintain", dict, {}) or {}
    target = _typed(path, maintain, "target_file_mb", (int, float), 128.0)
    retention = _typed(path, maintain, "vacuum_retention_hours", (int, float), 168.0)
    for key, value in (("future_tolerance_hours", tolerance),
                       ("duplicate_lookback_days", lookback), ("pending_expiry_days", expiry),
                       ("maintain.vacuum_retention_hours", retention)):
        if isinstance(value, bool) or value < 0:
            raise ConfigError(path, key, "a number >= 0", value)
    if isinstance(target, bool) or target <= 0:
        raise ConfigError(path, "maintain.target_file_mb", "a number > 0", target)
    lake = str(lake or _typed(path, data, "lake", str, "lake"))
    alerts = _typed(path, data, "alerts", dict, {}) or {}
    webhook = os.environ.get("INFERWATCH_WEBHOOK_URL") or _typed(path, alerts, "webhook_url",
                                                                  str, None)
    if webhook and not webhook.startswith(("http://", "https://")):
        raise ConfigError(path, "alerts.webhook_url", "an http:// or https:// URL", webhook)
    return EnvConfig(
        path=path,
        lake=lake,
        models_dir=Path(models_dir or _typed(path, data, "models_dir", str, "conf/models")),
        spark=SparkSettings(
            master=_typed(path, spark, "master", str, "local[*]"),
            app_name=_typed(path, spark, "app_name", str, "inferwatch"),
            shuffle_partitions=shuffle,
            conf={str(k): str(v) for k, v in conf.items()},
        ),
        future_tolerance_hours=float(tolerance),
        duplicate_lookback_days=float(lookback),
        pending_expiry_days=float(expiry),
        target_file_mb=float(target),
        vacuum_retention_hours=float(retention),
        webhook_url=webhook or None,
        storage=_storage(path, data, lake),
    )


def _storage(path: Path, data: dict[str, Any], lake: str) -> StorageSettings:
    """The `storage:` settings, checked against the lake's store before any job starts."""
    try:
        settings = settings_from(_typed(path, data, "storage", dict, {}) or {})
        delta_options(settings, lake)
        spark_conf(settings, lake)
        spark_uri(settings, lake)
    except ValueError as err:
        raise ConfigError(path, "storage", "valid object-store settings (docs/storage.md): "
                          + str(err).removeprefix("storage: ")) from None
    return settings


def parse_model(path: Path, data: dict[str, Any]) -> ModelConfig:
    """Validate one model description given as a dict (as read from its YAML file)."""
    model_id = _typed(path, data, "model_id", str, None)
    if not model_id or not MODEL_ID_PATTERN.match(model_id):
        raise ConfigError(path, "model_id", "a name matching [A-Za-z0-9_.-]+", model_id)
    problem = data.get("problem_type")
    if problem not in PROBLEM_TYPES:
        raise ConfigError(path, "problem_type", "one of " + ", ".join(PROBLEM_TYPES), problem)
    threshold = _typed(path, data, "threshold", (int, float), 0.5 if problem == "binary_classification" else None)
    if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
        raise ConfigError(path, "threshold", "a number between 0 and 1", threshold)
    features = _typed(path, data, "features", dict, {}) or {}
    unknown = set(features) - {"numeric", "categorical"}
    if unknown:
        raise ConfigError(path, "features", "only 'numeric' and 'categorical' lists", sorted(unknown))
    numeric, categorical = _names(path, features, "numeric"), _names(path, features, "categorical")
    both = set(numeric) & set(categorical)
    if both:
        raise ConfigError(path, "features", "each feature listed once", sorted(both))
    return ModelConfig(
        path=path,
        model_id=model_id,
        problem_type=problem,
        prediction=_typed(path, data, "prediction", str, "prediction"),
        threshold=None if threshold is None else float(threshold),
        label=_typed(path, data, "label", str, "label"),
        classes=_classes(path, data, problem),
        numeric=numeric,
        categorical=categorical,
        slices=_names(path, data, "slices"),
        protected=_names(path, data, "protected"),
        baseline=_baseline(path, data),
        drift=_typed(path, data, "drift", dict, {}) or {},
        quality=_quality(path, data),
        alerts=_typed(path, data, "alerts", dict, {}) or {},
    )


QUALITY_KEYS = {"suite": str, "baseline": str, "suggest": bool, "expectations": list,
                "max_duplicate_rate": (int, float), "max_quarantine_rate": (int, float)}


def _quality(path: Path, data: dict) -> dict[str, Any]:
    """The `quality:` section (inferwatch.quality.suite says what each key does)."""
    quality = _typed(path, data, "quality", dict, {}) or {}
    for key, value in quality.items():
        if key not in QUALITY_KEYS:
            raise ConfigError(path, f"quality.{key}", f"one of {', '.join(QUALITY_KEYS)}", key)
        _typed(path, {f"quality.{key}": value}, f"quality.{key}", QUALITY_KEYS[key], None)
        if key.startswith("max_") and not 0.0 <= float(value) <= 1.0:
            raise ConfigError(path, f"quality.{key}", "a rate between 0 and 1", value)
    check_expectations(path, "quality.expectations", quality.get("expectations", []))
    return dict(quality)


def check_expectations(path: Path, key: str, specs: Any) -> list[dict]:
    """Great Expectations specs as GX writes them: `type: expect_...`, `kwargs: {...}`."""
    if not isinstance(specs, list):
        raise ConfigError(path, key, "a list of expectations", specs)
    for i, spec in enumerate(specs):
        if not (isinstance(spec, dict) and isinstance(spec.get("type"), str)
                and spec["type"].startswith("expect_")
                and isinstance(spec.get("kwargs", {}), dict)):
            raise ConfigError(path, f"{key}[{i}]", "a mapping with type: expect_... and "
                              "kwargs: {...}", spec)
    return [dict(spec) for spec in specs]


def _classes(path: Path, data: dict, problem: str) -> tuple[str, ...]:
    classes = _names(path, data, "classes")
    if classes and problem != "multiclass_classification":
        raise ConfigError(path, "classes", "no classes unless problem_type is "
                          "multiclass_classification", list(classes))
    if len(set(classes)) != len(classes):
        raise ConfigError(path, "classes", "distinct class names", list(classes))
    return classes


def _baseline(path: Path, data: dict) -> dict[str, Any]:
    """`{source: path}` or `{window: [start, end]}` (ISO times, UTC when no offset)."""
    baseline = _typed(path, data, "baseline", dict, {}) or {}
    expected = "{source: path/to/file.parquet} or {window: [start, end]} with ISO times"
    if not baseline:
        return {}
    if set(baseline) == {"source"} and isinstance(baseline["source"], str):
        return dict(baseline)
    window = baseline.get("window")
    if set(baseline) != {"window"} or not isinstance(window, list) or len(window) != 2:
        raise ConfigError(path, "baseline", expected, baseline)
    try:
        start, end = (_utc(v) for v in window)
    except (TypeError, ValueError):
        raise ConfigError(path, "baseline.window", "two ISO times [start, end]", window) from None
    if not start < end:
        raise ConfigError(path, "baseline.window", "start before end", window)
    return {"window": [start, end]}


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def baseline_window(model: ModelConfig) -> tuple[datetime, datetime]:
    """The model's baseline window as UTC datetimes; ValueError without one."""
    if "window" not in model.baseline:
        raise ValueError(f"{model.path}: model {model.model_id} has no baseline window")
    start, end = model.baseline["window"]
    return start, end


def load_models(models_dir: str | Path) -> dict[str, ModelConfig]:
    """Load every `*.yaml` model description in a folder, keyed by model_id."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise ConfigError(models_dir, "<folder>", "a folder of <model_id>.yaml model descriptions")
    models: dict[str, ModelConfig] = {}
    for path in sorted(models_dir.glob("*.y*ml")):
        model = parse_model(path, _read_yaml(path))
        if model.model_id in models:
            raise ConfigError(path, "model_id", "a model_id no other file uses", model.model_id)
        models[model.model_id] = model
    return models
