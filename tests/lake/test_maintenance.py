"""Maintenance of a lake table: compaction that changes no data and races safely, vacuum
that deletes exactly the unreferenced files, protocol details of partition values."""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from pyspark.sql import types as T

from inferwatch.lake import ConcurrentWriteError, Table
from inferwatch.lake.maintenance import Layout, Report, compact, plan, sweep_staging, vacuum

UTC = timezone.utc
SCHEMA = T.StructType([T.StructField("id", T.StringType()), T.StructField("p", T.StringType()),
                       T.StructField("n", T.LongType())])
TARGET = 1 << 20


def _table(spark, tmp_path, files=6) -> Table:
    table = Table(spark, str(tmp_path / "t")).create(SCHEMA, partition_by=["p"])
    for i in range(files):  # small files, two partitions, ids out of order
        rows = [(f"id{(7 * i + j) % 50:03d}", "ab"[i % 2], i * 10 + j) for j in range(5)]
        table.append(spark.createDataFrame(rows, SCHEMA))
    return table


def _rows(table: Table) -> list[tuple]:
    frame = DeltaTable(table.uri).to_pyarrow_table()
    return sorted(zip(frame["id"].to_pylist(), frame["p"].to_pylist(), frame["n"].to_pylist()))


def _log(table: Table, version: int) -> list[dict]:
    with open(f"{table.uri}/_delta_log/{version:020d}.json") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_compaction_keeps_every_row_and_is_no_new_data(spark, tmp_path):
    table = _table(spark, tmp_path)
    rows, before = _rows(table), table.version()
    report = compact(table, Layout("id"), TARGET)
    assert (report.files_before, report.files_compacted, report.files_written) == (6, 6, 2)
    assert report.files_after == 2 and report.max_files_per_partition == 1
    assert _rows(table) == rows  # delta-rs reads exactly the same rows
    assert table.version() == before + 2  # one commit per partition
    for version in (before + 1, before + 2):
        actions = _log(table, version)
        changes = [a.get("add") or a.get("remove") for a in actions if "add" in a or "remove" in a]
        assert changes and all(c["dataChange"] is False for c in changes)
        info = next(a["commitInfo"] for a in actions if "commitInfo" in a)
        assert info["inferwatch.operation"] == "compact"
    assert table.added_files(before) == [] and table.changed_partitions(before) == []
    # the new file is sorted by the layout's column: its rows come back in id order
    ids = [r.id for r in table.read(partitions=[{"p": "a"}]).collect()]
    assert ids == sorted(ids)
    assert compact(table, Layout("id"), TARGET).files_compacted == 0  # nothing left to do


def test_compaction_splits_into_target_sized_files_with_disjoint_ranges(spark, tmp_path):
    table = _table(spark, tmp_path, files=8)
    size = sum(f.size for f in table.files(partitions=[{"p": "a"}]))
    compact(table, Layout("id"), target_bytes=size * 2 // 3)  # two files per partition
    files = sorted(table.files(partitions=[{"p": "a"}]), key=lambda f: f.bounds["id"][0])
    assert len(files) == 2
    assert files[0].bounds["id"][1] < files[1].bounds["id"][0]  # min/max skip files


def test_plan_merges_only_small_files_of_one_group(spark, tmp_path):
    table = _table(spark, tmp_path)
    files = table.files()
    groups = sorted(plan(files, Layout(), TARGET), key=lambda g: g[0].partition["p"])
    assert groups == [
        sorted([f for f in files if f.partition["p"] == p], key=lambda f: f.path) for p in "ab"]
    big = max(f.size for f in files)
    assert plan(files, Layout(), target_bytes=big) == []  # every file is half the target
    by_n = Layout(group=lambda f: f.bounds["n"][0] < 20)
    assert sorted(len(g) for g in plan(files, by_n, TARGET)) == [2, 2]  # 1 + 2 and 1 + 2 split


def test_a_compaction_whose_files_another_writer_replaced_is_refused(spark, tmp_path):
    table = _table(spark, tmp_path)
    read_version = table.version()
    group = table.files(read_version, partitions=[{"p": "a"}])
    table.replace_partitions(spark.createDataFrame([("new", "a", 1)], SCHEMA), [{"p": "a"}], read_version=table.version())
    rows, version = _rows(table), table.version()
    from pyspark.sql import functions as F

    with pytest.raises(ConcurrentWriteError):
        table.rewrite_files(group, read_version, cluster=(F.col("id"), 1))
    assert table.version() == version and _rows(table) == rows
    # an append to the same partition meanwhile does not stop a compaction
    group = table.files(partitions=[{"p": "b"}])
    read_version = table.version()
    table.append(spark.createDataFrame([("late", "b", 2)], SCHEMA))
    table.rewrite_files(group, read_version, cluster=(F.col("id"), 1))
    assert ("late", "b", 2) in _rows(table) and len(_rows(table)) == len(rows) + 1


def test_writers_over_a_compaction(spark, tmp_path):
    """A whole-partition replace read before a compaction still commits (it re-lists its
    files); a file-level replace whose files were compacted away is refused."""
    table = _table(spark, tmp_path)
    read_version = table.version()
    doomed = table.files(read_version, partitions=[{"p": "b"}])[:1]
    compact(table, Layout("id"), TARGET)
    fresh = spark.createDataFrame([("x", "a", 1)], SCHEMA)
    table.replace_partitions(fresh, [{"p": "a"}], read_version=read_version)
    assert [r for r in _rows(table) if r[1] == "a"] == [("x", "a", 1)]
    with pytest.raises(ConcurrentWriteError):
        table.replace_files(spark.createDataFrame([("y", "b", 1)], SCHEMA), doomed,
                            [{"p": "b"}], read_version=read_version)


def _age(path: str, hours: float) -> None:
    old = time.time() - hours * 3600
    os.utime(path, (old, old))


def test_vacuum_deletes_exactly_the_unreferenced_files_and_keeps_time_travel(spark, tmp_path):
    table = _table(spark, tmp_path, files=2)
    v_before = table.version()
    old_files = {f.path for f in table.files()}
    table.replace_partitions(spark.createDataFrame([("r", "a", 1)], SCHEMA), [{"p": "a"}], read_version=table.version())
    live = {f.path for f in table.files()}
    root = table.uri
    orphan_old = f"{root}/p=a/part-killed-old.parquet"
    orphan_new = f"{root}/p=a/part-killed-new.parquet"
    for path in (orphan_old, orphan_new):
        with open(path, "wb") as fh:
            fh.write(b"PAR1")
    for path in live | old_files:
        _age(f"{root}/{path}", 500)
    _age(orphan_old, 500)
    os.makedirs(f"{root}/_staging/killed/p=a")
    with open(f"{root}/_staging/killed/p=a/x.parquet", "wb") as fh:
        fh.write(b"PAR1")
    _age(f"{root}/_staging/killed/p=a/x.parquet", 500)
    _age(f"{root}/_staging/killed", 500)
    os.makedirs(f"{root}/_staging/running")
    with open(f"{root}/_staging/running/y.parquet", "wb") as fh:
        fh.write(b"PAR1")

    report = Report(table.name)
    vacuum(table, report, retention_hours=168)
    # the replaced file was removed just now: kept for time travel; the old orphan goes
    assert not os.path.exists(orphan_old) and os.path.exists(orphan_new)
    assert all(os.path.exists(f"{root}/{p}") for p in live | old_files)
    assert report.files_vacuumed == 1 and report.staging_removed == 1
    assert not os.path.exists(f"{root}/_staging/killed")
    assert os.path.exists(f"{root}/_staging/running/y.parquet")
    assert table.read(version=v_before).count() == 10  # time travel within the retention

    later = Report(table.name)
    vacuum(table, later, retention_hours=0)  # retention over: removed files go
    gone = old_files - live
    assert gone and not any(os.path.exists(f"{root}/{p}") for p in gone)
    assert table.read().count() == 6
    assert sorted(r.n for r in table.read(partitions=[{"p": "a"}]).collect()) == [1]
    # the running write's folder, once it is older than the retention
    assert later.staging_removed == 1 and not os.path.exists(f"{root}/_staging/running")
    assert sweep_staging(table, 0) == 0


def test_timestamp_partition_values_land_in_delta_rs_folders(spark, tmp_path):
    schema = T.StructType([T.StructField("v", T.LongType()),
                           T.StructField("hour", T.TimestampType())])
    hour = datetime(2024, 3, 10, 10, tzinfo=UTC)
    path = tmp_path / "hours"
    write_deltalake(str(path), pa.table({"v": [1], "hour": pa.array(
        [hour], pa.timestamp("us", tz="UTC"))}), partition_by=["hour"])
    table = Table(spark, str(path))
    table.append(spark.createDataFrame([(2, hour)], schema))
    folders = {p.name for p in path.iterdir() if p.name.startswith("hour=")}
    assert folders == {"hour=2024-03-10%2010%3A00%3A00.000000"}
    values = {a["add"]["partitionValues"]["hour"] for v in (0, 1) for a in _log(table, v)
              if "add" in a}
    assert values == {"2024-03-10 10:00:00.000000"}
    assert sorted(r.v for r in table.read(partitions=[{"hour": hour}]).collect()) == [1, 2]


def test_an_empty_string_partition_value_is_null_and_does_not_break_conflict_checks(
        spark, tmp_path):
    table = Table(spark, str(tmp_path / "e")).create(SCHEMA, partition_by=["p"])
    table.append(spark.createDataFrame([("a", "", 1)], SCHEMA))
    read_version = table.version()
    table.append(spark.createDataFrame([("b", "x", 2)], SCHEMA))  # an unrelated commit
    table.replace_partitions(spark.createDataFrame([("c", None, 3)], SCHEMA), [{"p": ""}],
                             read_version=read_version)
    assert sorted((r.id, r.p) for r in table.read().collect()) == [("b", "x"), ("c", None)]
    assert table.files(partitions=[{"p": None}])[0].partition == {"p": None}


def test_version_at_travels_by_timestamp(spark, tmp_path):
    table = _table(spark, tmp_path, files=2)
    first = table.version()
    moment = datetime.now(UTC)
    time.sleep(0.05)
    table.append(spark.createDataFrame([("z", "a", 99)], SCHEMA))
    assert table.version_at(moment) == first
    assert table.version_at(datetime.now(UTC) + timedelta(seconds=1)) == first + 1
    assert table.read(version=table.version_at(moment)).count() == 10
    with pytest.raises(ValueError, match="no version at or before"):
        table.version_at(datetime(2000, 1, 1, tzinfo=UTC))
