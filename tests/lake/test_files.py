"""File-level replace: rewrite just the files whose rows change."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.lake import ConcurrentWriteError, Table

UTC = timezone.utc
DAY0 = datetime(2024, 3, 10, tzinfo=UTC)
SCHEMA = T.StructType([T.StructField("k", T.StringType()),
                       T.StructField("w", T.TimestampType()),
                       T.StructField("v", T.LongType())])
PART = {"k": "m"}


def _rows(days: range, v: int) -> list[tuple]:
    return [("m", DAY0 + timedelta(days=d, hours=h), v) for d in days for h in (0, 12)]


@pytest.fixture()
def table(spark, lake_dir) -> Table:
    t = Table(spark, str(lake_dir / "f")).create(SCHEMA, partition_by=["k"])
    t.replace_files(spark.createDataFrame(_rows(range(6), 0), SCHEMA), [], [PART],
                    read_version=t.version(), spans=F.date_trunc("day", "w"))
    return t


def test_span_files_each_hold_one_span_with_bounds(spark, table):
    """One file per day span of the partition, though fewer tasks than days wrote them
    (a task's files of two spans of one partition get distinct names)."""
    assert int(spark.conf.get("spark.sql.shuffle.partitions")) < 6
    files = table.files()
    assert sum(f.num_records for f in files) == 12
    assert len(files) == 6 and len({f.path for f in files}) == 6
    for f in files:
        low, high = f.bounds["w"]
        assert low.date() == high.date() and high - low == timedelta(hours=12), (low, high)


def test_replace_files_swaps_only_the_doomed_files(spark, table):
    files = table.files()
    day2 = DAY0 + timedelta(days=2)
    doomed = [f for f in files if f.bounds["w"][0] <= day2 + timedelta(hours=12)
              and f.bounds["w"][1] >= day2]
    version = table.version()
    kept = table.read_files(doomed, version).where(F.date_trunc("day", "w") != F.lit(day2))
    new = spark.createDataFrame(_rows(range(2, 3), 7), SCHEMA)
    table.replace_files(kept.unionByName(new), doomed, [PART], read_version=version)

    rows = DeltaTable(table.uri).to_pyarrow_table().to_pylist()
    assert len(rows) == 12
    assert {r["w"]: r["v"] for r in rows} == {w: 7 if w.date() == day2.date() else 0
                                             for _, w, _v in _rows(range(6), 0)}
    untouched = {f.path for f in files} - {f.path for f in doomed}
    assert untouched <= {f.path for f in table.files()}


def test_replace_files_refuses_rows_outside_and_concurrent_changes(spark, table):
    version = table.version()
    with pytest.raises(ValueError, match="outside the partitions"):
        table.replace_files(spark.createDataFrame([("x", DAY0, 1)], SCHEMA), [], [PART],
                            read_version=version)
    table.append(spark.createDataFrame([("m", DAY0, 5)], SCHEMA))  # another writer
    with pytest.raises(ConcurrentWriteError):
        table.replace_files(spark.createDataFrame([("m", DAY0, 9)], SCHEMA),
                            table.files(version)[:1], [PART], read_version=version)
    assert len(DeltaTable(table.uri).to_pyarrow_table()) == 13


def test_a_partial_partition_key_is_refused(spark, lake_dir):
    t = Table(spark, str(lake_dir / "two")).create(SCHEMA, partition_by=["k", "w"])
    with pytest.raises(ValueError, match=r"lacks partition columns \['w'\]"):
        t.read(partitions=[{"k": "m"}])
    assert t.read(partitions=[{"k": "m", "w": None}]).count() == 0


def test_partitions_filtered_by_some_columns_equal_the_filter_in_python(spark, lake_dir):
    t = Table(spark, str(lake_dir / "two")).create(SCHEMA, partition_by=["k", "w"])
    rows = [(k, DAY0 + timedelta(hours=h), h) for k in ("m", "n", "m n") for h in range(3)]
    t.append(spark.createDataFrame(rows + [(None, DAY0, 9)], SCHEMA))
    every = t.partitions()
    assert len(every) == 10
    for k in ("m", "n", "m n", "absent"):
        assert sorted(t.partitions(k=k), key=str) == sorted(
            [p for p in every if p["k"] == k], key=str), k
    assert t.partitions(k="m", w=DAY0 + timedelta(hours=1)) == [
        {"k": "m", "w": DAY0 + timedelta(hours=1)}]
