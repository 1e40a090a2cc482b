"""What a raw row must be, with no Spark: the one rule set of every way rows arrive.

The batch ingest (`ingest.batch`, which compiles these rules to Spark columns in
`ingest.rules`) and the serving-side logger (`inferwatch.log`, which applies them row by
row in `ingest.check`) take their columns, types and the wording of every quarantine
reason from here, so the same bad row gets the same reason whichever way it arrived. Both
refuse the column names a raw table cannot hold (`unsafe_names`) with the same words.

A row is checked as text, as a file delivers it: `as_text` turns an in-process value into
the text a file would hold (ISO timestamps, JSON for nested values, `NaN`/`Infinity`).
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

# kind -> table, required and optional columns, and the types of the typed ones
KINDS: dict[str, dict[str, Any]] = {
    "inferences": {
        "table": "raw/inferences",
        "required": ("inference_id", "model_id", "ts", "prediction"),
        "types": {"ts": "timestamp", "prediction": "double"},
        "optional": ("model_version", "prediction_label"),
    },
    "labels": {
        "table": "raw/labels",
        "required": ("inference_id", "label", "label_ts"),
        "types": {"label_ts": "timestamp", "inference_ts": "timestamp"},
        "optional": ("model_id", "inference_ts"),
    },
}
# Spark reads a column named "a.b" as field b of a struct a and a backtick as the end of a
# quoted name: a raw table holding such a column fails every job that selects by name
UNSAFE_NAME = (".", "`")
_UNSAFE = re.compile("|".join(map(re.escape, UNSAFE_NAME)))  # the logger checks every row
WHAT = {"timestamp": "a timestamp", "double": "a number"}
SHOWN_CHARS = 60  # of a value quoted in a reason
VALUE = "\0"  # stands for the quoted value in a reason template (`split_reason`)


def unsafe_names(columns: Iterable[str]) -> list[str]:
    """The names among `columns` that a raw table must not hold (`UNSAFE_NAME`)."""
    names = list(columns)
    try:
        text = "".join(names)
    except TypeError:  # a name that is no string (a logged dict's key)
        text = "".join(map(str, names))
    if not _UNSAFE.search(text):  # the common case, in one call
        return []
    return [c for c in names if _UNSAFE.search(str(c))]


def unsafe_names_refused(names: Sequence[str]) -> str:
    """Why rows with the columns `names` (from `unsafe_names`) are refused."""
    return f"column names with '.' or '`' are not supported {list(names)}; rename them"


def missing(column: str) -> str:
    return f"missing {column}"


def not_parsed(column: str, text: str, type_name: str) -> str:
    return f"{column} '{text[:SHOWN_CHARS]}' is not {WHAT.get(type_name, type_name)}"


def not_finite(column: str, text: str) -> str:
    return f"{column} '{text}' is not a finite number"


def numeric_feature(owners: Sequence[str]) -> str:
    return f" (a numeric feature of {', '.join(owners)})"


def split_reason(template: str) -> tuple[str, str]:
    """The text before and after the value of a reason built with `VALUE` as the value."""
    before, _, after = template.partition(VALUE)
    return before, after


def numeric_owners(models: Mapping[str, Any], columns: Iterable[str]) -> dict[str, list[str]]:
    """Each present column some model declares numeric -> those models, sorted."""
    present = set(columns)
    owners: dict[str, list[str]] = {}
    for model in models.values():
        for column in model.numeric:
            if column in present:
                owners.setdefault(column, []).append(model.model_id)
    return {c: sorted(owners[c]) for c in sorted(owners)}


def as_text(value: Any) -> str | None:
    """An in-process value as the text a file would carry (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if hasattr(value, "dtype") and hasattr(value, "item"):  # a numpy scalar: its Python
        value = value.item()                                 # value (repr is np.float64(..))
        if value is None:
            return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, (datetime, date)) or hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str, separators=(",", ":"))
    return str(value)


def records(data: Any) -> list[dict[str, Any]]:
    """In-process records as dicts: an iterable of mappings, a pandas DataFrame (NaN and
    None are missing, as pandas means them) or an Arrow table or record batch."""
    if hasattr(data, "to_pylist"):
        return data.to_pylist()
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        return data.astype(object).where(data.notna(), None).to_dict("records")
    return [dict(row) for row in data]


def text_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, str | None]]:
    """Rows with every value as the text a file would carry (`as_text`)."""
    return [{str(k): as_text(v) for k, v in row.items()} for row in rows]
