"""The rules of `ingest.contract` applied to one row in plain Python (no Spark).

Parsing follows Spark's `try_cast` from a string, which the batch path uses, on what
producers send: a number is Java's decimal grammar (`1.5`, `-2e3`, `7d`) or one of Spark's
special literals (`NaN`, `inf`, `-Infinity`, any case); a timestamp is ISO 8601 (`T` or
space, optional fraction and zone `Z`/`+hh:mm`/a region after the seconds; `2026-03` and `2026-03-02` are midnight),
zone-less meaning UTC, in the years 1-9999; a time with no date is not a timestamp (Spark
would read `10:15` as today: `ingest.rules.parsed` refuses it too). `tests/ingest/test_logger_rules.py` checks
both against each other on the bad-input corpus.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone

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


PARSERS = {"timestamp": parse_timestamp, "double": parse_double}


def _blank(text: str | None) -> bool:
    return text is None or text.strip(" ") == ""


def reasons(kind: str, row: Mapping[str, str | None],
            owners: Mapping[str, Sequence[str]]) -> str | None:
    """Every rule the text row breaks, joined by '; ' in the batch path's order; None when
    it breaks none. `owners`: numeric feature -> the models declaring it (`numeric_owners`)."""
    spec = c.KINDS[kind]
    found = [c.missing(col) for col in spec["required"] if _blank(row.get(col))]
    for col, type_name in spec["types"].items():
        text = row.get(col)
        if text is not None and PARSERS[type_name](text) is None:
            found.append(c.not_parsed(col, text, type_name))
    for col in ("prediction",) if kind == "inferences" else ("label",):
        value = parse_double(row.get(col))
        if value is not None and not math.isfinite(value):
            found.append(c.not_finite(col, row[col]))
    if kind == "inferences":
        model = row.get("model_id")
        for col, models in owners.items():
            text = row.get(col)
            if text is not None and model in models and parse_double(text) is None:
                found.append(c.not_parsed(col, text, "double") + c.numeric_feature(models))
    return "; ".join(found) or None


def typed(kind: str, row: Mapping[str, str | None], numeric: set[str]) -> dict:
    """A valid text row with its typed columns parsed (numeric features as floats)."""
    out = dict(row)
    for col, type_name in c.KINDS[kind]["types"].items():
        out[col] = PARSERS[type_name](row.get(col))
    if kind == "inferences":
        for col in numeric:
            out[col] = parse_double(row.get(col))
    else:
        number = parse_double(row.get("label"))
        out["label"] = number
        out["label_class"] = row["label"].strip(" ") if number is None else None
    return out
