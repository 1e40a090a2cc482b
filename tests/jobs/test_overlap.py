"""Day and week merges that overlap another writer of the hourly state: a merge whose
hourly state changed between its read and its replace is refused, reads again and ends
with the day the stored hours add up to; one that gets no quiet moment in
`MERGE_ATTEMPTS` gives up and writes nothing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pyspark.sql import functions as F

from inferwatch.lake.commit import ConcurrentWriteError
from inferwatch.lake.tables import Lake
from inferwatch.metrics import windows
from inferwatch.metrics.windows import Family, rollup_windows
from inferwatch.metrics.window_store import window_column
from tests.helpers import delta_frame

H1 = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
H2 = H1 + timedelta(hours=1)
DAY = datetime(2026, 3, 2, tzinfo=timezone.utc)


def _merge(states, granularity):
    return (states.groupBy("model_id", "slice_key",
                           window_column("window_start", granularity).alias("window_start"))
            .agg(F.sum("n").alias("n")))


# a family as small as they come: a count per hour, summed into days and weeks
COUNTS = Family("counts", _merge, lambda s: s.select("model_id", "granularity",
                                                     "window_start", "slice_key", "n"))


def _hourly(spark, counts: dict[datetime, int]):
    return spark.createDataFrame([("fraud", hour, "*", n) for hour, n in counts.items()],
                                 "model_id string, window_start timestamp, slice_key string, "
                                 "n long")


def _day(lake: Lake) -> list[int]:
    rows = delta_frame(lake.path("state/counts"))
    return rows[rows["granularity"] == "1d"]["n"].tolist()


@pytest.fixture()
def lake(spark, tmp_path):
    lake = Lake(spark, str(tmp_path / "lake"))
    windows.write_windows(lake, COUNTS, "fraud", [H1, H2], _hourly(spark, {H1: 1, H2: 1}))
    assert _day(lake) == [2]
    return lake


def _interfering(monkeypatch, lake, spark, times: int) -> list[int]:
    """After each of the next `times` reads of the hourly state, another writer (a
    profile run) replaces hour H2 with a new count; returns the counts written."""
    read = windows._stored_hourly
    written: list[int] = []

    def stored_then_changed(*args, **kwargs):
        found = read(*args, **kwargs)
        if len(written) < times:
            written.append(10 + len(written))
            monkeypatch.setattr(windows, "_stored_hourly", read)  # the writer reads too
            windows.write_windows(lake, COUNTS, "fraud", [H2],
                                  _hourly(spark, {H2: written[-1]}))
            monkeypatch.setattr(windows, "_stored_hourly", stored_then_changed)
        return found

    monkeypatch.setattr(windows, "_stored_hourly", stored_then_changed)
    return written


def test_a_day_merge_whose_hours_changed_before_its_replace_merges_again(
        spark, lake, monkeypatch):
    written = _interfering(monkeypatch, lake, spark, times=1)
    windows.write_rollups(lake, COUNTS, "fraud", rollup_windows([H1, H2]))
    assert written == [10]
    assert _day(lake) == [1 + 10]  # not 2, the day of the hours it first read
    metrics = delta_frame(lake.path("metrics/counts"))
    assert metrics[metrics["granularity"] == "1d"]["n"].tolist() == [11]
    assert metrics[metrics["granularity"] == "1w"]["n"].tolist() == [11]


def test_a_day_merge_that_never_gets_a_quiet_moment_gives_up(spark, lake, monkeypatch):
    monkeypatch.setattr(windows, "MERGE_ATTEMPTS", 1)  # each attempt is interfered with
    written = _interfering(monkeypatch, lake, spark, times=1)
    with pytest.raises(ConcurrentWriteError):
        windows.write_rollups(lake, COUNTS, "fraud", {"1d": [DAY]})
    assert written == [10]
    assert _day(lake) == [1 + 10]  # the other writer's day, not overwritten
