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
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.transaction import AddAction
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import types as T

from inferwatch.lake import faults
from inferwatch.lake import files as lf
from inferwatch.lake import storage as st
from inferwatch.lake.files import DataFile
from inferwatch.lake.commit import Committer, Partition
from inferwatch.lake.scan import scan
from inferwatch.lake.snapshot import Snapshots
from inferwatch.lake.staging import SPAN, adopt, driver_rows, stage_arrow
from inferwatch.lake.schema import align, arrow_of, table_schema, to_delta, to_spark
from inferwatch.lake.storage import StorageSettings

log = logging.getLogger(__name__)



class Table(Snapshots, Committer):
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
    def create(self, schema: T.StructType, partition_by: Sequence[str] = ()) -> Table:
        """Create the table if it does not exist yet (an existing one is left as it is)."""
        missing = [c for c in partition_by if c not in schema.fieldNames()]
        if missing:
            raise ValueError(f"{self.name}: partition columns {missing} are not in the schema")
        if not self.exists():
            DeltaTable.create(self.uri, schema=to_delta(table_schema(schema)),
                              partition_by=list(partition_by), mode="ignore",
                              storage_options=self.options)
        return self

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

    def replace_partitions(self, df: DataFrame | pa.Table, partitions: Iterable[Partition],
                           txn: tuple[str, int] | None = None, *, read_version: int) -> int:
        """Atomically make `partitions` hold exactly the rows of `df`, computed from
        snapshot `read_version`: refused (ConcurrentWriteError) if another writer changed
        data in those partitions since, so no update is lost.

        Every row of `df` must fall inside `partitions`. Readers see either the old or
        the new partitions, never a mix. `df` may be driver-side rows (a pyarrow Table
        with the table's columns), written without Spark.
        """
        partitions = _listify(partitions) or []
        adds, new_fields = self._write_inside(df, partitions)
        return self._commit(adds, partitions, (read_version, partitions), txn, "replace",
                            new_fields)

    def replace_files(self, df: DataFrame, doomed: Iterable[DataFile],
                      partitions: Iterable[Partition], read_version: int,
                      spans: Column | None = None) -> int:
        """Atomically swap the files `doomed` for the rows of `df` (a file-level replace).

        The cheap form of `replace_partitions` when a rewrite touches a few files of a big
        partition: callers pick the files whose rows change (e.g. by their `bounds`) and
        pass the rows to keep plus the new ones. `partitions` are those the files and rows
        live in; a commit that touched them after `read_version` makes this one refuse.
        `spans` (an expression of a row) files the rows of each distinct value apart, one
        file per partition and value, so each file covers a narrow range of windows and
        later rewrites stay small.
        """
        partitions = _listify(partitions) or []
        adds, new_fields = self._write_inside(df, partitions, spans=spans)
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

    def _write_inside(self, df: DataFrame | pa.Table, partitions: list[Partition],
                      cluster: tuple[Column, int] | None = None, spans: Column | None = None
                      ) -> tuple[list[AddAction], list[T.StructField]]:
        """Write `df`'s files; refuse (and delete them) if a row falls outside `partitions`."""
        part_cols = self.partition_columns()
        wanted = {self._key(p, part_cols) for p in partitions}
        adds, new_fields = self._write_files(df, cluster, spans)
        stray = [a for a in adds
                 if tuple(a.partition_values.get(c) for c in part_cols) not in wanted]
        if stray:
            self._delete([a.path for a in adds])
            raise ValueError(f"{self.name}: rows outside the partitions being replaced, e.g. "
                             f"{dict(stray[0].partition_values)}")
        return adds, new_fields

    def overwrite(self, df: DataFrame, txn: tuple[str, int] | None = None, *,
                  read_version: int) -> int:
        """Atomically replace the whole table's contents, computed from snapshot
        `read_version`: refused if another writer changed data since."""
        adds, new_fields = self._write_files(df)
        return self._commit(adds, None, (read_version, None), txn, "overwrite", new_fields)

    def append_arrow(self, data: pa.Table) -> int:
        """Append a small driver-side Arrow table (run records, alerts) without Spark."""
        from deltalake import write_deltalake

        write_deltalake(self.uri, data, mode="append", schema_mode="merge",
                        storage_options=self.options)
        version = self.version()
        faults.after_commit(self.name, version)
        return version

    def _write_files(self, df: DataFrame | pa.Table, cluster: tuple[Column, int] | None = None,
                     spans: Column | None = None
                     ) -> tuple[list[AddAction], list[T.StructField]]:
        """Write `df` as data files of the table (not committed) and name its new columns:
        one file per partition, or `cluster=(expression, n)`: range-partitioned by the
        expression into about `n` files per partition (a compaction's target sizes), or
        one file per partition and distinct value of `spans`."""
        dt = self.delta()
        part_cols = list(dt.metadata().partition_columns)
        schema = to_spark(dt.schema())
        types = {c: schema[c].dataType.typeName() for c in part_cols}
        staging = f"_staging/{uuid.uuid4().hex}"
        if isinstance(df, pa.Table):
            stage_arrow(self._fs, self._fs_root, staging, arrow_of(df, schema, self.name),
                        part_cols)
            return self._adopt(staging, types), []
        aligned, new_fields = align(df, schema, self.name)
        folders = list(part_cols)
        if spans is not None:
            # each span in a staging folder of its own (`adopt` files it in its partition):
            # a task writes many spans' files, where a task per span (a range partitioning
            # by span, which samples its input first) cost a fleet's 300 small files twice
            aligned = aligned.withColumn(SPAN, spans)
            folders.append(SPAN)
        rows = None if cluster is not None else driver_rows(aligned)
        if rows is not None:
            stage_arrow(self._fs, self._fs_root, staging,
                        arrow_of(rows, aligned.schema, self.name), folders)
            return self._adopt(staging, types), new_fields
        if cluster is not None:
            expression, files = cluster
            aligned = (aligned.repartitionByRange(max(1, files), *part_cols, expression)
                       .sortWithinPartitions(*part_cols, expression))
        elif folders:
            # One file per partition (and span) per write, not one per task and
            # partition; the partitions spread over the shuffle's tasks even when the rows
            # are few (AQE would coalesce a small write into one task, which then writes a
            # backfill's thousands of hours one file after another)
            tasks = int(self.spark.conf.get("spark.sql.shuffle.partitions"))
            aligned = aligned.repartition(tasks, *folders)
        writer = aligned.write.mode("error")  # = "errorifexists", which Connect's client refuses
        if folders:
            writer = writer.partitionBy(*folders)
        writer.parquet(f"{self._spark_root()}/{staging}")
        return self._adopt(staging, types), new_fields

    def _adopt(self, staging: str, types: dict[str, str]) -> list[AddAction]:
        return adopt(self._fs, self._fs_root, staging, types)

    def _delete(self, paths: Iterable[str]) -> None:
        for path in paths:
            self._fs.delete_file(f"{self._fs_root}/{path}")


def _listify(partitions: Iterable[Partition] | None) -> list[Partition] | None:
    return None if partitions is None else list(partitions)
