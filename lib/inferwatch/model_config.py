"""Model descriptions (`conf/models/<model_id>.yaml`): read, checked, loaded by folder.

Every error names the file, the key and what was expected (`config.ConfigError`).
`slices` and `protected` are parsed here, once, by the slice grammar
(`inferwatch.slice_expr`): a model file holds data, never code for Spark to run.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from inferwatch.config import ConfigError, names, read_yaml, typed
from inferwatch.slice_expr import Node, SliceExprError, column_name, parse

MODEL_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
PROBLEM_TYPES = ("binary_classification", "multiclass_classification", "regression")


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
    slices: tuple[str, ...] = ()  # as written: each is its rows' `slice_key`
    protected: tuple[str, ...] = ()  # column names
    baseline: dict[str, Any] = field(default_factory=dict)
    drift: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, Any] = field(default_factory=dict)
    # each slice's parse tree, keyed by its text; what the jobs evaluate
    expressions: dict[str, Node] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # parsed on construction, so a model made by parse_model or dataclasses.replace
        # alike carries the checked trees of exactly its slices
        object.__setattr__(self, "expressions", {
            text: _checked(self.path, f"slices[{i}]", text, parse)
            for i, text in enumerate(self.slices)})

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


def parse_model(path: Path, data: dict[str, Any]) -> ModelConfig:
    """Validate one model description given as a dict (as read from its YAML file)."""
    model_id = typed(path, data, "model_id", str, None)
    if not model_id or not MODEL_ID_PATTERN.match(model_id):
        raise ConfigError(path, "model_id", "a name matching [A-Za-z0-9_.-]+", model_id)
    problem = data.get("problem_type")
    if problem not in PROBLEM_TYPES:
        raise ConfigError(path, "problem_type", "one of " + ", ".join(PROBLEM_TYPES), problem)
    threshold = typed(path, data, "threshold", (int, float), 0.5 if problem == "binary_classification" else None)
    if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
        raise ConfigError(path, "threshold", "a number between 0 and 1", threshold)
    features = typed(path, data, "features", dict, {}) or {}
    unknown = set(features) - {"numeric", "categorical"}
    if unknown:
        raise ConfigError(path, "features", "only 'numeric' and 'categorical' lists", sorted(unknown))
    numeric, categorical = names(path, features, "numeric"), names(path, features, "categorical")
    both = set(numeric) & set(categorical)
    if both:
        raise ConfigError(path, "features", "each feature listed once", sorted(both))
    return ModelConfig(
        path=path,
        model_id=model_id,
        problem_type=problem,
        prediction=typed(path, data, "prediction", str, "prediction"),
        threshold=None if threshold is None else float(threshold),
        label=typed(path, data, "label", str, "label"),
        classes=_classes(path, data, problem),
        numeric=numeric,
        categorical=categorical,
        slices=names(path, data, "slices"),
        protected=tuple(_checked(path, f"protected[{i}]", text, column_name)
                        for i, text in enumerate(names(path, data, "protected"))),
        baseline=_baseline(path, data),
        drift=typed(path, data, "drift", dict, {}) or {},
        quality=_quality(path, data),
        alerts=typed(path, data, "alerts", dict, {}) or {},
    )


def _checked(path: Path, key: str, text: str, read: Callable[[str], Any]) -> Any:
    """`read(text)` (the slice grammar's parse or column_name), or a one-line
    ConfigError naming the file, the key, the expression and what was refused."""
    try:
        return read(text)
    except SliceExprError as err:
        raise ConfigError(path, key, f"a slice expression (README: Slice expressions); {err}",
                          text) from None


QUALITY_KEYS = {"suite": str, "baseline": str, "suggest": bool, "expectations": list,
                "max_duplicate_rate": (int, float), "max_quarantine_rate": (int, float)}


def _quality(path: Path, data: dict) -> dict[str, Any]:
    """The `quality:` section (inferwatch.quality.suite says what each key does)."""
    quality = typed(path, data, "quality", dict, {}) or {}
    for key, value in quality.items():
        if key not in QUALITY_KEYS:
            raise ConfigError(path, f"quality.{key}", f"one of {', '.join(QUALITY_KEYS)}", key)
        typed(path, {f"quality.{key}": value}, f"quality.{key}", QUALITY_KEYS[key], None)
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
    classes = names(path, data, "classes")
    if classes and problem != "multiclass_classification":
        raise ConfigError(path, "classes", "no classes unless problem_type is "
                          "multiclass_classification", list(classes))
    if len(set(classes)) != len(classes):
        raise ConfigError(path, "classes", "distinct class names", list(classes))
    return classes


def _baseline(path: Path, data: dict) -> dict[str, Any]:
    """`{source: path}` or `{window: [start, end]}` (ISO times, UTC when no offset)."""
    baseline = typed(path, data, "baseline", dict, {}) or {}
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
        model = parse_model(path, read_yaml(path))
        if model.model_id in models:
            raise ConfigError(path, "model_id", "a model_id no other file uses", model.model_id)
        models[model.model_id] = model
    return models
