"""Configuration: the environment file (`conf/local.yaml`), and the checks every
configuration file shares (model descriptions: `inferwatch.model_config`).

Config is data, loaded once at the edge and validated; every error names the file, the
key and what was expected, so a typo never surfaces as a stack trace deep in a job.
"""
from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inferwatch.errors import UserError
from inferwatch.lake.storage import (StorageSettings, delta_options, settings_from,
                                     spark_conf, spark_uri)
from inferwatch.redact import SECRET_KEYS, redact_value, remember

# vacuum deletes what no version within the retention references, including the files
# of a write still in progress: a day at least, longer than any write takes
MIN_VACUUM_RETENTION_HOURS = 24.0

class ConfigError(UserError):
    """A configuration file is missing, unreadable or holds an unexpected value."""

    def __init__(self, path: Path | str, key: str, expected: str, got: Any = None):
        self.path, self.key, self.expected = str(path), key, expected
        # a mistyped webhook URL or key must not land whole in a task log
        found = "" if got is None else f", got {redact_value(key, got)!r}"
        super().__init__(f"{path}: key '{key}': expected {expected}{found}")


@dataclass(frozen=True)
class SparkSettings:
    master: str = "local[*]"
    app_name: str = "inferwatch"
    shuffle_partitions: int = 8
    conf: dict[str, str] = field(default_factory=dict)


def _at(key: str) -> dict[str, str]:
    """Field metadata: the key's place in the file, where it is not the field's name."""
    return {"key": key}


@dataclass(frozen=True)
class EnvConfig:
    """Where the lake lives and how Spark runs; one file per environment. Each field is
    a key of the file (`spark.*` the SparkSettings fields; metadata `key` where the file
    nests it), its default the file's default (docs/configuration.md lists them)."""

    path: Path
    lake: str = "lake"
    models_dir: Path = Path("conf/models")
    spark: SparkSettings = field(default_factory=SparkSettings)
    future_tolerance_hours: float = 24.0
    duplicate_lookback_days: float = 7.0
    pending_expiry_days: float = 90.0
    # maintain: compaction target and how long unreferenced files stay (time travel)
    target_file_mb: float = field(default=128.0, metadata=_at("maintain.target_file_mb"))
    vacuum_retention_hours: float = field(default=168.0,
                                          metadata=_at("maintain.vacuum_retention_hours"))
    # alerts: Slack-compatible webhook (`alerts.webhook_url`, or INFERWATCH_WEBHOOK_URL)
    webhook_url: str | None = field(default=None, metadata=_at("alerts.webhook_url"))
    # object storage (docs/storage.md): the file's `storage:` keys over the environment's
    storage: StorageSettings = field(default_factory=lambda: StorageSettings({}))


def default(cls: type, name: str) -> Any:
    """The default of a settings dataclass's field: the file's default for that key."""
    spec = cls.__dataclass_fields__[name]
    return spec.default_factory() if spec.default is MISSING else spec.default


def read_yaml(path: Path) -> dict[str, Any]:
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


def of_kind(value: Any, kind: type | tuple[type, ...]) -> bool:
    """`value` is a `kind` (a type or a tuple of types); YAML's `true` is a bool, not a
    number, though Python's bool is an int: it passes only where `bool` is named."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))


def kind_names(kind: type | tuple[type, ...]) -> str:
    """"a float", "an int or float": what a key of `kind` expects, for an error."""
    names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
    return f"{'an' if names[0] in 'aeiou' else 'a'} {names}"


def typed(path: Path, data: dict, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = data.get(key, default)
    if value is not None and not of_kind(value, kind):
        raise ConfigError(path, key, kind_names(kind), value)
    return value


def names(path: Path, data: dict, key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(path, key, "a list of non-empty strings", value)
    return tuple(value)


def load_env(path: str | Path, lake: str | None = None, models_dir: str | Path | None = None) -> EnvConfig:
    """Load and validate an environment file; `lake`/`models_dir` override what it says.

    Relative paths in the file are relative to the working directory, as users type them.
    """
    path = Path(path)
    data = read_yaml(path) if path.exists() or lake is None else {}
    spark = typed(path, data, "spark", dict, {}) or {}
    conf = typed(path, spark, "conf", dict, {}) or {}
    shuffle = typed(path, spark, "shuffle_partitions", int,
                    default(SparkSettings, "shuffle_partitions"))
    if shuffle < 1:
        raise ConfigError(path, "spark.shuffle_partitions", "an integer >= 1", shuffle)
    tolerance, lookback, expiry = (
        typed(path, data, key, (int, float), default(EnvConfig, key))
        for key in ("future_tolerance_hours", "duplicate_lookback_days", "pending_expiry_days"))
    maintain = typed(path, data, "maintain", dict, {}) or {}
    target = typed(path, maintain, "target_file_mb", (int, float),
                   default(EnvConfig, "target_file_mb"))
    retention = typed(path, maintain, "vacuum_retention_hours", (int, float),
                      default(EnvConfig, "vacuum_retention_hours"))
    for key, value in (("future_tolerance_hours", tolerance),
                       ("duplicate_lookback_days", lookback), ("pending_expiry_days", expiry)):
        if value < 0:
            raise ConfigError(path, key, "a number >= 0", value)
    if retention < MIN_VACUUM_RETENTION_HOURS:
        raise ConfigError(path, "maintain.vacuum_retention_hours",
                          f"a number of hours >= {MIN_VACUUM_RETENTION_HOURS:g} (a shorter "
                          "retention lets vacuum delete the files of writes in progress)",
                          retention)
    if target <= 0:
        raise ConfigError(path, "maintain.target_file_mb", "a number > 0", target)
    lake = str(lake or typed(path, data, "lake", str, default(EnvConfig, "lake")))
    alerts = typed(path, data, "alerts", dict, {}) or {}
    webhook = os.environ.get("INFERWATCH_WEBHOOK_URL") or typed(path, alerts, "webhook_url",
                                                                  str, None)
    if webhook and not webhook.startswith(("http://", "https://")):
        raise ConfigError(path, "alerts.webhook_url", "an http:// or https:// URL", webhook)
    storage = _storage(path, data, lake)
    remember([webhook, *(storage.get(k) for k in SECRET_KEYS)])
    return EnvConfig(
        path=path,
        lake=lake,
        models_dir=Path(models_dir or typed(path, data, "models_dir", str,
                                            str(default(EnvConfig, "models_dir")))),
        spark=SparkSettings(
            master=typed(path, spark, "master", str, default(SparkSettings, "master")),
            app_name=typed(path, spark, "app_name", str, default(SparkSettings, "app_name")),
            shuffle_partitions=shuffle,
            conf={str(k): str(v) for k, v in conf.items()},
        ),
        future_tolerance_hours=float(tolerance),
        duplicate_lookback_days=float(lookback),
        pending_expiry_days=float(expiry),
        target_file_mb=float(target),
        vacuum_retention_hours=float(retention),
        webhook_url=webhook or None,
        storage=storage,
    )


def _storage(path: Path, data: dict[str, Any], lake: str) -> StorageSettings:
    """The `storage:` settings, checked against the lake's store before any job starts."""
    try:
        settings = settings_from(typed(path, data, "storage", dict, {}) or {})
        delta_options(settings, lake)
        spark_conf(settings, lake)
        spark_uri(settings, lake)
    except ValueError as err:
        raise ConfigError(path, "storage", "valid object-store settings (docs/storage.md): "
                          + str(err).removeprefix("storage: ")) from None
    return settings
