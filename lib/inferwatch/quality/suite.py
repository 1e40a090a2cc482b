"""Which expectations a model's hours are validated with, and suite files on disk.

A model description's `quality:` section (all keys optional; read into
`model_settings.QualitySettings` when the file loads, defaults there):

    quality:
      suite: suites/eta.yaml      # a reviewed suite file (from `inferwatch suggest`/`tune`),
                                  # relative to the model description's folder
      baseline: default           # the baseline a suite is suggested from when there is
                                  # no file (default: the one drift compares with)
      suggest: true               # false: no suggested suite, only `expectations`
      expectations: [...]         # GX specs added to the suite; one with the same type and
                                  # column as a suite expectation replaces it
      max_duplicate_rate: 0.05    # delivery signals (quality.signals)
      max_quarantine_rate: 0.05

With no `quality:` section at all, the hours are validated with the suite suggested from
the model's baseline, so a model is covered before anyone reviews a suite.
A suite file is JSON or YAML: a list of specs, or a mapping with `name` and
`expectations` (GX's own suite JSON has that shape).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import yaml

from inferwatch.config import ConfigError
from inferwatch.model_config import ModelConfig
from inferwatch.model_settings import check_expectations


def suite_path(model: ModelConfig) -> Path | None:
    """The reviewed suite file the model description names, if any."""
    name = model.quality.suite
    if not name:
        return None
    path = Path(name)
    return path if path.is_absolute() else model.path.parent / path


def suggest_from(model: ModelConfig) -> str | None:
    """The baseline to suggest a suite from; None when the description turns that off."""
    if not model.quality.suggest:
        return None
    from inferwatch.metrics.baseline import reference_name

    return model.quality.baseline or reference_name(model)


def _suggested(models: Mapping[str, ModelConfig]) -> dict[str, tuple[ModelConfig, str]]:
    """{model_id: (model, baseline name)} of the models whose suite is suggested (a model
    whose description cannot say is left to fail on its own turn)."""
    out = {}
    for model_id, model in models.items():
        try:
            name = None if suite_path(model) is not None else suggest_from(model)
        except Exception:  # noqa: BLE001 - its own turn says what is wrong
            continue
        if name is not None:
            out[model_id] = model, name
    return out


def rate_limits(model: ModelConfig) -> dict[str, float]:
    """The delivery rates above which an hour fails, by setting name (`quality.signals`)."""
    return {"max_duplicate_rate": model.quality.max_duplicate_rate,
            "max_quarantine_rate": model.quality.max_quarantine_rate}


def read_suite(path: Path) -> list[dict]:
    """The expectation specs of a suite file; a bad file is one ConfigError line."""
    if not path.is_file():
        raise ConfigError(path, "<file>", "an existing suite file (JSON or YAML)")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError, OSError) as err:
        raise ConfigError(path, "<file>", f"a readable JSON or YAML suite ({err})") from None
    specs = data.get("expectations") if isinstance(data, dict) else data
    return check_expectations(path, "expectations", specs)


def write_suite(path: Path, name: str, specs: list[dict]) -> None:
    """Write a suite file (JSON for .json, else YAML) a reviewer reads and commits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"name": name, "expectations": specs}
    if path.suffix == ".json":
        path.write_text(json.dumps(data, indent=2, default=float) + "\n", encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(json.loads(json.dumps(data, default=float)),
                                       sort_keys=False, width=100), encoding="utf-8")


def with_overrides(specs: list[dict], extra: list[dict]) -> list[dict]:
    """`specs` with each of `extra` replacing the spec of the same type and column, or
    appended."""
    def key(spec: dict) -> tuple:
        return spec["type"], (spec.get("kwargs") or {}).get("column")

    replaced = {key(s): s for s in extra}
    out = [replaced.pop(key(s), s) for s in specs]
    return out + [s for s in extra if key(s) in replaced]


def model_suite(lake, model: ModelConfig, fleet: Mapping[str, ModelConfig] | None = None
                ) -> tuple[str, list[dict]] | None:
    """(suite name, specs) the model's hours are validated with; None while it has none
    (no file, no baseline to suggest from, no expectations of its own). `fleet`: the
    models the caller asks next, whose suggested suites are then read in the same pass."""
    from inferwatch.quality.suggest import from_baseline

    extra = [dict(spec) for spec in model.quality.expectations]
    path = suite_path(model)
    if path is not None:
        return f"{model.model_id}.{path.stem}", with_overrides(read_suite(path), extra)
    baseline = suggest_from(model)
    specs = None if baseline is None else from_baseline(lake, model, baseline,
                                                        _suggested(fleet or {}))
    if specs is None and not extra:
        return None
    return f"{model.model_id}.suggested", with_overrides(specs or [], extra)
