"""Time windows and the one way every metric family stores them.

A metric family (performance, fairness; later profile, drift, quality) is a `Family`:
a mergeable hourly *state*, a `merge` that adds states up into day and week windows, and
a `metrics` function that turns any state into the compact rows a user reads. The job
hands `write_windows` the fresh hourly state of the hours that changed; it

1. re-merges the days and weeks those hours fall in from the stored hourly state
   (`state/<family>`, the changed hours swapped for the fresh ones): never a rescan;
2. replaces those hours', days' and weeks' rows of `state/<family>` in one commit;
3. replaces the same windows of `metrics/<family>` in one commit.

How a table files and replaces windows is `metrics.window_store`; what a window is,
`inferwatch.granularity`. A kill between the two commits leaves metrics behind state for
those windows; the model's progress has not advanced, so the next run recomputes and
replaces both.

The `state/` replace is guarded by the version the hourly states were read at, watching
the model's hourly partition too: if another writer (a profile run and a rollup run at
the same time) changed the hourly state after this merge read it, the replace is refused
and the merge is done again from a fresh read, up to `MERGE_ATTEMPTS` times, so a day or
week is never written from hours that were already replaced.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.frames import materialized, release
from inferwatch.granularity import ROLLUPS, truncate, utc, window_end
from inferwatch.lake.commit import ConcurrentWriteError
from inferwatch.lake.jvm_text import select_text
from inferwatch.lake.sql_text import conformed, sql_ident
from inferwatch.lake.tables import Lake
from inferwatch.metrics.window_store import overlaps, replace_fleet_windows

log = logging.getLogger(__name__)

MERGE_ATTEMPTS = 4


def conform(states: DataFrame, schema: T.StructType) -> DataFrame:
    """Select `schema`'s columns in order, cast; columns `states` lacks are null."""
    return conformed(states, schema)


def union(frames: Sequence[DataFrame]) -> DataFrame:
    """The rows of every frame (by column name)."""
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


@dataclass(frozen=True)
class Family:
    """A metric family: `state/<name>` and `metrics/<name>` and how one becomes the other.

    `merge(states, granularity)` adds states up into "1d" or "1w" windows (associative);
    `metrics(states)` turns states (with a `granularity` column) into the compact rows.
    """

    name: str
    merge: Callable[[DataFrame, str], DataFrame]
    metrics: Callable[[DataFrame], DataFrame]

    @property
    def state_table(self) -> str:
        return f"state/{self.name}"

    @property
    def metrics_table(self) -> str:
        return f"metrics/{self.name}"


def write_windows(lake: Lake, family: Family, model_id: str, changed: Iterable[datetime],
                  hourly: DataFrame) -> dict[str, int]:
    """Replace the changed hours and their days and weeks in `state/` and `metrics/`:
    one model's `write_fleet_windows`."""
    return write_fleet_windows(lake, family, {model_id: changed}, hourly)


def write_fleet_windows(lake: Lake, family: Family, changed: Mapping[str, Iterable[datetime]],
                        hourly: DataFrame) -> dict[str, int]:
    """Replace every model's changed hours ({model_id: hours}) and their days and weeks
    in `state/` and `metrics/`, one commit per table for all of them.

    `hourly` is the fresh state of exactly the changed hours (a `model_id` column tells
    the models apart). Returns the two tables' new versions.
    """
    hours = {m: sorted({utc(h) for h in hs}) for m, hs in changed.items()}
    hours = {m: hs for m, hs in hours.items() if hs}
    if not hours:
        return {}
    windows = {m: {"1h": hs, **rollup_windows(hs)} for m, hs in hours.items()}
    stale = hourly.sparkSession.createDataFrame(
        [(m, h) for m, hs in hours.items() for h in hs],
        "model_id string, window_start timestamp")

    def attempt() -> dict[str, int]:
        version, stored = _stored_hourly(lake.table(family.state_table),
                                         {m: w["1w"] for m, w in windows.items()},
                                         hourly.columns)
        base = hourly if stored is None else stored.join(
            F.broadcast(stale), on=["model_id", "window_start"],
            how="left_anti").unionByName(hourly)
        return _write(lake, family, windows, base,
                      hourly.withColumn("granularity", F.lit("1h")), version)

    return _retried(attempt, family.state_table, ", ".join(sorted(hours)))


def rollup_windows(hours: Iterable[datetime]) -> dict[str, list[datetime]]:
    """{"1d": the days, "1w": the ISO weeks} that `hours` fall in."""
    return {g: sorted({truncate(utc(h), g) for h in hours}) for g in ROLLUPS}


def write_rollups(lake: Lake, family: Family, model_id: str,
                  windows: dict[str, list[datetime]]) -> dict[str, int]:
    """Merge the day and week `windows` again from the stored hourly state of `model_id`
    and replace them in `state/` and `metrics/` (a window with no hourly state left is
    emptied). Nothing is written for a model with no state."""
    table = lake.table(family.state_table)
    if not table.exists() or not any(windows.values()):
        return {}
    weeks = sorted({truncate(w, "1w") for starts in windows.values() for w in starts})

    def attempt() -> dict[str, int]:
        version, stored = _stored_hourly(table, {model_id: weeks}, None)
        return _write(lake, family, {model_id: windows}, stored, None, version)

    return _retried(attempt, family.state_table, model_id)


def _retried(attempt: Callable[[], dict[str, int]], name: str, models: str
             ) -> dict[str, int]:
    """`attempt()`, made again (it reads the hourly state afresh) while its replace is
    refused because another writer changed what it read; at most MERGE_ATTEMPTS times."""
    for number in range(1, MERGE_ATTEMPTS + 1):
        try:
            return attempt()
        except ConcurrentWriteError as err:
            if number == MERGE_ATTEMPTS:
                raise
            log.info("%s %s: the hourly state changed while it was merged; merging again "
                     "(%s)", name, models, err)
    raise AssertionError("unreachable")


def _write(lake: Lake, family: Family, windows: dict[str, dict[str, list[datetime]]],
           base: DataFrame, fresh_hours: DataFrame | None, read_version: int | None
           ) -> dict[str, int]:
    """Merge `base` (hourly states read at `read_version` of the state table) into the
    days and weeks of `windows` ({model_id: {granularity: [window_start]}}) and replace
    the windows (with `fresh_hours` as the "1h" rows) in both tables, each in one commit;
    the state replace is refused if these models' hourly state changed after
    `read_version`."""
    states = [] if fresh_hours is None else [fresh_hours]
    # weeks merge the merged days (7 states per key, not 168): merges are associative
    rollups = any(by.get(g) for by in windows.values() for g in ROLLUPS)
    stored: list[DataFrame] = []  # released however the write ends
    try:
        days = materialized(family.merge(base, "1d")) if rollups else None
        stored += [days] if days is not None else []
        for granularity in ROLLUPS:
            keys = [(m, w) for m, by in windows.items() for w in by.get(granularity, ())]
            if not keys:
                continue
            wanted = lake.spark.createDataFrame(keys, "model_id string, window_start timestamp")
            merged = days if granularity == "1d" else family.merge(days, granularity)
            states.append(merged.join(F.broadcast(wanted), on=["model_id", "window_start"],
                                      how="left_semi")
                          .withColumn("granularity", F.lit(granularity)))
        fresh = materialized(union(states))
        stored.append(fresh)
        # computed once: the write's range partitioning samples its input before it
        # writes it, and a family's metrics (AUC sweeps, sketch quantiles) cost more
        # than the rows
        metrics = materialized(family.metrics(fresh))
        stored.append(metrics)
        return {
            family.state_table: replace_fleet_windows(lake, family.state_table, windows, fresh,
                                                      read_version, watch=("1h",)),
            family.metrics_table: replace_fleet_windows(lake, family.metrics_table, windows,
                                                        metrics),
        }
    finally:
        for frame in stored:
            release(frame)


def _stored_hourly(table, weeks: Mapping[str, list[datetime]], columns: list[str] | None
                   ) -> tuple[int | None, DataFrame | None]:
    """The version read and the stored hourly states of each model in its ISO `weeks`
    ({model_id: [week]}; files pruned by their `window_start` bounds); (None, None) when
    the table does not exist."""
    if not table.exists():
        return None, None
    version = table.version()
    hourly = table.files(version, partitions=[{"model_id": m, "granularity": "1h"}
                                              for m in weeks], stats=("window_start",))
    spans = {m: [(w, window_end(w, "1w")) for w in ws] for m, ws in weeks.items()}
    files = [f for f in hourly if overlaps(f, spans[f.partition["model_id"]])]
    stored = table.read_files(files, version)
    if columns is None:
        columns = [c for c in stored.columns if c != "granularity"]
    since = table.spark.createDataFrame([(m, min(ws)) for m, ws in weeks.items()],
                                        "model_id string, _since timestamp")
    return version, select_text(stored.join(F.broadcast(since), on="model_id")
                                .where("window_start >= _since"), [sql_ident(c) for c in columns])
