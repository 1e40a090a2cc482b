"""A Delta table another system writes (a serving platform's inference table, a
streaming sink), read incrementally by its versions without being copied.

What the protocol asks of a reader is applied, not refused: deletion vectors (a file's
deleted rows are left out, by their row index), column mapping (the Parquet files'
physical names read as the schema's logical names, partition values too), timestamp_ntz,
and columns added since a file was written (null in it). A reader feature beyond these
(type widening, one newer than delta-rs) is refused in one line (`lake/protocol.py`).

New rows since a cursor version are those of the files that versions after it added with
new data (`dataChange`), as a streaming reader takes them (`lake/foreign_log.py`): a file
a later version deletes whole is skipped; a file a later version gives a deletion vector
(a remove and an add of the same path in one commit) is read without the rows it marks,
and one added before the cursor is not read again; a compaction's files
(`dataChange=false`) hold no new rows; a DELETE that rewrites files instead (no deletion
vectors) adds the rows it kept, new only if the files it rewrote were (an UPDATE or MERGE
that rewrites files re-delivers their rows: partition counts them as duplicates within
`duplicate_lookback_days`). Without a cursor, every file of the snapshot is read, with
the deletion vector the log's last add of it gives (from the newest checkpoint on). Rows
deleted after a run read them are not taken back: the metrics of their hours keep them.
A version behind the cursor (the table replaced) or commits gone from the log before
they were read fail the run, naming the table (`LostLogError`), never skip rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.lake import files as lf
from inferwatch.lake.files import DataFile
from inferwatch.lake.foreign_log import COMMITTED, ForeignLog, LostLogError
from inferwatch.lake.protocol import UnreadableTableError, column_mapping_mode
from inferwatch.lake.jvm_text import read_parquet
from inferwatch.lake.schema import rows_frame, to_spark
from inferwatch.lake.snapshot import record_count
from inferwatch.lake.table import Table
from inferwatch.lake.vectors import deleted_rows

PHYSICAL = "delta.columnMapping.physicalName"
ROW_INDEX, FILE = "__iw_row_index", "__iw_file"
ARRIVED = "__iw_arrived"  # a row's time of arrival: its file's commit


@dataclass(frozen=True)
class NewFile:
    """A data file with new rows, and the deletion vector its rows are read through."""

    file: DataFile
    deletion_vector: dict[str, Any] | None = None
    arrived: int | None = None  # when the log added it: its commit's time, in ms

    @property
    def rows(self) -> int | None:
        """Rows left once the deletion vector is applied, from the log alone."""
        if self.file.num_records is None:
            return None
        deleted = int((self.deletion_vector or {}).get("cardinality") or 0)
        return self.file.num_records - deleted


class ForeignTable(Table):
    """A read-only Delta table outside the lake. Never written: only read by versions."""

    APPLIED = frozenset({"deletionVectors", "columnMapping"})

    def new_files(self, since_version: int | None, version: int) -> list[NewFile]:
        """The files with rows added in versions (`since_version`, `version`] (every
        file of the table at `version` when `since_version` is None)."""
        dt = self.delta(version)
        _check_mapping(dt, self.name)
        log = ForeignLog(self._fs, self._fs_root, self.name, self._log_actions)
        if since_version is None:
            new = log.live(version)
            listed = {lf.hive_unescape(p) for p in
                      pa.table(dt.get_add_actions(flatten=False)).column("path").to_pylist()}
            if set(new) != listed:  # e.g. a v2 checkpoint, whose adds are in sidecars
                raise UnreadableTableError(
                    f"table {self.name} ({self.uri}, version {version}): its log lists "
                    f"{len(new)} files where delta-rs lists {len(listed)}; the deletion "
                    f"vectors cannot be told, so it is not read")
        elif version < since_version:
            raise LostLogError(
                f"{self.name}: at version {version}, before version {since_version} this "
                f"reader got to: the table was replaced or restored; point the model at "
                f"it again under another path, or remove its cursor")
        else:
            new = log.added(since_version, version)
        types = {f.name: f.dataType.typeName() for f in to_spark(dt.schema()).fields}
        logical = list(dt.metadata().partition_columns)
        physical = self._physical(dt)
        out = []
        for path, add in new.items():
            values = {c: (add.get("partitionValues") or {}).get(physical.get(c, c))
                      for c in logical}
            partition = lf.logged_partition({"partitionValues": values}, logical, types)
            out.append(NewFile(DataFile(path, int(add.get("size") or 0), record_count(add),
                                        partition), add.get("deletionVector"),
                               add.get(COMMITTED, add.get("modificationTime"))))
        if out and since_version is not None:
            self._check_present(dt, [f.file for f in out], since_version)
        return out

    def read_new(self, new: list[NewFile], version: int) -> DataFrame:
        """The rows of `new` under their logical column names, deleted rows left out, and
        ARRIVED: when the log added each row's file (so the earliest copy of a row is
        the one committed first, however the versions were cut into batches)."""
        dt = self.delta(version)
        schema = to_spark(dt.schema())
        physical = self._physical(dt)
        stored = T.StructType([T.StructField(physical.get(f.name, f.name), f.dataType, True)
                               for f in schema.fields])
        part_cols = [physical.get(c, c) for c in dt.metadata().partition_columns]
        if not new:
            return rows_frame(self.spark, [], T.StructType(
                [*schema.fields, T.StructField(ARRIVED, T.TimestampType())]))
        names = [n.file.path.rsplit("/", 1)[-1] for n in new]
        alike = len(set(names)) < len(names)  # another writer's names: a scan a file
        groups: dict[tuple, list[NewFile]] = {}
        for n in new:  # one scan a partition, and one a file with a deletion vector
            key = (tuple(sorted(n.file.partition.items(), key=lambda kv: kv[0])),
                   n.file.path if n.deletion_vector or alike else "")
            groups.setdefault(key, []).append(n)
        frames = [self._scan(stored, part_cols, group, physical) for group in groups.values()]
        if alike:
            frames = [f.withColumn(FILE, F.lit(g[0].file.path))
                      for f, g in zip(frames, groups.values())]
            names = [n.file.path for n in new]
        arrived = self.spark.createDataFrame(pa.table({
            FILE: names,
            ARRIVED: pa.array([n.arrived for n in new], pa.timestamp("ms", "UTC"))}))
        rows = reduce(DataFrame.unionByName, frames).join(F.broadcast(arrived), FILE, "left")
        return rows.select(*[F.col(f"`{physical.get(f.name, f.name)}`").alias(f.name)
                             for f in schema.fields], ARRIVED)

    def _scan(self, stored: T.StructType, part_cols: list[str], group: list[NewFile],
              physical: dict[str, str]) -> DataFrame:
        """The rows of files of one partition (or one file with a deletion vector, its
        marked rows left out, by Parquet row index), with their file's name."""
        data = T.StructType([f for f in stored.fields if f.name not in part_cols])
        rows = (read_parquet(self.spark.read.schema(data),
                             [f"{self._spark_root()}/{n.file.path}" for n in group])
                .select("*", F.col("_metadata.file_name").alias(FILE),
                        F.col("_metadata.row_index").alias(ROW_INDEX)))
        vector = group[0].deletion_vector
        if vector:
            gone = deleted_rows(vector, self._read_bytes)
            deleted = self.spark.createDataFrame(
                pa.table({ROW_INDEX: pa.array(gone, type=pa.int64())}))
            rows = rows.join(F.broadcast(deleted), ROW_INDEX, "left_anti")
        values = {physical.get(c, c): v for c, v in group[0].file.partition.items()}
        for column in part_cols:
            rows = rows.withColumn(column, F.lit(values[column]).cast(stored[column].dataType))
        return rows.select(*[F.col(f"`{f.name}`") for f in stored.fields], FILE)

    # -- column mapping ------------------------------------------------------------
    @staticmethod
    def _physical(dt) -> dict[str, str]:
        """Logical -> physical column name under column mapping (empty without it)."""
        if column_mapping_mode(dt) == "none":
            return {}
        return {f.name: f.metadata[PHYSICAL] for f in to_spark(dt.schema()).fields
                if PHYSICAL in f.metadata}

    # -- deletion vectors ------------------------------------------------------------
    def _read_bytes(self, path: str) -> bytes:
        if "://" in path:  # an absolute path ('p' vectors)
            fs, inner = lf.filesystem(path)
        else:
            fs, inner = self._fs, path if path.startswith("/") else f"{self._fs_root}/{path}"
        with fs.open_input_file(inner) as handle:
            return handle.read()


def _check_mapping(dt, name: str) -> None:
    """Refuse what column mapping asks that this reader does not do: resolving columns
    by Parquet field id (mode 'id'), physical names of nested fields."""
    mode = column_mapping_mode(dt)
    if mode == "none":
        return
    if mode != "name":
        raise UnreadableTableError(f"table {name}: column mapping mode '{mode}' is not "
                                   f"read (columns by Parquet field id); mode 'name' is")
    nested = [f.name for f in to_spark(dt.schema()).fields
              if isinstance(f.dataType, (T.StructType, T.ArrayType, T.MapType))]
    if nested:
        raise UnreadableTableError(f"table {name}: column mapping of nested column "
                                   f"{nested[0]!r} is not read; only top-level columns")
