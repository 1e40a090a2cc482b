"""How windowed rows are filed in a table, and how a set of windows is replaced or read.

Every `state/` and `metrics/` table is partitioned by (model_id, granularity); rows are
filed by the span of their window's granularity (`Granularity.file_span`: the day of an
hour, the week of a day, the month of a week), and a replace rewrites only the files
whose `window_start` bounds (from the Delta log's stats) overlap the windows replaced, so
the cost follows the windows touched, not the history.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inferwatch.granularity import GRANULARITIES, unit_of, utc
from inferwatch.lake.files import DataFile
from inferwatch.lake.tables import Lake

PARTITION_BY = ["model_id", "granularity"]


def window_column(column: str | Column, unit: str) -> Column:
    """`granularity.truncate` as a Spark column (date_trunc's weeks start on Monday too);
    `unit` is a unit or a granularity name."""
    return F.date_trunc(unit_of(unit), column)


def replace_windows(lake: Lake, name: str, model_id: str, windows: dict[str, list[datetime]],
                    fresh: DataFrame, read_version: int | None = None,
                    watch: Iterable[str] = ()) -> int:
    """Make the (model_id, granularity, window_start) windows of table `name` hold exactly
    the rows of `fresh` (which has a `granularity` column), in one commit: one model's
    `replace_fleet_windows`."""
    return replace_fleet_windows(lake, name, {model_id: windows}, fresh, read_version, watch)


def replace_fleet_windows(lake: Lake, name: str, windows: dict[str, dict[str, list[datetime]]],
                          fresh: DataFrame, read_version: int | None = None,
                          watch: Iterable[str] = ()) -> int:
    """Make the windows of table `name` ({model_id: {granularity: [window_start]}}) hold
    exactly the rows of `fresh` (with `model_id` and `granularity` columns), in one commit
    for every model.

    Only the files whose `window_start` bounds overlap the windows are rewritten.
    `fresh` was computed from snapshot `read_version` (default: the latest): the commit
    is refused (ConcurrentWriteError) if another writer changed these models' partitions
    of these windows' granularities, or of the `watch` granularities, since.
    """
    table = lake.table(name)
    if not table.exists():
        table.create(fresh.schema, PARTITION_BY)
    read_version = table.version() if read_version is None else read_version
    parts = [{"model_id": m, "granularity": g} for m, by in windows.items() for g in by]
    guarded = parts + [{"model_id": m, "granularity": g} for m, by in windows.items()
                       for g in watch if g not in by]
    # one listing for every model and granularity
    listed = table.files(read_version, partitions=parts, stats=("window_start",))
    doomed = []
    for model_id, by in windows.items():
        for granularity, starts in by.items():
            points = [(w, w + timedelta(microseconds=1)) for w in starts]
            hit = [f for f in listed if f.partition["model_id"] == model_id
                   and f.partition["granularity"] == granularity and overlaps(f, points)]
            doomed += hit
    stale = lake.spark.createDataFrame(
        [(m, g, w) for m, by in windows.items() for g, starts in by.items() for w in starts],
        "model_id string, granularity string, window_start timestamp")
    kept = (table.read_files(doomed, read_version)
            .join(F.broadcast(stale), on=["model_id", "granularity", "window_start"],
                  how="left_anti"))
    return table.replace_files(kept.unionByName(fresh, allowMissingColumns=True), doomed,
                               guarded, read_version=read_version, spans=file_span())


def file_span() -> Column:
    """The start of the file span a row's window is filed by (`Granularity.file_span` of
    its `granularity`)."""
    named = F.col("granularity")
    first, *rest = GRANULARITIES.values()
    span = F.when(named == first.name, window_column("window_start", first.file_span))
    for g in rest:
        span = span.when(named == g.name, window_column("window_start", g.file_span))
    return span


def overlaps(data_file: DataFile, spans: list[tuple[datetime, datetime]],
             column: str = "window_start") -> bool:
    """Whether the file's `column` bounds (Delta stats) reach into any [start, end) span."""
    low, high = data_file.bounds.get(column, (None, None))
    if low is None or high is None:
        return True  # no stats: the file may hold any window
    low, high = utc(low), utc(high)
    return any(low < end and high >= start for start, end in spans)


def read_fleet_windows(lake: Lake, name: str, windows: dict[str, dict[str, list[datetime]]]
                       ) -> DataFrame | None:
    """The stored rows of table `name` for exactly these windows ({model_id: {granularity:
    [window_start]}}), from one listing, reading only files whose `window_start` bounds
    reach them; None when the table does not exist yet."""
    table = lake.table(name)
    if not table.exists():
        return None
    version = table.version()
    parts = [{"model_id": m, "granularity": g} for m, by in windows.items() for g in by if by[g]]
    listed = table.files(version, partitions=parts, stats=("window_start",))
    points = {(m, g): [(w, w + timedelta(microseconds=1)) for w in starts]
              for m, by in windows.items() for g, starts in by.items()}
    files = [f for f in listed
             if overlaps(f, points.get((f.partition["model_id"], f.partition["granularity"]), []))]
    keys = lake.spark.createDataFrame(
        [(m, g, w) for m, by in windows.items() for g, starts in by.items() for w in starts],
        "model_id string, granularity string, window_start timestamp")
    return table.read_files(files, version).join(
        F.broadcast(keys), on=["model_id", "granularity", "window_start"], how="left_semi")
