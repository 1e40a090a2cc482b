"""Commits that cannot lose data: a commit that landed though the store reported an
error is found by its id, never retried or refused; an app transaction is enforced at
commit time; the commit info says what the commit was and which version it read."""
from __future__ import annotations

import json

import pytest
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError
from pyspark.sql import types as T

from inferwatch.lake import ConcurrentWriteError, Table
from inferwatch.lake.commit import COMMIT_ID

SCHEMA = T.StructType([T.StructField("id", T.LongType()), T.StructField("p", T.StringType())])


def _table(spark, tmp_path) -> Table:
    return Table(spark, str(tmp_path / "t")).create(SCHEMA, partition_by=["p"])


def _ids(table: Table) -> list[int]:
    return sorted(DeltaTable(table.uri).to_pyarrow_table()["id"].to_pylist())


def _commit_info(table: Table, version: int) -> dict:
    log = (table.uri.removeprefix("file://") + f"/_delta_log/{version:020d}.json")
    with open(log) as fh:
        return next(json.loads(line)["commitInfo"] for line in fh if "commitInfo" in line)


def test_a_commit_that_landed_but_reported_failure_is_kept_and_not_repeated(
        spark, tmp_path, monkeypatch):
    table = _table(spark, tmp_path)
    table.append(spark.createDataFrame([(1, "a")], SCHEMA))
    real = DeltaTable.create_write_transaction
    failures = []

    def lands_then_fails(self, *args, **kwargs):  # the object store lost the reply
        real(self, *args, **kwargs)
        if not failures:
            failures.append(1)
            raise CommitFailedError("connection reset after the log entry was written")

    monkeypatch.setattr(DeltaTable, "create_write_transaction", lands_then_fails)
    version = table.replace_partitions(spark.createDataFrame([(2, "a"), (3, "a")], SCHEMA),
                                       [{"p": "a"}], read_version=table.version())
    assert failures == [1]
    assert version == table.version() == 2  # one commit, not a retried second one
    assert _ids(table) == [2, 3]  # its files are there: nothing was deleted
    info = _commit_info(table, version)
    assert info["inferwatch.operation"] == "replace" and info["inferwatch.read_version"] == "1"
    assert len(info[COMMIT_ID]) == 32


def test_a_second_commit_with_the_same_app_transaction_commits_nothing(spark, tmp_path):
    table = _table(spark, tmp_path)
    rows = spark.createDataFrame([(1, "a"), (2, "b")], SCHEMA)
    first = table.append(rows, txn=("run-42", 7))
    again = table.append(rows, txn=("run-42", 7))  # an overlapping run with the same key
    older = table.append(rows, txn=("run-42", 6))
    assert first == again == older == table.version()
    assert _ids(table) == [1, 2]
    staged = [p for p in (tmp_path / "t").rglob("*.parquet")]
    assert len(staged) == 2  # the skipped writes left no file behind
    assert table.append(rows, txn=("run-42", 8)) == first + 1


def test_a_replace_over_a_changed_partition_is_refused_and_deletes_only_its_own_files(
        spark, tmp_path):
    table = _table(spark, tmp_path)
    table.append(spark.createDataFrame([(1, "a"), (2, "b")], SCHEMA))
    read = table.version()
    table.append(spark.createDataFrame([(3, "b")], SCHEMA))  # another partition: no conflict
    table.replace_partitions(spark.createDataFrame([(4, "a")], SCHEMA), [{"p": "a"}],
                             read_version=read)
    assert _ids(table) == [2, 3, 4]
    stale = table.version() - 1
    with pytest.raises(ConcurrentWriteError, match="changed partitions this replace read"):
        table.replace_partitions(spark.createDataFrame([(5, "a")], SCHEMA), [{"p": "a"}],
                                 read_version=stale)
    assert _ids(table) == [2, 3, 4]


def test_a_compaction_is_no_new_data_for_incremental_reads(spark, tmp_path):
    table = _table(spark, tmp_path)
    for i in range(6):  # six small files in two partitions
        table.append(spark.createDataFrame([(i, "ab"[i % 2])], SCHEMA))
    before = table.version()
    DeltaTable(table.uri).optimize.compact()  # rewrites rows, dataChange=false
    assert table.version() == before + 1
    assert len(table.files()) == 2
    assert table.added_files(before) == [] and table.changed_partitions(before) == []
    assert _ids(table) == list(range(6))
    table.append(spark.createDataFrame([(9, "b")], SCHEMA))
    assert table.read_added(before).collect() == [(9, "b")]
    assert table.changed_partitions(before) == [{"p": "b"}]


def test_a_cursor_past_the_logs_retention_still_resumes(spark, tmp_path):
    table = _table(spark, tmp_path)
    table.append(spark.createDataFrame([(1, "a")], SCHEMA))
    cursor = table.version()
    table.append(spark.createDataFrame([(2, "b")], SCHEMA))
    DeltaTable(table.uri).create_checkpoint()
    log = tmp_path / "t" / "_delta_log"
    for version in range(cursor + 1):  # what log cleanup removes past the retention
        (log / f"{version:020d}.json").unlink()
    # the cursor's own snapshot is gone, the commits after it are not: exact resume
    assert [r.id for r in table.read_added(cursor).collect()] == [2]
    assert table.changed_partitions(cursor) == [{"p": "b"}]
    (log / f"{cursor + 1:020d}.json").unlink()  # the table still opens from its checkpoint
    # nothing left to compare with: every file counts as new, every partition changed
    assert sorted(r.id for r in table.read_added(cursor).collect()) == [1, 2]
    assert sorted(p["p"] for p in table.changed_partitions(cursor)) == ["a", "b"]
