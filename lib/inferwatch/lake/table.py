"""Delta tables with Spark moving the data and delta-rs keeping the transaction log.

Spark writes Parquet into a private staging folder under the table root; the driver
moves the finished files into Hive-style partition folders, reads each footer for Delta
stats and commits them all as one Delta transaction. A write killed at any point leaves
only files no commit references, which no Delta reader sees. Reads list a snapshot's
files through delta-rs (pruned by partition values) and scan them with Spark's
vectorized Parquet reader.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from deltalake.transaction import AddAction
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import types as T

from inferwatch.lake import faults
from inferwatch.lake import files as lf
from inferwatch.lake import storage as st
from inferwatch.lake.files import DataFile
from inferwatch.lake.commit import Committer, Partition
from inferwatch.lake.scan import scan
from inferwatch.lake.staging import adopt
from inferwatch.lake.schema import align, to_delta, to_spark
from inferwatch.lake.storage import StorageSettings

log = logging.getLogger(__name__)



class Table(Committer):
    """One Delta table. Every method that commits returns the new table version.

    >>> t = Table(spark, "lake/inferences")
    >>> t.create(schema, partition_by=["model_id", "hour"])
    >>> t.append(df)
    >>> t.read(partitions=[{"model_id": "fraud", "hour": some_hour}])
    """

    def __init__(self, spark: SparkSession, uri: str, name: str | None = None,
                 storage: StorageSettings | None = None):
        self.spark = spark
        self.storage = storage or StorageSettings({})
        self.uri = st.delta_uri(lf.normalize_uri(uri))
        self.name = name or uri
        self.options = st.delta_options(self.storage, self.uri)
        self._fs, self._fs_root = st.arrow_filesystem(self.storage, self.uri)
        self._snapshot: DeltaTable | None = None

    # -- metadata ------------------------------------------------------------------
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

    def create(self, schema: T.StructType, partition_by: Sequence[str] = ()) -> Table:
        """Create the table if it does not exist yet (an existing one is left as it is)."""
        missing = [c for c in partition_by if c not in schema.fieldNames()]
        if missing:
            raise ValueError(f"{self.name}: partition columns {missing} are not in the schema")
        if not self.exists():
            DeltaTable.create(self.uri, schema=to_delta(schema), partition_by=list(partition_by),
                              mode="ignore", storage_options=self.options)
        return self

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
               stats: Sequence[str] | None = None) -> list[DataFile]:
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

    # -- reads ---------------------------------------------------------------------
    def read(self, version: int | None = None, partitions: Iterable[Partition] | None = None,
             where: Callable[[dict[str, Any]], bool] | None = None) -> DataFrame:
        """A snapshot (latest or `version`) as a DataFrame, scanning only matching files."""
        dt = self.delta(version)
        return self._scan(dt, self._files(dt, partitions, where))

    def read_files(self, data_files: list[DataFile], version: int | None = None) -> DataFrame:
        """The rows of exactly `data_files` (as listed by `files`) of a snapshot."""
        return self._scan(self.delta(version), data_files)

    def read_added(self, since_version: int | None, version: int | None = None) -> DataFrame:
        """Rows of files added after `since_version` (all rows when it is None)."""
        return self.read_files(self.added_files(since_version, version), version)

    def added_files(self, since_version: int | None,
                    version: int | None = None) -> list[DataFile]:
        """Files of the snapshot added with new data after `since_version` (all when it is
        None), from the log's `dataChange=true` add actions: a compaction, which rewrites
        rows without changing them, adds nothing."""
        dt = self.delta(version)
        current = self._files(dt, None, None)
        if since_version is None or since_version < 0:
            return current
        changes = self._data_changes(since_version, dt.version())
        if changes is None:  # the log of that range is past its retention
            before = self._files_or_none(since_version)
            return current if before is None else [f for f in current if f.path not in before]
        added = {path for kind, path, _ in changes if kind == "add"}
        return [f for f in current if f.path in added]

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
            return {f.path for f in self.files(version)}
        except Exception:  # noqa: BLE001 - the old snapshot is gone too: take every file
            log.warning("%s: version %s cannot be opened; every file counts as new",
                        self.name, version)
            return None

    def _scan(self, dt: DeltaTable, data_files: list[DataFile]) -> DataFrame:
        return scan(self.spark, self._spark_root(), to_spark(dt.schema()),
                    list(dt.metadata().partition_columns), data_files)

    def _spark_root(self) -> str:
        return st.spark_uri(self.storage, self.uri) if "://" in self.uri else "file://" + self.uri

    # -- writes --------------------------------------------------------------------
    def append(self, df: DataFrame, txn: tuple[str, int] | None = None,
               read_version: int | None = None,
               read_partitions: Iterable[Partition] | None = None) -> int:
        """Append `df` in one commit.

        With `read_version`, the append was computed from that snapshot of this table:
        if another writer has since touched `read_partitions` (or any partition, when
        None) the commit is refused with ConcurrentWriteError instead of losing an update.
        """
        adds, new_fields = self._write_files(df)
        guard = None if read_version is None else (read_version, _listify(read_partitions))
        return self._commit(adds, [], guard, txn, "append", new_fields)

    def replace_partitions(self, df: DataFrame, partitions: Iterable[Partition],
                           txn: tuple[str, int] | None = None,
                           read_version: int | None = None) -> int:
        """Atomically make `partitions` hold exactly the rows of `df`.

        Every row of `df` must fall inside `partitions`. Readers see either the old or
        the new partitions, never a mix.
        """
        partitions = _listify(partitions) or []
        base = self.version() if read_version is None else read_version
        adds, new_fields = self._write_inside(df, partitions)
        return self._commit(adds, partitions, (base, partitions), txn, "replace", new_fields)

    def replace_files(self, df: DataFrame, doomed: Iterable[DataFile],
                      partitions: Iterable[Partition], read_version: int,
                      cluster: tuple[Column, int] | None = None) -> int:
        """Atomically swap the files `doomed` for the rows of `df` (a file-level replace).

        The cheap form of `replace_partitions` when a rewrite touches a few files of a big
        partition: callers pick the files whose rows change (e.g. by their `bounds`) and
        pass the rows to keep plus the new ones. `partitions` are those the files and rows
        live in; a commit that touched them after `read_version` makes this one refuse.
        `cluster=(expression, n)` range-partitions the rows by the expression into about
        `n` files per partition, so each file covers a narrow range and later rewrites stay
        small.
        """
        partitions = _listify(partitions) or []
        adds, new_fields = self._write_inside(df, partitions, cluster)
        return self._commit(adds, None, (read_version, partitions), None, "replace",
                            new_fields, remove_files=list(doomed))

    def rewrite_files(self, doomed: Sequence[DataFile], read_version: int,
                      cluster: tuple[Column, int]) -> int:
        """Rewrite `doomed` (files of one partition) into `cluster[1]` files holding the
        same rows, range-partitioned and sorted by `cluster[0]`: a compaction, committed
        with `dataChange=false`, so no incremental reader sees new data. Refused with
        ConcurrentWriteError (nothing committed) if another commit removed one of them."""
        doomed = list(doomed)
        partitions = _listify({tuple(sorted(f.partition.items())): f.partition
                               for f in doomed}.values()) or []
        df = self._scan(self.delta(read_version), doomed)
        adds, _ = self._write_inside(df, partitions, cluster)
        before = sum(f.num_records or 0 for f in doomed)
        after = sum(json.loads(a.stats)["numRecords"] for a in adds)
        if before != after:  # never commit a rewrite that lost or doubled a row
            self._delete([a.path for a in adds])
            raise RuntimeError(f"{self.name}: compaction of {len(doomed)} files read {before} "
                               f"rows but wrote {after}; nothing was committed")
        adds = [dataclasses.replace(a, data_change=False) for a in adds]
        return self._commit(adds, None, (read_version, []), None, "compact",
                            remove_files=doomed, data_change=False)

    def _write_inside(self, df: DataFrame, partitions: list[Partition],
                      cluster: tuple[Column, int] | None = None
                      ) -> tuple[list[AddAction], list[T.StructField]]:
        """Write `df`'s files; refuse (and delete them) if a row falls outside `partitions`."""
        part_cols = self.partition_columns()
        wanted = {self._key(p, part_cols) for p in partitions}
        adds, new_fields = self._write_files(df, cluster)
        stray = [a for a in adds
                 if tuple(a.partition_values.get(c) for c in part_cols) not in wanted]
        if stray:
            self._delete([a.path for a in adds])
            raise ValueError(f"{self.name}: rows outside the partitions being replaced, e.g. "
                             f"{dict(stray[0].partition_values)}")
        return adds, new_fields

    def overwrite(self, df: DataFrame, txn: tuple[str, int] | None = None,
                  read_version: int | None = None) -> int:
        """Atomically replace the whole table's contents; with `read_version` (the
        snapshot `df` was computed from) refused if another writer committed since."""
        base = self.version() if read_version is None else read_version
        adds, new_fields = self._write_files(df)
        return self._commit(adds, None, (base, None), txn, "overwrite", new_fields)

    def append_arrow(self, data: pa.Table) -> int:
        """Append a small driver-side Arrow table (run records, alerts) without Spark."""
        from deltalake import write_deltalake

        write_deltalake(self.uri, data, mode="append", schema_mode="merge",
                        storage_options=self.options)
        version = self.version()
        faults.after_commit(self.name, version)
        return version

    def _write_files(self, df: DataFrame, cluster: tuple[Column, int] | None = None
                     ) -> tuple[list[AddAction], list[T.StructField]]:
        """Write `df` as data files of the table (not committed) and name its new columns."""
        dt = self.delta()
        part_cols = list(dt.metadata().partition_columns)
        schema = to_spark(dt.schema())
        aligned, new_fields = align(df, schema, self.name)
        staging = f"_staging/{uuid.uuid4().hex}"
        if cluster is not None:
            expression, files = cluster
            aligned = (aligned.repartitionByRange(max(1, files), *part_cols, expression)
                       .sortWithinPartitions(*part_cols, expression))
        elif part_cols:
            # One file per partition per write, not one per task and partition.
            aligned = aligned.repartition(*part_cols)
        writer = aligned.write.mode("errorifexists")
        if part_cols:
            writer = writer.partitionBy(*part_cols)
        writer.parquet(f"{self._spark_root()}/{staging}")
        types = {c: schema[c].dataType.typeName() for c in part_cols}
        return self._adopt(staging, types), new_fields

    def _adopt(self, staging: str, types: dict[str, str]) -> list[AddAction]:
        return adopt(self._fs, self._fs_root, staging, types)

    def _delete(self, paths: Iterable[str]) -> None:
        for path in paths:
            self._fs.delete_file(f"{self._fs_root}/{path}")


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


def _listify(partitions: Iterable[Partition] | None) -> list[Partition] | None:
    return None if partitions is None else list(partitions)
