"""How a settings section of a model file is read: each key a field of a frozen
dataclass, its default the field's default, its check in the field's metadata.

A section is refused at load on its first mistake, as one `ConfigError` line naming the
file and the key (`drift.threshold`, `alerts.anomaly[1].z`): an unknown key, a value of
the wrong YAML type, or one out of range. A key given as `null` takes its default, as
everywhere in the configuration (`config.typed`).

    @dataclass(frozen=True)
    class Example:
        z: float = setting(4.0, NUMBER, "a number > 0", lambda v: v > 0)

    parse_section(Example, path, "alerts.anomaly", {"z": 3}).z == 3.0
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from inferwatch.config import ConfigError, kind_names, of_kind

NUMBER = (int, float)
S = TypeVar("S")
# a reader of one key's value: (file, key as the error names it, value) -> typed value
Reader = Callable[[Path, str, Any], Any]


def setting(default: Any, kind: type | tuple[type, ...] | None = None, expected: str = "",
            check: Callable[[Any], bool] | None = None, read: Reader | None = None,
            factory: Callable[[], Any] | None = None) -> Any:
    """A settings field: `default` (or `factory()` for a mapping or a section), the YAML
    type a file gives (`kind`), what `check` accepts as `expected` says it, or a `read`
    function for a key with its own shape (a mapping of metrics, a nested section)."""
    meta = {"kind": kind, "expected": expected, "check": check, "read": read}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def parse_section(cls: type[S], path: Path, where: str, data: Any) -> S:
    """`data` (a section as YAML gave it, or None) checked key by key into a `cls`."""
    if isinstance(data, cls):
        return data  # already parsed (a ModelConfig rebuilt by dataclasses.replace)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(path, where, "a mapping of settings", data)
    known = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in data.items():
        name = f"{where}.{key}"
        if key not in known:
            raise ConfigError(path, name, f"one of {', '.join(known)}", key)
        if value is not None:
            values[key] = read_value(path, name, known[key].metadata, value)
    return cls(**values)


def read_value(path: Path, name: str, meta: Mapping[str, Any], value: Any) -> Any:
    """One key's value checked by its field's metadata (`setting`)."""
    if meta.get("read") is not None:
        return meta["read"](path, name, value)
    kind, expected = meta["kind"], meta.get("expected")
    if not of_kind(value, kind) or (meta.get("check") and not meta["check"](value)):
        raise ConfigError(path, name, expected or kind_names(kind), value)
    # YAML writes 1 for 1.0: a number setting is always a float to the jobs
    return float(value) if kind == NUMBER else value


def mapping_of(read: Reader, names: tuple[str, ...] | None = None,
               what: str = "a mapping") -> Reader:
    """A reader of a mapping whose keys are names (`names` when the set is closed, say
    metrics or alert kinds) and whose values `read` reads, into a read-only mapping."""
    def read_mapping(path: Path, where: str, value: Any) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise ConfigError(path, where, what, value)
        out = {}
        for key, item in value.items():
            if names is not None and key not in names:
                raise ConfigError(path, f"{where}.{key}", f"one of {', '.join(names)}", key)
            out[str(key)] = read(path, f"{where}.{key}", item)
        return MappingProxyType(out)
    return read_mapping


def checked(kind: type | tuple[type, ...], expected: str,
            check: Callable[[Any], bool] | None = None) -> Reader:
    """A reader of one plain value (for `mapping_of`): its type, then its range."""
    meta = {"kind": kind, "expected": expected, "check": check}
    return lambda path, where, value: read_value(path, where, meta, value)


def frozen(mapping: Mapping[str, Any]) -> Callable[[], Mapping[str, Any]]:
    """A default factory for a mapping setting: each instance gets a read-only copy."""
    return lambda: MappingProxyType(dict(mapping))
