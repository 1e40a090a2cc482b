"""The rules of `ingest.contract` applied to one row in plain Python (no Spark).

Parsing follows Spark's `try_cast` from a string, which the batch path uses, on what
producers send: a number is Java's decimal grammar (`1.5`, `-2e3`, `7d`) or one of Spark's
special literals (`NaN`, `inf`, `-Infinity`, any case); a timestamp is ISO 8601 (`T` or
space, optional fraction, a zone `Z`/`+hh:mm`/region only after the seconds; `2026-03`
and `2026-03-02` are midnight), zone-less meaning UTC, in the years 1-9999; a time with no
date is not a timestamp (Spark reads `10:15` as today: `ingest.rules.parsed` refuses it
too). Python numbers and datetimes skip the text round trip with the same result.
`tests/ingest/test_logger_rules.py` checks both paths against each other on the corpus.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from inferwatch.ingest import contract as c

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fFdD]?", re.ASCII)
_SPECIAL = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "infinity": math.inf,
            "+infinity": math.inf, "-inf": -math.inf, "-infinity": -math.inf}
_ZONE = r"Z|UTC|GMT|(?:UTC|GMT)?[+-]\d{1,2}(?::?\d{2})?|[A-Za-z_]+/[A-Za-z_]+"
_TIMESTAMP = re.compile(  # a zone only after the seconds, as Spark reads it
    r"([+-]?\d{4,})(?:-(\d{1,2})(?:-(\d{1,2})(?:[T ](\d{1,2})(?::(\d{1,2})(?::(\d{1,2})"
    rf"(?:\.(\d{{1,9}}))?\s*({_ZONE})?)?)?)?)?)?", re.ASCII)


def parse_double(text: str | None) -> float | None:
    if text is None:
        return None
    s = text.strip()
    special = _SPECIAL.get(s.lower())
    if special is not None:
        return special
    if not _NUMBER.fullmatch(s):
        return None
    return float(s.rstrip("fFdD"))


def parse_timestamp(text: str | None) -> datetime | None:
    """UTC-aware datetime, or None where Spark's try_cast gives null (or a year past 9999)."""
    if text is None:
        return None
    m = _TIMESTAMP.fullmatch(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    try:
        moment = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0),
                          int(minute or 0), int(second or 0),
                          int((fraction or "0")[:6].ljust(6, "0")), tzinfo=timezone.utc)
        return moment - _offset(zone, moment)
    except (ValueError, OverflowError, KeyError):
        return None


def _offset(zone: str | None, local: datetime) -> timedelta:
    if not zone or zone in ("Z", "UTC", "GMT"):
        return timedelta(0)
    if "/" in zone:  # a region: its offset at that local time
        from zoneinfo import ZoneInfo

        return ZoneInfo(zone).utcoffset(local.replace(tzinfo=None))
    zone = zone.removeprefix("UTC").removeprefix("GMT")
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = (digits[:-2], digits[-2:]) if len(digits) > 2 else (digits, "0")
    return sign * timedelta(hours=int(hours), minutes=int(minutes))


def as_double(value: Any) -> float | None:
    """`parse_double(as_text(value))`, without the text for a Python number."""
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return parse_double(value if isinstance(value, str) or value is None else c.as_text(value))


def as_timestamp(value: Any) -> datetime | None:
    """`parse_timestamp(as_text(value))`, without the text for a Python datetime."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.astimezone(timezone.utc)
    return parse_timestamp(value if isinstance(value, str) or value is None
                           else c.as_text(value))


TYPED = {"timestamp": as_timestamp, "double": as_double}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip(" ") == "")


def check_row(kind: str, row: Mapping[str, Any], owners: Mapping[str, Sequence[str]]
              ) -> tuple[dict[str, Any] | None, str | None]:
    """(typed row, None) for a row that breaks no rule, else (None, every reason joined by
    '; ' in the batch path's order). Values are what a file would carry as `as_text` of
    them; `owners`: numeric feature -> the models declaring it (`numeric_owners`)."""
    spec = c.KINDS[kind]
    found = [c.missing(col) for col in spec["required"] if _blank(row.get(col))]
    typed = spec["types"].keys() | owners.keys() | {"prediction", "label"}
    out = {k: v if v is None or type(v) is str or k in typed else c.as_text(v)
           for k, v in row.items()}  # the typed ones are parsed below
    for col, type_name in spec["types"].items():
        value = row.get(col)
        out[col] = parsed = TYPED[type_name](value)
        if value is not None and parsed is None:
            found.append(c.not_parsed(col, c.as_text(value), type_name))
    finite = "prediction" if kind == "inferences" else "label"
    number = out[finite] if finite in spec["types"] else as_double(row.get(finite))
    if number is not None and not math.isfinite(number):
        found.append(c.not_finite(finite, c.as_text(row[finite])))
    if kind == "labels":
        text = c.as_text(row.get("label"))
        out["label_class"] = None if number is not None or text is None else text.strip(" ")
        out["label"] = number
    else:
        model = row.get("model_id")
        for col, models in owners.items():
            value = row.get(col)
            out[col] = parsed = as_double(value)
            if value is not None and parsed is None and model in models:
                found.append(c.not_parsed(col, c.as_text(value), "double")
                             + c.numeric_feature(models))
    return (None, "; ".join(found)) if found else (out, None)
