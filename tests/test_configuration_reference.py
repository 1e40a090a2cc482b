"""`docs/configuration.md` is the one reference of the configuration files' keys: held to
the code's settings definitions (the model file's top-level keys, the typed sections'
dataclasses, the environment file's EnvConfig), so it cannot miss a key, list one the code
does not read, or state another default."""
from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Mapping
from pathlib import Path

import pytest

from inferwatch.config import EnvConfig, SparkSettings, default
from inferwatch.lake.storage import StorageSettings
from inferwatch.model_config import (BASELINE_KEYS, BINARY_THRESHOLD, FEATURE_KEYS,
                                     MODEL_KEYS, ModelConfig)
from inferwatch.model_settings import SECTIONS
from inferwatch.model_settings.drift import DEFAULT_THRESHOLDS

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")
REQUIRED = "required"


def parse(text: str) -> dict[str, dict[str, tuple[str, str, str]]]:
    """{"model" | "environment": {key: (type, default, meaning)}}; a `## ` heading naming
    the environment file starts its rows, every other heading the model file's."""
    files: dict[str, dict] = {"model": {}, "environment": {}}
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("## "):
            current = files["environment" if "nvironment" in line else "model"]
        elif current is not None and ROW.match(line):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            assert len(cells) == 4, f"docs/configuration.md:{number}: expected 4 cells: {line}"
            key, kind, shown, meaning = cells[0].strip("`"), cells[1], cells[2], cells[3]
            assert kind and shown and meaning, f"docs/configuration.md:{number}: {key}"
            assert key not in current, f"docs/configuration.md:{number}: {key} twice"
            current[key] = (kind, shown.strip("`"), meaning)
    return files


def shown(value: object) -> str:
    """A default as the reference writes it: YAML's spelling, a section's defaults `{}`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "inf" if value == math.inf else f"{value:g}"
    if isinstance(value, StorageSettings):
        return shown(value.options)
    if dataclasses.is_dataclass(value):  # a nested section at its defaults: listed below
        assert value == type(value)(), value
        return "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {shown(v)}" for k, v in value.items()) + "}"
    return str(value)


def _default(cls: type, name: str) -> str:
    spec = cls.__dataclass_fields__[name]
    if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
        return REQUIRED
    return shown(default(cls, name))


def _nested(hint: object) -> tuple[type | None, bool]:
    """The settings dataclass a field's type holds (a section, a list or a mapping of
    them), and whether it is a mapping (its entries are named: `<metric>`)."""
    for arg in typing.get_args(hint):
        if dataclasses.is_dataclass(arg):
            origin = typing.get_origin(hint)
            return arg, isinstance(origin, type) and issubclass(origin, Mapping)
        found = _nested(arg)
        if found[0] is not None:
            return found
    return (hint, False) if dataclasses.is_dataclass(hint) else (None, False)


def section_keys(cls: type, prefix: str) -> dict[str, str]:
    """Every key of a settings dataclass and of the sections nested in it, with defaults."""
    out = {}
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        key = f"{prefix}.{spec.metadata.get('key', spec.name)}" if prefix else \
            spec.metadata.get("key", spec.name)
        out[key] = _default(cls, spec.name)
        inner, named = _nested(hints[spec.name])
        if inner is not None and inner is not StorageSettings:
            out.update(section_keys(inner, f"{key}.<metric>" if named else key))
    return out


def model_keys() -> dict[str, str]:
    fields = ModelConfig.__dataclass_fields__
    out = {key: _default(ModelConfig, key) if key in fields else "{}" for key in MODEL_KEYS}
    out["threshold"] = shown(BINARY_THRESHOLD)  # binary models; the others have none
    out.update({f"features.{key}": _default(ModelConfig, key) for key in FEATURE_KEYS})
    out.update({f"baseline.{key}": "null" for key in BASELINE_KEYS})
    for name, cls in SECTIONS.items():
        out.update(section_keys(cls, name))
    return out


def env_keys() -> dict[str, str]:
    keys = section_keys(EnvConfig, "")
    keys.pop("path")  # the file itself
    return keys


@pytest.fixture(scope="module")
def doc() -> dict[str, dict]:
    return parse(DOC.read_text())


@pytest.mark.parametrize("file, keys", [("model", model_keys), ("environment", env_keys)])
def test_every_key_is_documented_with_the_codes_default(doc, file, keys):
    expected, documented = keys(), doc[file]
    assert set(documented) == set(expected), (
        f"docs/configuration.md, {file} file: undocumented "
        f"{sorted(set(expected) - set(documented))}, not in the code "
        f"{sorted(set(documented) - set(expected))}")
    wrong = {k: (documented[k][1], expected[k]) for k in expected
             if documented[k][1] != expected[k]}
    assert not wrong, f"docs/configuration.md, {file} file: (documented, code) default {wrong}"


def test_the_drift_metrics_default_thresholds_are_the_codes(doc):
    meaning = doc["model"]["drift.thresholds"][2]
    for kind in DEFAULT_THRESHOLDS.values():
        for metric, value in kind.items():
            assert f"`{metric}` {shown(value)}" in meaning, (metric, value)


def test_the_reference_reads_the_defaults_the_loaders_give(tmp_path):
    """The derivation itself: an empty file's settings are the defaults listed."""
    from inferwatch.config import load_env
    from inferwatch.model_config import load_models

    (tmp_path / "m.yaml").write_text("model_id: m\nproblem_type: binary_classification\n")
    model = load_models(tmp_path)["m"]
    keys = model_keys()
    assert keys["drift.baseline"] == model.drift.baseline
    assert keys["alerts.clear_windows"] == str(model.alerts.clear_windows)
    assert keys["quality.max_duplicate_rate"] == shown(model.quality.max_duplicate_rate)
    assert keys["threshold"] == shown(model.threshold)
    env = load_env(tmp_path / "env.yaml", lake="lake")
    assert env == EnvConfig(path=tmp_path / "env.yaml")  # every default as its field's
    assert env_keys()["spark.shuffle_partitions"] == str(SparkSettings().shuffle_partitions)
