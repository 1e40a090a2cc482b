"""File-level helpers of the lake layer: filesystems, partition values, Parquet stats.

Everything here runs on the driver and touches only file listings and Parquet footers,
never row data.
"""
from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# Delta stats truncate long strings: a prefix is a lower bound; a prefix followed by the
# largest code point is an upper bound of every string that starts with that prefix.
MAX_STAT_STRING = 32
MAX_CHAR = "\U0010ffff"


def normalize_uri(uri: str) -> str:
    """Absolute form of a table location: local paths become absolute, URIs stay."""
    if "://" in uri or uri.startswith("file:"):
        return uri.rstrip("/")
    return os.path.abspath(uri)


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path inside it for a location, with the object-store
    settings of the environment (`lake.storage`, the one place that builds them)."""
    from inferwatch.lake.storage import arrow_filesystem, settings_from

    return arrow_filesystem(settings_from(None), uri)


@dataclass(frozen=True)
class DataFile:
    path: str  # relative to the table root, as the folder names are on disk
    size: int
    num_records: int | None
    partition: dict[str, Any]  # typed values
    # column -> (min, max) from the Delta log's stats; absent or None when unknown
    bounds: dict[str, tuple[Any, Any]] = field(default_factory=dict, compare=False)


def hive_unescape(segment: str) -> str:
    """Undo Spark's/Hive's escaping of a partition directory value (`%3A` → `:`)."""
    return unquote(segment)


def spark_unescape(segment: str) -> str:
    """A folder value as Spark's partition discovery decodes it.

    Spark turns each `%XX` into one character, so %-escaped UTF-8 (delta-rs' folder
    names for non-ASCII values) comes out garbled: `%C3%BC` is `Ã¼`, not `ü`.
    """
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), segment)


def hive_values(relative: str,
                unescape: Callable[[str], str] = hive_unescape) -> dict[str, str | None]:
    """Partition values spelled by the `key=value` folders of a file path."""
    values: dict[str, str | None] = {}
    for segment in relative.split("/")[:-1]:
        if "=" in segment:
            key, _, raw = segment.partition("=")
            text = unescape(raw)
            values[unescape(key)] = None if text == HIVE_NULL else text
    return values


def format_partition_value(value: Any) -> str | None:
    """The Delta protocol's string form of a partition value.

    Timestamps are UTC in the protocol's `{date} {time}.{microsecond}` form, always with
    the microseconds, exactly as delta-rs writes them, so that one hour written by either
    lands in one folder. An empty string is null, as in Hive, Spark and delta-rs.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_partition_value(text: str | None, type_name: str) -> Any:
    """Typed Python value of a Delta partition string for a column of `type_name`."""
    if text is None or text == HIVE_NULL or text == "":
        return None
    if type_name == "timestamp":
        text = text.replace("T", " ").rstrip("Z")
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed
    if type_name == "date":
        return date.fromisoformat(text)
    if type_name in ("integer", "long", "short", "byte"):
        return int(text)
    if type_name in ("double", "float"):
        return float(text)
    if type_name == "boolean":
        return text.lower() == "true"
    return text


def logged_partition(action: Mapping[str, Any], columns: Sequence[str],
                     types: Mapping[str, str]) -> dict[str, Any]:
    """Typed partition values of a log add or remove action (`types`: column -> type)."""
    raw = action.get("partitionValues") or {}
    return {c: parse_partition_value(raw.get(c), types[c]) for c in columns}


def escape_partition_value(value: str | None) -> str:
    """Folder form of a partition value: nulls as Hive's marker, the rest %-escaped."""
    return HIVE_NULL if value is None else quote(value, safe="")


def _stat_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes | bool):
        return None
    if isinstance(value, Decimal):
        # JSON has no exact decimal; a float bound rounded the wrong way would let a
        # reader skip a file holding matching rows, so decimals get no bounds.
        return None
    return value


def parquet_stats(fs: pafs.FileSystem, path: str) -> tuple[int, str]:
    """Record count and Delta stats JSON (min/max/nullCount) read from a file's footer."""
    with fs.open_input_file(path) as handle:
        meta = pq.ParquetFile(handle).metadata
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    unknown: set[str] = set()
    for group in range(meta.num_row_groups):
        row_group = meta.row_group(group)
        for index in range(row_group.num_columns):
            column = row_group.column(index)
            name = column.path_in_schema
            if "." in name:  # nested fields: no stats, readers then just do not skip
                continue
            stats = column.statistics
            if stats is None or not stats.has_null_count:
                unknown.add(name)
                continue
            nulls[name] = nulls.get(name, 0) + stats.null_count
            if not stats.has_min_max:
                mins.setdefault(name, None)
                maxs.setdefault(name, None)
                continue
            try:
                low, high = _stat_value(stats.min), _stat_value(stats.max)
            except pa.ArrowNotImplementedError:  # e.g. Spark's decimals stored as INT64
                low = high = None
            if isinstance(low, str) and len(low) > MAX_STAT_STRING:
                low = low[:MAX_STAT_STRING]
            if isinstance(high, str) and len(high) > MAX_STAT_STRING:
                high = high[:MAX_STAT_STRING] + MAX_CHAR
            mins[name] = _merge(mins, name, low, min)
            maxs[name] = _merge(maxs, name, high, max)
    stats_json = {
        "numRecords": meta.num_rows,
        "minValues": {k: v for k, v in mins.items() if v is not None and k not in unknown},
        "maxValues": {k: v for k, v in maxs.items() if v is not None and k not in unknown},
        "nullCount": {k: v for k, v in nulls.items() if k not in unknown},
    }
    return meta.num_rows, json.dumps(stats_json)


def _merge(seen: dict[str, Any], name: str, value: Any, pick) -> Any:
    if name not in seen:
        return value
    if seen[name] is None or value is None:
        return None  # one row group without a bound: no bound for the file
    return pick(seen[name], value)
