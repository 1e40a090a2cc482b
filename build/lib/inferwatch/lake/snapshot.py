"""A table's snapshots and file listings (the read half of `Table`; no Spark session needed).

One delta-rs snapshot is kept per table and brought forward incrementally; listings are
pruned in Arrow before anything becomes a Python object; incremental readers learn what
changed from the log's data-changing actions (`Committer._data_changes`).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from pyspark.sql import types as T

from inferwatch.lake import files as lf
from inferwatch.lake.files import DataFile
from inferwatch.lake.schema import to_spark

log = logging.getLogger(__name__)
Partition = Mapping[str, Any]


class Snapshots:
    """Mixed into `Table`: needs `uri`, `name`, `options`, `_snapshot`, `_data_changes`
    (from `Committer`)."""

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
                return snap
            if version is None:
                snap.update_incremental()
                return snap
            current = snap.version()
            if version == current:
                return snap
            if version > current:
                snap.load_as_version(version)
                return snap
            return self._open(version)
        except TableNotFoundError as err:
            raise TableNotFoundError(f"no Delta table at {self.uri} ({self.name}): {err}") from err

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

    def _files(self, dt: DeltaTable, partitions, where, stats: Sequence[str] | None = None,
               logged: set[str] | None = None) -> list[DataFile]:
        """`files`, optionally only those whose path as logged is in `logged`."""
        # Pruned in Arrow first: only the matching files' wanted columns become Python.
        actions = pa.table(dt.get_add_actions(flatten=True))
        if logged is not None and actions.num_rows:
            actions = actions.filter(pc.is_in(actions["path"],
                                              value_set=pa.array(sorted(logged), pa.string())))
        part_cols = list(dt.metadata().partition_columns)
        wanted = None
        if partitions is not None:
            partitions = list(partitions)
            wanted = {self._key(p, part_cols) for p in partitions}
            if not wanted or actions.num_rows == 0:
                return []
            actions = _prefilter(actions, part_cols, partitions)
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

    def partitions(self, version: int | None = None) -> list[dict[str, Any]]:
        seen: dict[tuple, dict[str, Any]] = {}
        for f in self.files(version, stats=()):
            seen.setdefault(tuple(sorted(f.partition.items(), key=lambda kv: kv[0])), f.partition)
        return list(seen.values())

    def added_files(self, since_version: int | None,
                    version: int | None = None) -> list[DataFile]:
        """Files of the snapshot added with new data after `since_version` (all when it is
        None), from the log's `dataChange=true` add actions: a compaction, which rewrites
        rows without changing them, adds nothing."""
        dt = self.delta(version)
        if since_version is None or since_version < 0:
            return self._files(dt, None, None, stats=())
        changes = self._data_changes(since_version, dt.version())
        if changes is None:  # the log of that range is past its retention
            current = self._files(dt, None, None, stats=())
            before = self._files_or_none(since_version)
            return current if before is None else [f for f in current if f.path not in before]
        added = {path for kind, path, _ in changes if kind == "add"}
        return self._files(dt, None, None, stats=(), logged=added) if added else []

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
        for _kind, _path, raw in changes:
            values = {c: lf.parse_partition_value(raw.get(c), types[c]) for c in part_cols}
            unique[self._key(values, part_cols)] = values
        return list(unique.values())

    def _files_or_none(self, version: int) -> set[str] | None:
        try:
            return {f.path for f in self.files(version, stats=())}
        except Exception:  # noqa: BLE001 - the old snapshot is gone too: take every file
            log.warning("%s: version %s cannot be opened; every file counts as new",
                        self.name, version)
            return None


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
