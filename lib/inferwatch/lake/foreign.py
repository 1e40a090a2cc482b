"""A Delta table another system writes (a serving platform's inference table, a
streaming sink), read incrementally by its versions without being copied.

What the protocol asks of a reader is applied, not refused: deletion vectors (a file's
deleted rows are left out, by their row index), column mapping (the Parquet files'
physical names read as the schema's logical names, partition values too), timestamp_ntz,
and columns added since a file was written (null in it). A reader feature beyond these
(type widening, one newer than delta-rs) is refused in one line (`lake/protocol.py`).

New rows since a cursor version are those of the files that versions after it added with
new data (`dataChange`), as a streaming reader takes them: a file a later version
deletes whole is skipped; a file a later version gives a deletion vector (a remove and
an add of the same path in one commit) is read without the rows it marks, and one added
before the cursor is not read again; a compaction's files (`dataChange=false`) hold no
new rows. Rows deleted after a run read them are not taken back: the metrics of their
hours keep them.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.lake import files as lf
from inferwatch.lake.files import DataFile
from inferwatch.lake.scan import scan
from inferwatch.lake.schema import to_spark
from inferwatch.lake.snapshot import record_count
from inferwatch.lake.table import Table
from inferwatch.lake.vectors import deleted_rows

PHYSICAL = "delta.columnMapping.physicalName"
ROW_INDEX = "__iw_row_index"


@dataclass(frozen=True)
class NewFile:
    """A data file with new rows, and the deletion vector its rows are read through."""

    file: DataFile
    deletion_vector: dict[str, Any] | None = None

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
        after = -1 if since_version is None else since_version
        new: dict[str, dict[str, Any]] = {}
        if after < 0 and not self._log_exists(0):  # the early log is past retention
            after = self._checkpoint_adds(version, new)
        for v in range(after + 1, version + 1):
            self._replay(self._log_actions(v), new)
        dt = self.delta(version)
        types = {f.name: f.dataType.typeName() for f in to_spark(dt.schema()).fields}
        logical = list(dt.metadata().partition_columns)
        physical = self._physical(dt)
        out = []
        for path, add in new.items():
            values = {c: (add.get("partitionValues") or {}).get(physical.get(c, c))
                      for c in logical}
            partition = lf.logged_partition({"partitionValues": values}, logical, types)
            out.append(NewFile(DataFile(path, int(add.get("size") or 0), record_count(add),
                                        partition), add.get("deletionVector")))
        if out and since_version is not None:
            self._check_present(dt, [f.file for f in out], since_version)
        return out

    def read_new(self, new: list[NewFile], version: int) -> DataFrame:
        """The rows of `new` under their logical column names, deleted rows left out."""
        dt = self.delta(version)
        schema = to_spark(dt.schema())
        physical = self._physical(dt)
        stored = T.StructType([T.StructField(physical.get(f.name, f.name), f.dataType, True)
                               for f in schema.fields])
        part_cols = [physical.get(c, c) for c in dt.metadata().partition_columns]
        as_stored = [DataFile(n.file.path, n.file.size, n.file.num_records,
                              {physical.get(c, c): v for c, v in n.file.partition.items()})
                     for n in new]
        plain = [f for f, n in zip(as_stored, new) if not n.deletion_vector]
        frames = [scan(self.spark, self._spark_root(), stored, part_cols, plain)]
        for data_file, n in zip(as_stored, new):
            if n.deletion_vector:
                frames.append(self._without_deleted(stored, part_cols, data_file,
                                                    n.deletion_vector))
        rows = reduce(DataFrame.unionByName, frames)
        return rows.select(*[F.col(f"`{physical.get(f.name, f.name)}`").alias(f.name)
                             for f in schema.fields])

    # -- the log -----------------------------------------------------------------------
    @staticmethod
    def _replay(actions: Iterable[dict], new: dict[str, dict[str, Any]]) -> None:
        """Bring `new` (path -> its latest add action) forward over one commit."""
        actions = list(actions)
        removed = {lf.hive_unescape(a["remove"]["path"]) for a in actions
                   if "remove" in a and a["remove"].get("dataChange", True)}
        added = set()
        for action in actions:
            add = action.get("add")
            if add is None or not add.get("dataChange", True):
                continue
            path = lf.hive_unescape(add["path"])
            added.add(path)
            if path not in removed or path in new:  # new rows, or a new vector of new rows
                new[path] = add
        for path in removed - added:  # deleted whole
            new.pop(path, None)

    def _log_exists(self, version: int) -> bool:
        info = self._fs.get_file_info(f"{self._fs_root}/_delta_log/{version:020d}.json")
        return info.type != pa.fs.FileType.NotFound

    def _checkpoint_adds(self, version: int, new: dict[str, dict[str, Any]]) -> int:
        """Fill `new` with the add actions of the latest checkpoint at or before
        `version`; returns its version."""
        found = self._fs.get_file_info(pa.fs.FileSelector(f"{self._fs_root}/_delta_log"))
        points: dict[int, list[str]] = {}
        for info in found:
            name = info.base_name
            if ".checkpoint" in name and name.endswith(".parquet"):
                points.setdefault(int(name.split(".")[0]), []).append(info.path)
        usable = [v for v in points if v <= version]
        if not usable:
            raise FileNotFoundError(f"{self.name}: neither the log of version 0 nor a "
                                    f"checkpoint is left to read the table from")
        at = max(usable)
        for path in points[at]:
            with self._fs.open_input_file(path) as handle:
                adds = pq.read_table(handle, columns=["add"]).column("add").to_pylist()
            for add in adds:
                if add is not None:
                    new[lf.hive_unescape(add["path"])] = add
        return at

    @staticmethod
    def _physical(dt) -> dict[str, str]:
        """Logical -> physical column name under column mapping (empty without it)."""
        if dt.metadata().configuration.get("delta.columnMapping.mode", "none") == "none":
            return {}
        return {f.name: f.metadata[PHYSICAL] for f in to_spark(dt.schema()).fields
                if PHYSICAL in f.metadata}

    # -- deletion vectors --------------------------------------------------------------
    def _without_deleted(self, stored: T.StructType, part_cols: list[str],
                         data_file: DataFile, vector: dict[str, Any]) -> DataFrame:
        """One file's rows but those its deletion vector marks, by Parquet row index."""
        gone = deleted_rows(vector, self._read_bytes)
        data = T.StructType([f for f in stored.fields if f.name not in part_cols])
        rows = (self.spark.read.schema(data).parquet(f"{self._spark_root()}/{data_file.path}")
                .select("*", F.col("_metadata.row_index").alias(ROW_INDEX)))
        deleted = self.spark.createDataFrame(
            pa.table({ROW_INDEX: pa.array(gone, type=pa.int64())}))
        kept = rows.join(F.broadcast(deleted), ROW_INDEX, "left_anti").drop(ROW_INDEX)
        for column in part_cols:
            kept = kept.withColumn(column, F.lit(data_file.partition[column])
                                   .cast(stored[column].dataType))
        return kept.select(*[F.col(f"`{f.name}`") for f in stored.fields])

    def _read_bytes(self, path: str) -> bytes:
        where = path if "://" in path or path.startswith("/") else f"{self._fs_root}/{path}"
        with self._fs.open_input_file(where) as handle:
            return handle.read()
