"""A model's `quality:` section, typed (`inferwatch.quality.suite` says what each key
does; docs/configuration.md lists them)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferwatch.config import ConfigError
from inferwatch.model_settings.keys import NUMBER, setting

RATE = {"kind": NUMBER, "expected": "a rate between 0 and 1", "check": lambda v: 0 <= v <= 1}


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


@dataclass(frozen=True)
class QualitySettings:
    """`quality:`: which expectations a model's hours are validated with, and the
    delivery rates (`quality.signals`) above which an hour fails."""

    suite: str | None = setting(None, str)  # relative to the model file's folder
    baseline: str | None = setting(None, str)  # None: the baseline drift compares with
    suggest: bool = setting(True, bool)
    # the specs stay GX's own dicts: GX reads them as they are
    expectations: tuple[dict, ...] = setting((), read=lambda path, where, value: tuple(
        check_expectations(path, where, value)))
    max_duplicate_rate: float = setting(0.05, **RATE)
    max_quarantine_rate: float = setting(0.05, **RATE)
