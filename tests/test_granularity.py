"""The time vocabulary: windows in Python as Spark cuts them, one-line errors."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from inferwatch.errors import UnknownNameError
from inferwatch.granularity import (GRANULARITIES, NAMES, granularity, truncate, utc,
                                    window_end)

UTC = timezone.utc
# a Wednesday afternoon, and New Year's Day 2026 (a Thursday: its ISO week began in 2025)
MOMENTS = (datetime(2026, 3, 4, 13, 45, 7, 12, tzinfo=UTC),
           datetime(2026, 1, 1, 0, 30, tzinfo=UTC),
           datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC))


def test_names_in_order():
    assert NAMES == ("1h", "1d", "1w") == tuple(GRANULARITIES)
    assert [g.unit for g in GRANULARITIES.values()] == ["hour", "day", "week"]
    assert [g.file_span for g in GRANULARITIES.values()] == ["day", "week", "month"]


def test_unknown_name_is_one_line():
    with pytest.raises(UnknownNameError) as err:
        granularity("2h", where="alerts.anomaly.granularity")
    assert str(err.value) == ("unknown granularity '2h' in alerts.anomaly.granularity; "
                              "expected one of: 1d, 1h, 1w")


def test_truncate_hour_day_iso_week_month():
    wednesday = MOMENTS[0]
    assert truncate(wednesday, "1h") == datetime(2026, 3, 4, 13, tzinfo=UTC)
    assert truncate(wednesday, "day") == datetime(2026, 3, 4, tzinfo=UTC)
    assert granularity("1w").truncate(wednesday) == datetime(2026, 3, 2, tzinfo=UTC)
    assert truncate(wednesday, "month") == datetime(2026, 3, 1, tzinfo=UTC)
    assert truncate(MOMENTS[1], "1w") == datetime(2025, 12, 29, tzinfo=UTC)
    with pytest.raises(ValueError, match="expected a granularity"):
        truncate(wednesday, "D")


def test_window_end_and_previous():
    for g in GRANULARITIES.values():
        for moment in MOMENTS:
            start = g.truncate(moment)
            end = g.window_end(start)
            assert end == window_end(start, g.name) == start + g.step
            assert g.truncate(end) == end and g.previous(end) == start
            assert g.previous(start) == g.truncate(start - g.step)
    assert window_end(datetime(2026, 1, 1, tzinfo=UTC), "month") == datetime(2026, 2, 1,
                                                                              tzinfo=UTC)
    assert window_end(datetime(2025, 12, 1, tzinfo=UTC), "month") == datetime(2026, 1, 1,
                                                                              tzinfo=UTC)


def test_sql_interval_is_the_step():
    units = {"HOUR": timedelta(hours=1), "DAY": timedelta(days=1)}
    for g in GRANULARITIES.values():
        count, unit = re.fullmatch(r"INTERVAL (\d+) (HOUR|DAY)S?", g.sql_interval).groups()
        assert int(count) * units[unit] == g.step


def test_utc_assumes_utc_only_without_a_zone():
    assert utc(datetime(2026, 3, 4, 13)).tzinfo is UTC
    other = timezone(timedelta(hours=2))
    assert utc(datetime(2026, 3, 4, 13, tzinfo=other)).tzinfo is other


def test_spark_cuts_windows_as_truncate(spark):
    """`metrics.window_store.window_column` (date_trunc) agrees with `truncate` for every
    unit, weeks from Monday included."""
    from inferwatch.metrics.window_store import window_column

    frame = spark.createDataFrame([(m,) for m in MOMENTS], "t timestamp")
    units = [*NAMES, "month"]
    got = frame.select("t", *[window_column("t", u).alias(u) for u in units]).collect()
    assert {utc(row["t"]) for row in got} == set(MOMENTS)
    for row in got:
        for unit in units:
            assert utc(row[unit]) == truncate(utc(row["t"]), unit), (row["t"], unit)
