"""Model descriptions (`conf/models/<model_id>.yaml`): read, checked, loaded by folder.

Every error names the file, the key and what was expected (`config.ConfigError`).
`slices` and `protected` are parsed here, once, by the slice grammar
(`inferwatch.slice_expr`): a model file holds data, never code for Spark to run. The
`drift:`, `quality:` and `alerts:` sections are read into typed settings
(`inferwatch.model_settings`) here too, so a typo in a threshold stops the load, not a
job hours later. docs/configuration.md lists every key.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from inferwatch.config import ConfigError, names, read_yaml, typed
from inferwatch.model_settings import (SECTIONS, AlertSettings, DriftSettings,
                                       QualitySettings, check_expectations, parse_section)
from inferwatch.slice_expr import Node, SliceExprError, column_name, parse

MODEL_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
PROBLEM_TYPES = ("binary_classification", "multiclass_classification", "regression")
BINARY_THRESHOLD = 0.5  # a binary model's decision threshold unless its file says
# a model file's top-level keys; any other is a typo, refused at load
MODEL_KEYS = ("model_id", "problem_type", "prediction", "threshold", "classes", "label",
              "features", "slices", "protected", "baseline", "inferences_table", "labels_table", *SECTIONS)
FEATURE_KEYS = ("numeric", "categorical")
BASELINE_KEYS = ("source", "window")  # one or the other
__all__ = ["BASELINE_KEYS", "BINARY_THRESHOLD", "FEATURE_KEYS", "MODEL_KEYS", "ModelConfig",
           "baseline_window", "check_expectations", "load_models", "parse_model"]


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
    # the model's raw inferences / labels as a Delta table another system writes (a path
    # or URI), read by its versions beside `raw/inferences` / `raw/labels` by the partition
    # / join-labels job (`jobs/sources.py`)
    inferences_table: str | None = None
    labels_table: str | None = None
    # typed settings; a mapping given here (as YAML has it) is read into them on construction
    drift: DriftSettings = field(default_factory=DriftSettings)
    quality: QualitySettings = field(default_factory=QualitySettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    # each slice's parse tree, keyed by its text; what the jobs evaluate
    expressions: dict[str, Node] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # parsed on construction, so a model made by parse_model or dataclasses.replace
        # alike carries the checked trees of exactly its slices
        object.__setattr__(self, "expressions", {
            text: _checked(self.path, f"slices[{i}]", text, parse)
            for i, text in enumerate(self.slices)})
        for section, kind in SECTIONS.items():
            object.__setattr__(self, section, parse_section(kind, self.path, section,
                                                            getattr(self, section)))

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


def parse_model(path: Path, data: dict[str, Any]) -> ModelConfig:
    """Validate one model description given as a dict (as read from its YAML file)."""
    unknown = sorted(str(k) for k in set(data) - set(MODEL_KEYS))
    if unknown:
        raise ConfigError(path, unknown[0], f"one of {', '.join(MODEL_KEYS)}", unknown[0])
    model_id = typed(path, data, "model_id", str, None)
    if not model_id or not MODEL_ID_PATTERN.match(model_id):
        raise ConfigError(path, "model_id", "a name matching [A-Za-z0-9_.-]+", model_id)
    problem = data.get("problem_type")
    if problem not in PROBLEM_TYPES:
        raise ConfigError(path, "problem_type", "one of " + ", ".join(PROBLEM_TYPES), problem)
    threshold = typed(path, data, "threshold", (int, float),
                      BINARY_THRESHOLD if problem == "binary_classification" else None)
    if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
        raise ConfigError(path, "threshold", "a number between 0 and 1", threshold)
    features = typed(path, data, "features", dict, {}) or {}
    unknown = set(features) - set(FEATURE_KEYS)
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
        prediction=typed(path, data, "prediction", str, _default("prediction")),
        threshold=None if threshold is None else float(threshold),
        label=typed(path, data, "label", str, _default("label")),
        classes=_classes(path, data, problem),
        numeric=numeric,
        categorical=categorical,
        slices=names(path, data, "slices"),
        protected=tuple(_checked(path, f"protected[{i}]", text, column_name)
                        for i, text in enumerate(names(path, data, "protected"))),
        baseline=_baseline(path, data),
        inferences_table=typed(path, data, "inferences_table", str, None) or None,
        labels_table=typed(path, data, "labels_table", str, None) or None,
        **{section: data.get(section) for section in SECTIONS},
    )


def _default(key: str) -> Any:
    """A top-level key's default: its ModelConfig field's."""
    return ModelConfig.__dataclass_fields__[key].default


def _checked(path: Path, key: str, text: str, read: Callable[[str], Any]) -> Any:
    """`read(text)` (the slice grammar's parse or column_name), or a one-line
    ConfigError naming the file, the key, the expression and what was refused."""
    try:
        return read(text)
    except SliceExprError as err:
        raise ConfigError(path, key, f"a slice expression (README: Slice expressions); {err}",
                          text) from None


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
    unknown = sorted(str(k) for k in set(baseline) - set(BASELINE_KEYS))
    if unknown:
        raise ConfigError(path, f"baseline.{unknown[0]}", f"one of {', '.join(BASELINE_KEYS)}",
                          unknown[0])
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
