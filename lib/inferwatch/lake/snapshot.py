"""A table's snapshots and file listings (the read half of `Table`; no Spark session needed).

One delta-rs snapshot is kept per table and brought forward incrementally; listings are
pruned in Arrow before anything becomes a Python object; incremental readers learn what
changed from the log's data-changing actions (`Committer._data_changes`).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError
from pyspark.sql import types as T

from inferwatch.lake import files as lf
from inferwatch.lake.files import DataFile
from inferwatch.lake.protocol import check_readable, unreadable
from inferwatch.lake.schema import to_spark

log = logging.getLogger(__name__)
Partition = Mapping[str, Any]


class Snapshots:
    """Mixed into `Table`: needs `uri`, `name`, `options`, `_snapshot`, `_data_changes`
    (from `Committer`)."""

    APPLIED: frozenset[str] = frozenset()  # reader features the reader applies itself

    def exists(self) -> bool:
        return self._snapshot is not None or DeltaTable.is_deltatable(self.uri, self.options)

    def delta(self, version: int | None = None) -> DeltaTable:
        """The snapshot at `version` (latest when None).

        One snapshot is kept per table and brought forward incrementally (only the new
        log entries are read), so an operation pays for loading the table's files once,
        not once per call; an older version is loaded on its own and not kept.
        """
        snap = self._snapshot
        try:
            if snap is None:
                snap = self._open(version)
                if version is None:
                    self._snapshot = snap
            elif version is None:
                snap.update_incremental()
            elif version > snap.version():
                snap.load_as_version(version)
            elif version < snap.version():
                snap = self._open(version)
        except TableNotFoundError as err:
            said = " ".join(str(err).split())[:200]  # one line: delta-rs's spans several
            raise TableNotFoundError(f"no Delta table at {self.uri} ({self.name}): {said}") \
                from err
        except DeltaError as err:  # a protocol newer than delta-rs: one line naming the table
            refused = unreadable(err, self.name, self.uri)
            if refused is None:
                raise
            raise refused from err
        check_readable(snap, self.name, self.uri, self.APPLIED)
        return snap

    def _open(self, version: int | None) -> DeltaTable:
        return DeltaTable(self.uri, version=version, storage_options=self.options)

    def version_at(self, moment: datetime) -> int:
        """The version that was current at `moment` (time travel by timestamp): the last
        commit made at or before it. Raises ValueError when the table is younger."""
        moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        millis = moment.timestamp() * 1000
        best = None
        for entry in self.delta().history():
            if entry.get("timestamp", 0) <= millis and (best is None or entry["version"] > best):
                best = entry["version"]
        if best is None:
            raise ValueError(f"{self.name}: no version at or before {moment.isoformat()} "
                             f"(or the log of that time is past its retention)")
        return int(best)

    def version(self) -> int:
        return self.delta().version()

    def schema(self, version: int | None = None) -> T.StructType:
        return to_spark(self.delta(version).schema())

    def partition_columns(self) -> list[str]:
        return list(self.delta().metadata().partition_columns)

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        return self.delta().history(limit)

    def txn_version(self, app_id: str) -> int | None:
        """Last version an idempotent writer (`txn=(app_id, version)`) committed, if any."""
        return self.delta().transaction_version(app_id)

    def files(self, version: int | None = None, partitions: Iterable[Partition] | None = None,
              where: Callable[[dict[str, Any]], bool] | None = None,
              stats: Sequence[str] | None = None) -> list[DataFile]:
        """The snapshot's data files, pruned to `partitions` (exact values) and `where`,
        with the min/max bounds of the `stats` columns (all columns when None)."""
        return self._files(self.delta(version), partitions, where, stats)

    def _files(self, dt: DeltaTable, partitions, where,
               stats: Sequence[str] | None = None,
               equal: Mapping[str, Any] | None = None) -> list[DataFile]:
        """`files` of the snapshot `dt` (`equal`: column=value pairs every file's partition
        has, a prefilter in Arrow; `where` makes the exact check)."""
        # Pruned in Arrow first: only the matching files' wanted columns become Python.
        actions = pa.table(dt.get_add_actions(flatten=True))
        part_cols = list(dt.metadata().partition_columns)
        wanted = None
        if partitions is not None:
            partitions = list(partitions)
            wanted = {self._key(p, part_cols) for p in partitions}
            if not wanted or actions.num_rows == 0:
                return []
            actions = _prefilter(actions, part_cols, partitions)
        if equal:
            actions = _prefilter(actions, list(equal), [equal])
        if actions.num_rows == 0:
            return []
        have = set(actions.column_names)
        columns = [n[4:] for n in actions.column_names if n.startswith("min.")]
        if stats is not None:
            columns = [c for c in columns if c in set(stats)]
        keep = ["path", "size_bytes", "num_records", *(f"partition.{c}" for c in part_cols),
                *(f"{k}.{c}" for c in columns for k in ("min", "max") if f"{k}.{c}" in have)]
        out = []
        for row in actions.select([k for k in keep if k in have]).to_pylist():
            values = {c: row.get(f"partition.{c}") for c in part_cols}
            if wanted is not None and self._key(values, part_cols) not in wanted:
                continue
            if where is not None and not where(values):
                continue
            bounds = {c: (row.get("min." + c), row.get("max." + c)) for c in columns}
            out.append(DataFile(lf.hive_unescape(row["path"]), row["size_bytes"],
                                row.get("num_records"), values, bounds))
        return out

    @staticmethod
    def _key(partition: Partition, columns: Sequence[str]) -> tuple:
        unknown = set(partition) - set(columns)
        if unknown:
            raise ValueError(f"not partition columns: {sorted(unknown)} (table has {columns})")
        missing = [c for c in columns if c not in partition]
        if missing:  # a partial key would silently mean "null" for the missing columns
            raise ValueError(f"partition {partition} lacks partition columns {missing} "
                             f"(table has {columns}; give None for a null value)")
        return tuple(lf.format_partition_value(partition.get(c)) for c in columns)

    def partitions(self, version: int | None = None, **equal: Any) -> list[dict[str, Any]]:
        """The snapshot's distinct partitions; `equal` (column=value) keeps those with
        these values, cut down in Arrow first (`partitions(model_id="fraud")`)."""
        seen: dict[tuple, dict[str, Any]] = {}
        dt = self.delta(version)
        where = None
        if equal:
            wanted = {c: lf.format_partition_value(v) for c, v in equal.items()}
            where = lambda values: all(  # noqa: E731
                lf.format_partition_value(values[c]) == v for c, v in wanted.items())
        for f in self._files(dt, None, where, stats=(), equal=equal):
            seen.setdefault(tuple(sorted(f.partition.items(), key=lambda kv: kv[0])), f.partition)
        return list(seen.values())

    def added_files(self, since_version: int | None,
                    version: int | None = None) -> list[DataFile]:
        """Every file added with new data in versions (`since_version`, `version`] (the
        whole snapshot when `since_version` is None), as Delta streaming reads a table.

        The files come from the log's `dataChange=true` add actions, not from the latest
        snapshot: rows that a compaction (`dataChange=false`) has since rewritten into
        another file are read from the file they were added in, which stays on storage
        until vacuum. A file that a later data-changing remove took out (a delete) is
        skipped. A file the range added that is gone from storage (compacted, then
        vacuumed, before this reader came) raises `LostInputError`: its rows are never
        silently skipped. When the log of the range itself is gone (past the log
        retention), the files of the snapshot that the cursor's snapshot did not hold are
        read: a superset (compactions' outputs included), which readers that recognise
        rows already stored (partition, join-labels) take without double counting.
        """
        dt = self.delta(version)
        if since_version is None or since_version < 0:
            return self._files(dt, None, None, stats=())
        changes = self._data_changes(since_version, dt.version())
        if changes is None:  # the log of that range is past its retention
            current = self._files(dt, None, None, stats=())
            before = self._files_or_none(since_version)
            return current if before is None else [f for f in current if f.path not in before]
        deleted = {lf.hive_unescape(path) for kind, path, _ in changes if kind == "remove"}
        part_cols = list(dt.metadata().partition_columns)
        types = {f.name: f.dataType.typeName() for f in to_spark(dt.schema()).fields}
        added: dict[str, DataFile] = {}
        for kind, path, change in changes:
            relative = lf.hive_unescape(path)
            if kind != "add" or relative in deleted:
                continue
            added[relative] = DataFile(
                relative, int(change.get("size") or 0), record_count(change),
                lf.logged_partition(change, part_cols, types))
        if added:
            self._check_present(dt, list(added.values()), since_version)
        return list(added.values())

    def added_records(self, since_version: int | None,
                      version: int | None = None) -> int | None:
        """Rows added with new data in versions (`since_version`, `version`], summed from
        the log's add actions (the snapshot's record count when `since_version` is None);
        None when an action has no record count. Counted apart from `added_files`, so a
        reader whose file list misses a file fails its row accounting."""
        dt = self.delta(version)
        if since_version is None or since_version < 0:
            counts = [f.num_records for f in self._files(dt, None, None, stats=())]
        else:
            changes = self._data_changes(since_version, dt.version())
            if changes is None:
                return None
            # rows of a file that a later data-changing remove deleted were never new
            added = {path: record_count(change) for kind, path, change in changes
                     if kind == "add"}
            for kind, path, _change in changes:
                if kind == "remove":
                    added.pop(path, None)
            counts = list(added.values())
        return None if any(c is None for c in counts) else int(sum(counts))

    def _check_present(self, dt: DeltaTable, added: list[DataFile], since: int) -> None:
        """Raise LostInputError when files the log added are gone from storage; only files
        no longer in the snapshot (compacted away) are looked up."""
        live = set(pa.table(dt.get_add_actions(flatten=False)).column("path").to_pylist())
        live = {lf.hive_unescape(p) for p in live}
        gone = [f for f in added if f.path not in live]
        if not gone:
            return
        infos = self._fs.get_file_info([f"{self._fs_root}/{f.path}" for f in gone])
        missing = [f.path for f, i in zip(gone, infos) if i.type == pafs.FileType.NotFound]
        if missing:
            raise LostInputError(
                f"{self.name}: {len(missing)} data files added after version {since} were "
                f"compacted and vacuumed before this reader consumed them (first: "
                f"{missing[0]}); nothing was read. Restore them from a backup, or re-ingest "
                f"their source files; keep vacuum_retention_hours above the longest pause "
                f"between runs")

    def changed_partitions(self, since_version: int | None,
                           version: int | None = None) -> list[dict[str, Any]]:
        """Partitions whose data changed (`dataChange=true` adds or removes) after
        `since_version`; every partition when it is None or its log is past retention."""
        dt = self.delta(version)
        part_cols = list(dt.metadata().partition_columns)
        changes = (None if since_version is None or since_version < 0
                   else self._data_changes(since_version, dt.version()))
        if changes is None:
            return self.partitions(dt.version())
        types = {f.name: f.dataType.typeName() for f in to_spark(dt.schema()).fields}
        unique = {}
        for _kind, _path, change in changes:
            values = lf.logged_partition(change, part_cols, types)
            unique[self._key(values, part_cols)] = values
        return list(unique.values())

    def _files_or_none(self, version: int) -> set[str] | None:
        try:
            return {f.path for f in self.files(version, stats=())}
        except Exception:  # noqa: BLE001 - the old snapshot is gone too: take every file
            log.warning("%s: version %s cannot be opened; every file counts as new",
                        self.name, version)
            return None


class LostInputError(RuntimeError):
    """Rows an incremental reader has not consumed are gone from storage."""


def record_count(action: Mapping[str, Any]) -> int | None:
    """The record count in an add or remove action's stats, if it has one."""
    stats = action.get("stats")
    if not stats:
        return None
    try:
        count = json.loads(stats).get("numRecords")
    except (TypeError, ValueError):
        return None
    return None if count is None else int(count)


def _prefilter(actions: pa.Table, part_cols: list[str], partitions: list[Partition]) -> pa.Table:
    """The add actions whose partition values are, column by column, among those of
    `partitions`: a superset of the exact matches, cut down in Arrow before any row
    becomes a Python object (delta-rs returns typed partition columns)."""
    mask = None
    for col in part_cols:
        column = actions[f"partition.{col}"]
        try:
            values = pa.array([None if p.get(col) == "" else p.get(col) for p in partitions],
                              type=column.type)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            continue  # values of another spelling: the exact check in Python decides
        hit = pc.is_in(column, value_set=values, skip_nulls=False)
        mask = hit if mask is None else pc.and_(mask, hit)
    return actions if mask is None else actions.filter(mask)
