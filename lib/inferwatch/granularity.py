"""The time vocabulary: what "1h", "1d" and "1w" mean, written once (stdlib only).

A metric window is an hour ("1h"), a day ("1d") or an ISO week from Monday ("1w"), all
in UTC. Each granularity names the unit Spark's `date_trunc` takes for it, its step, the
SQL interval of that step, and the span its rows are filed by in the lake (a day of hours,
a week of days, a month of weeks), so replacing a window rewrites one file span. Spark
code (`metrics.windows.window_column`) and the pandas readers (report, alerts, explain)
both take their vocabulary from here; nothing here imports Spark, so `inferwatch
explain`, `show` and `report` run without it.

    >>> g = granularity("1d")
    >>> g.truncate(datetime(2026, 3, 3, 8, 30)), g.window_end(datetime(2026, 3, 3))
    (datetime.datetime(2026, 3, 3, 0, 0), datetime.datetime(2026, 3, 4, 0, 0))
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from inferwatch.errors import UnknownNameError

# the units `truncate` knows: the three window units and the month (a span of weekly files)
UNITS = ("hour", "day", "week", "month")


@dataclass(frozen=True)
class Granularity:
    """One window size: `name` as stored in the `granularity` column, `unit` as Spark's
    `date_trunc` (and `truncate`) takes it, `step` the window's length, `file_span` the
    unit its rows are filed by, `sql_interval` the step as Spark SQL writes it."""

    name: str
    unit: str
    step: timedelta
    file_span: str
    sql_interval: str

    def truncate(self, moment: datetime) -> datetime:
        """The start of the window holding `moment`."""
        return truncate(moment, self.unit)

    def window_end(self, start: datetime) -> datetime:
        """The end (exclusive) of the window starting at `start`: the next one's start."""
        return start + self.step

    def previous(self, start: datetime) -> datetime:
        """The start of the window before the one at `start`."""
        return truncate(start - timedelta(microseconds=1), self.unit)


GRANULARITIES: dict[str, Granularity] = {g.name: g for g in (
    Granularity("1h", "hour", timedelta(hours=1), "day", "INTERVAL 1 HOUR"),
    Granularity("1d", "day", timedelta(days=1), "week", "INTERVAL 1 DAY"),
    Granularity("1w", "week", timedelta(days=7), "month", "INTERVAL 7 DAYS"),
)}
NAMES = tuple(GRANULARITIES)
# the unit each granularity's rows are filed by ("1h" -> "day")
FILE_SPAN = {g.name: g.file_span for g in GRANULARITIES.values()}
# the granularities merged from the hourly state (days from hours, weeks from days)
ROLLUPS = ("1d", "1w")


def granularity(name: str, where: str = "") -> Granularity:
    """The granularity called `name`; an unknown name is a one-line `UnknownNameError`."""
    if name not in GRANULARITIES:
        raise UnknownNameError("granularity", str(name), NAMES, where)
    return GRANULARITIES[name]


def check_granularity(name: str, allowed: Iterable[str] = ROLLUPS) -> str:
    """`name`, if it is one of `allowed` (by default the rollups a merge can build)."""
    allowed = tuple(allowed)
    if name not in allowed:
        raise ValueError(f"granularity must be one of {list(allowed)}, got {name!r}")
    return name


def unit_of(name_or_unit: str) -> str:
    """The truncation unit of a granularity name ("1d" -> "day"); a unit stays itself."""
    found = GRANULARITIES.get(name_or_unit)
    if found is not None:
        return found.unit
    if name_or_unit not in UNITS:
        raise ValueError(f"expected a granularity ({', '.join(NAMES)}) or a unit "
                         f"({', '.join(UNITS)}), got {name_or_unit!r}")
    return name_or_unit


def truncate(moment: datetime, unit: str) -> datetime:
    """The start of the hour, day, ISO week (Monday) or month holding `moment`; `unit` is a
    unit or a granularity name. `metrics.windows.window_column` is the same rule in Spark
    (date_trunc's weeks start on Monday too; tests hold the two equal)."""
    unit = unit_of(unit)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if unit == "month" else day


def window_end(start: datetime, unit: str) -> datetime:
    """The end (exclusive) of the window of `unit` (a unit or a granularity name) that
    starts at `start`; a month ends where the next one starts."""
    unit = unit_of(unit)
    if unit == "month":
        return truncate(start + timedelta(days=32), "month")
    return start + {g.unit: g.step for g in GRANULARITIES.values()}[unit]


def utc(moment: datetime) -> datetime:
    """`moment` with UTC as its zone when it has none (every time in the lake is UTC)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
