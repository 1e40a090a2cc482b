"""Delta tables with Spark moving the data and delta-rs keeping the transaction log.

Spark writes Parquet into a private staging folder under the table root; the driver
moves the finished files into Hive-style partition folders, reads each footer for Delta
stats and commits them all as one Delta transaction. A write killed at any point leaves
only files no commit references, which no Delta reader sees. Reads list a snapshot's
files through delta-rs (pruned by partition values) and scan them with Spark's
vectorized Parquet reader.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from deltalake.transaction import AddAction
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import types as T

from inferwatch.lake import faults
from inferwatch.lake import files as lf
from inferwatch.lake.files import DataFile
from inferwatch.lake.commit import Committer, Partition
from inferwatch.lake.scan import scan
from inferwatch.lake.staging import adopt
from inferwatch.lake.schema import align, to_delta, to_spark

log = logging.getLogger(__name__)



class Table(Committer):
    """One Delta table. Every method that commits returns the new table version.

    >>> t = Table(spark, "lake/inferences")
    >>> t.create(schema, partition_by=["model_id", "hour"])
    >>> t.append(df)
    >>> t.read(partitions=[{"model_id": "fraud", "hour": some_hour}])
    """

    def __init__(self, spark: SparkSession, uri: str, name: str | None = None):
        self.spark = spark
        self.uri = lf.normalize_uri(uri)
        self.name = name or uri
        self._fs, self._fs_root = lf.filesystem(self.uri)

    # -- metadata ------------------------------------------------------------------
    def exists(self) -> bool:
        return DeltaTable.is_deltatable(self.uri)

    def delta(self, version: int | None = None) -> DeltaTable:
        try:
            return DeltaTable(self.uri, version=version)
        except TableNotFoundError as err:
            raise TableNotFoundError(f"no Delta table at {self.uri} ({self.name}): {err}") from err

    def create(self, schema: T.StructType, partition_by: Sequence[str] = ()) -> Table:
        """Create the table if it does not exist yet (an existing one is left as it is)."""
        missing = [c for c in partition_by if c not in schema.fieldNames()]
        if missing:
            raise ValueError(f"{self.name}: partition columns {missing} are not in the schema")
        if not self.exists():
            DeltaTable.create(self.uri, schema=to_delta(schema), partition_by=list(partition_by),
                              mode="ignore")
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
              where: Callable[[dict[str, Any]], bool] | None = None) -> list[DataFile]:
        """The snapshot's data files, pruned to `partitions` (exact values) and `where`."""
        return self._files(self.delta(version), partitions, where)

    def _files(self, dt: DeltaTable, partitions, where) -> list[DataFile]:
        actions = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
        part_cols = list(dt.metadata().partition_columns)
        wanted = None if partitions is None else {self._key(p, part_cols) for p in partitions}
        out = []
        for row in actions:
            values = {c: row.get(f"partition.{c}") for c in part_cols}
            if wanted is not None and self._key(values, part_cols) not in wanted:
                continue
            if where is not None and not where(values):
                continue
            bounds = {k[4:]: (v, row.get("max." + k[4:])) for k, v in row.items()
                      if k.startswith("min.")}
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
        for f in self.files(version):
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
        return self.uri if "://" in self.uri else "file://" + self.uri

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

        write_deltalake(self.uri, data, mode="append", schema_mode="merge")
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
            aligned = aligned.repartitionByRange(max(1, files), *part_cols, expression)
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


def _listify(partitions: Iterable[Partition] | None) -> list[Partition] | None:
    return None if partitions is None else list(partitions)
