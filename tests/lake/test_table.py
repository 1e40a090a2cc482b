"""The lake layer: Spark moves the data, delta-rs keeps the log; delta-rs is the reference."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake
from deltalake.transaction import AddAction
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from inferwatch.lake import ConcurrentWriteError, SchemaMismatchError, Table

UTC = timezone.utc
H10 = datetime(2024, 3, 10, 10, tzinfo=UTC)
H11 = H10 + timedelta(hours=1)
ODD = ["b:c/d e%", "=", "ünï €"]
SCHEMA = T.StructType([
    T.StructField("id", T.LongType()),
    T.StructField("s", T.StringType()),
    T.StructField("hour", T.TimestampType()),
    T.StructField("ts", T.TimestampType()),
    T.StructField("v", T.DoubleType()),
    T.StructField("day", T.DateType()),
])
ARROW = pa.schema([
    ("id", pa.int64()), ("s", pa.string()), ("hour", pa.timestamp("us", tz="UTC")),
    ("ts", pa.timestamp("us", tz="UTC")), ("v", pa.float64()), ("day", pa.date32()),
])
PARTS = ["s", "hour"]
P_A10 = {"s": "a", "hour": H10}
P_B10 = {"s": "b", "hour": H10}


def _row(i: int, s: str | None, hour: datetime | None) -> tuple:
    """One row; `ts` carries odd microseconds, `v` is null for every third id."""
    return (i, s, hour, H10 + timedelta(seconds=i, microseconds=123457 * i % 1_000_000 + 1),
            None if i % 3 == 0 else i / 4, date(2024, 2, 28) + timedelta(days=i))


def _df(spark, rows, schema=SCHEMA):
    return spark.createDataFrame(rows, schema)


def _table(spark, lake_dir: Path, name: str = "t", schema=SCHEMA, parts=PARTS) -> Table:
    return Table(spark, str(lake_dir / name)).create(schema, partition_by=parts)


def _delta_rows(uri: str, columns=SCHEMA.fieldNames()) -> list[tuple]:
    """What delta-rs (no Spark) reads from the table, sorted by id."""
    rows = DeltaTable(uri).to_pyarrow_table().to_pylist()
    return sorted((tuple(r[c] for c in columns) for r in rows), key=lambda r: r[0])


def _arrow(rows) -> pa.Table:
    return pa.Table.from_pylist([dict(zip(SCHEMA.fieldNames(), r)) for r in rows], schema=ARROW)


def _on_disk(t: Table) -> set[str]:
    root = Path(t.uri)
    return {p.relative_to(root).as_posix() for p in root.rglob("*.parquet")}


def _in(rows, *partitions) -> list[tuple]:
    keys = {(p["s"], p["hour"]) for p in partitions}
    return [r for r in rows if (r[1], r[2]) in keys]


BASE = [_row(1, "a", H10), _row(2, "a", H10), _row(3, "a", H11), _row(4, "b", H10),
        _row(5, None, None)]


# -- interop with delta-rs ---------------------------------------------------------------
def test_lake_write_reads_back_exactly_in_delta_rs_and_spark(spark, lake_dir):
    rows = [_row(1, "a", H10), _row(2, ODD[0], H10), _row(3, ODD[1], H11), _row(4, ODD[2], H11),
            _row(5, None, H10), _row(6, "a", None), _row(7, None, None),
            _row(8, ODD[0], H10 + timedelta(microseconds=500_001))]
    t = _table(spark, lake_dir)
    assert t.append(_df(spark, rows)) == 1

    assert _delta_rows(t.uri) == sorted(rows)
    assert DeltaTable(t.uri).to_pyarrow_table().schema.remove_metadata().equals(ARROW)
    assertDataFrameEqual(t.read(), _df(spark, rows))
    parts = {(p["s"], p["hour"]) for p in t.partitions()}
    assert parts == {(r[1], r[2]) for r in rows}


def test_delta_rs_write_reads_exactly_through_table(spark, lake_dir):
    rows = [_row(1, "a", H10), _row(2, ODD[0], H10), _row(3, ODD[1], H11), _row(4, ODD[2], H11),
            _row(5, None, H10), _row(6, "a", None), _row(7, None, None),
            _row(8, "a", H10 + timedelta(microseconds=7))]
    uri = str(lake_dir / "rs")
    write_deltalake(uri, _arrow(rows), partition_by=PARTS)

    t = Table(spark, uri)
    assertDataFrameEqual(t.read(), _df(spark, rows))
    assertDataFrameEqual(t.read(partitions=[{"s": ODD[2], "hour": H11}]),
                         _df(spark, [rows[3]]))


def test_delta_rs_and_lake_appends_interleave(spark, lake_dir):
    uri = str(lake_dir / "mixed")
    first, second, third = BASE[:2], [_row(10, ODD[0], H11), _row(11, None, H10)], BASE[2:]
    write_deltalake(uri, _arrow(first), partition_by=PARTS)
    t = Table(spark, uri)
    assert t.append(_df(spark, second)) == 1
    write_deltalake(uri, _arrow(third), mode="append")

    everything = first + second + third
    assert _delta_rows(uri) == sorted(everything)
    assertDataFrameEqual(t.read(), _df(spark, everything))


# -- timestamps ---------------------------------------------------------------------------
def test_timestamps_keep_microseconds_in_utc_and_dates_both_ways(spark, lake_dir):
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    t = _table(spark, lake_dir, parts=[])
    from_sql = spark.sql(
        "SELECT 1L AS id, 'x' AS s, CAST(NULL AS TIMESTAMP) AS hour, "
        "TIMESTAMP'2024-03-10 23:59:59.999999' AS ts, 0.5D AS v, DATE'2024-02-29' AS day")
    t.append(from_sql)
    # delta-rs wrote these: one instant from far before the Gregorian switch
    old = (2, "y", None, datetime(1000, 1, 1, 0, 0, 0, 1, tzinfo=UTC), None, date(1000, 1, 1))
    write_deltalake(t.uri, _arrow([old]), mode="append")

    assert _delta_rows(t.uri) == [
        (1, "x", None, datetime(2024, 3, 10, 23, 59, 59, 999999, tzinfo=UTC), 0.5,
         date(2024, 2, 29)),
        old,
    ]
    micros = {r["id"]: (r["us"], r["day"]) for r in t.read().select(
        "id", F.unix_micros("ts").alias("us"), F.date_format("day", "yyyy-MM-dd").alias("day"),
    ).collect()}
    year_1000 = (old[3] - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert micros == {1: (1710115199999999, "2024-02-29"), 2: (year_1000, "1000-01-01")}


# -- partition pruning --------------------------------------------------------------------
def test_read_and_files_prune_to_named_partitions(spark, lake_dir):
    t = _table(spark, lake_dir)
    t.append(_df(spark, BASE))
    wanted = [P_A10, {"s": None, "hour": None}]

    assertDataFrameEqual(t.read(partitions=wanted), _df(spark, _in(BASE, *wanted)))
    files = t.files(partitions=wanted)
    assert {(f.partition["s"], f.partition["hour"]) for f in files} == {("a", H10), (None, None)}
    assert sum(f.num_records for f in files) == 3
    # the form Spark's collect() gives back (naive, UTC) names the same partition
    naive = {"s": "a", "hour": H10.replace(tzinfo=None)}
    assertDataFrameEqual(t.read(partitions=[naive]), _df(spark, _in(BASE, P_A10)))
    assert t.read(partitions=[]).count() == 0


def test_read_and_files_prune_with_predicate(spark, lake_dir):
    t = _table(spark, lake_dir)
    t.append(_df(spark, BASE))

    def late(p):
        return p["hour"] is not None and p["hour"] >= H11

    assertDataFrameEqual(t.read(where=late), _df(spark, [BASE[2]]))
    assert [f.partition for f in t.files(where=late)] == [{"s": "a", "hour": H11}]
    only_b = t.read(where=lambda p: p["s"] == "b")
    assertDataFrameEqual(only_b, _df(spark, [BASE[3]]))


# -- snapshots ----------------------------------------------------------------------------
def test_time_travel_history_and_read_added(spark, lake_dir):
    t = _table(spark, lake_dir)
    first, later = [BASE[0], BASE[3]], [BASE[2]]
    replacement = [_row(20, "a", H10)]
    v1 = t.append(_df(spark, first))
    v2 = t.append(_df(spark, later))
    v3 = t.replace_partitions(_df(spark, replacement), [P_A10], read_version=t.version())
    assert (v1, v2, v3) == (1, 2, 3) == (1, 2, t.version())

    assertDataFrameEqual(t.read(version=v1), _df(spark, first))
    assertDataFrameEqual(t.read(version=v2), _df(spark, first + later))
    assertDataFrameEqual(t.read(), _df(spark, [BASE[3]] + later + replacement))
    assertDataFrameEqual(t.read_added(v1, version=v2), _df(spark, later))
    assertDataFrameEqual(t.read_added(v2), _df(spark, replacement))
    assertDataFrameEqual(t.read_added(v1), _df(spark, later + replacement))
    assertDataFrameEqual(t.read_added(None, version=v1), _df(spark, first))
    history = t.history()
    assert [h["version"] for h in history] == [3, 2, 1, 0]
    assert [h.get("inferwatch.operation") for h in history[:3]] == ["replace", "append", "append"]


def test_files_outside_hive_folders_take_partition_values_from_the_log(spark, lake_dir):
    t = _table(spark, lake_dir)
    t.append(_df(spark, BASE[:1]))
    # another writer's layout: flat file names, partition values only in the log
    theirs = [_row(80, ODD[0], H11), _row(81, None, H10)]
    dt, adds = DeltaTable(t.uri), []
    for r in theirs:
        name = f"flat-{r[0]}.parquet"
        pq.write_table(_arrow([r]).drop_columns(PARTS), Path(t.uri) / name)
        values = {"s": r[1], "hour": r[2].strftime("%Y-%m-%d %H:%M:%S")}
        adds.append(AddAction(name, (Path(t.uri) / name).stat().st_size, values, 0, True,
                              '{"numRecords":1}'))
    dt.create_write_transaction(adds, mode="append", schema=dt.schema(), partition_by=PARTS)

    assertDataFrameEqual(t.read(), _df(spark, BASE[:1] + theirs))
    assertDataFrameEqual(t.read(partitions=[{"s": ODD[0], "hour": H11}]),
                         _df(spark, theirs[:1]))
    assert _delta_rows(t.uri) == sorted(BASE[:1] + theirs)


# -- replace_partitions -------------------------------------------------------------------
def test_replace_partitions_touches_only_named_partitions(spark, lake_dir):
    t = _table(spark, lake_dir)
    t.append(_df(spark, BASE))
    new = [_row(30, "a", H10), _row(31, "a", H10)]
    # (b, 10h) is named but gets no rows: it ends up empty
    t.replace_partitions(_df(spark, new), [P_A10, P_B10], read_version=t.version())

    expected = new + [BASE[2], BASE[4]]
    assertDataFrameEqual(t.read(), _df(spark, expected))
    assert _delta_rows(t.uri) == sorted(expected)


def test_replace_partitions_with_arrow_rows_equals_the_spark_write(spark, lake_dir):
    """Driver-side rows (a pyarrow Table) replace partitions without Spark writing
    them: odd partition values, a time partition and an emptied partition read back as
    a Spark DataFrame's write leaves them, in Spark and in delta-rs."""
    rows = [_row(i, ODD[i % 3], H10 + timedelta(hours=i % 2)) for i in range(10, 19)]
    named = [{"s": s, "hour": h} for s in ODD for h in (H10, H11)] + [P_A10]
    by_spark, by_arrow = _table(spark, lake_dir, "spark"), _table(spark, lake_dir, "arrow")
    for t in (by_spark, by_arrow):
        t.append(_df(spark, BASE))
    by_spark.replace_partitions(_df(spark, rows), named, read_version=by_spark.version())
    by_arrow.replace_partitions(_arrow(rows), named, read_version=by_arrow.version())

    expected = sorted(rows + [r for r in BASE if r[1] != "a" or r[2] != H10], key=lambda r: r[0])
    assert _delta_rows(by_arrow.uri) == _delta_rows(by_spark.uri) == expected
    assertDataFrameEqual(by_arrow.read(), by_spark.read())
    assert ({tuple(sorted(f.partition.items())) for f in by_arrow.files()}
            == {tuple(sorted(f.partition.items())) for f in by_spark.files()})
    with pytest.raises(SchemaMismatchError, match="expected the table's"):
        by_arrow.replace_partitions(_arrow(rows).drop(["v"]), named,
                                    read_version=by_arrow.version())


def test_replace_partitions_with_empty_dataframe_empties_them(spark, lake_dir):
    t = _table(spark, lake_dir)
    t.append(_df(spark, BASE))
    version = t.replace_partitions(_df(spark, []), [P_A10, {"s": None, "hour": None}], read_version=t.version())

    assert version == t.version() == 2
    expected = [BASE[2], BASE[3]]
    assertDataFrameEqual(t.read(), _df(spark, expected))
    assert _delta_rows(t.uri) == sorted(expected)
    assert {(f.partition["s"], f.partition["hour"]) for f in t.files()} == {("a", H11), ("b", H10)}


def test_replace_partitions_refuses_rows_outside_and_commits_nothing(spark, lake_dir):
    t = _table(spark, lake_dir)
    t.append(_df(spark, BASE))
    before_files, before_disk = {f.path for f in t.files()}, _on_disk(t)

    with pytest.raises(ValueError, match="outside the partitions"):
        t.replace_partitions(_df(spark, [_row(40, "a", H10), _row(41, "b", H10)]), [P_A10], read_version=t.version())
    # a new column in a refused write must not leave a schema change behind either
    extra = T.StructType([*SCHEMA.fields, T.StructField("note", T.StringType())])
    with pytest.raises(ValueError, match="outside the partitions"):
        t.replace_partitions(_df(spark, [(*_row(42, "b", H10), "x")], extra), [P_A10], read_version=t.version())

    assert t.version() == 1
    assert t.schema().fieldNames() == SCHEMA.fieldNames()
    assert {f.path for f in t.files()} == before_files
    assert _on_disk(t) == before_disk
    assert _delta_rows(t.uri) == sorted(BASE)


def test_replace_partition_with_subsecond_timestamp_value(spark, lake_dir):
    t = _table(spark, lake_dir)
    odd_hour = H10 + timedelta(microseconds=500_000)
    t.append(_df(spark, [_row(1, "a", odd_hour), _row(2, "a", H10)]))
    t.replace_partitions(_df(spark, [_row(3, "a", odd_hour)]), [{"s": "a", "hour": odd_hour}], read_version=t.version())

    expected = [_row(2, "a", H10), _row(3, "a", odd_hour)]
    assertDataFrameEqual(t.read(), _df(spark, expected))
    assert _delta_rows(t.uri) == sorted(expected)


# -- stats --------------------------------------------------------------------------------
def test_add_actions_carry_record_counts_and_column_stats(spark, lake_dir):
    # decimals get counts but no bounds: JSON numbers would round them
    schema = T.StructType([*SCHEMA.fields, T.StructField("amount", T.DecimalType(10, 2))])
    t = _table(spark, lake_dir, schema=schema)
    rows = [(*_row(i, s, H10), Decimal(f"{i}.25") if i != 2 else None)
            for i, s in ((1, "a"), (2, "a"), (3, "a"), (4, "b"))]
    t.append(_df(spark, rows, schema).coalesce(1))

    assertDataFrameEqual(t.read(), _df(spark, rows, schema))
    actions = pa.table(DeltaTable(t.uri).get_add_actions(flatten=True)).to_pylist()
    got = {a["partition.s"]: a for a in actions}
    assert sorted(got) == ["a", "b"] and len(actions) == 2
    for s, group in (("a", rows[:3]), ("b", rows[3:])):
        stats = got[s]
        values = [r[4] for r in group if r[4] is not None]
        assert stats["num_records"] == len(group)
        assert (stats["min.id"], stats["max.id"]) == (group[0][0], group[-1][0])
        assert (stats["min.ts"], stats["max.ts"]) == (min(r[3] for r in group),
                                                      max(r[3] for r in group))
        assert (stats["min.day"], stats["max.day"]) == (group[0][5], group[-1][5])
        assert (stats["min.v"], stats["max.v"]) == (min(values), max(values))
        assert stats["null_count.v"] == len(group) - len(values)
        assert stats["null_count.id"] == 0
        assert stats["null_count.amount"] == sum(r[6] is None for r in group)
        assert stats.get("min.amount") is None and stats.get("max.amount") is None


# -- concurrent writers -------------------------------------------------------------------
def test_replace_refused_when_another_writer_touched_the_partition(spark, lake_dir):
    t = _table(spark, lake_dir)
    t.append(_df(spark, BASE))
    theirs = [_row(50, "a", H10)]

    read_version = t.version()
    Table(spark, t.uri).append(_df(spark, theirs))
    with pytest.raises(ConcurrentWriteError):
        t.replace_partitions(_df(spark, [_row(51, "a", H10)]), [P_A10], read_version=read_version)
    # the other writer may be delta-rs, whose log spells partition values its own way
    read_version = t.version()
    also_theirs = [_row(52, "a", H10)]
    write_deltalake(t.uri, _arrow(also_theirs), mode="append")
    with pytest.raises(ConcurrentWriteError):
        t.replace_partitions(_df(spark, [_row(53, "a", H10)]), [P_A10], read_version=read_version)

    expected = BASE + theirs + also_theirs
    assert t.version() == 3
    assertDataFrameEqual(t.read(), _df(spark, expected))
    assert _on_disk(t) == {f.path for f in t.files()}


def test_replace_retries_over_a_commit_to_other_partitions(spark, lake_dir):
    t = _table(spark, lake_dir)
    t.append(_df(spark, BASE))
    theirs, ours = [_row(60, "b", H10)], [_row(61, "a", H10)]

    read_version = t.version()
    write_deltalake(t.uri, _arrow(theirs), mode="append")
    version = t.replace_partitions(_df(spark, ours), [P_A10], read_version=read_version)

    assert version == t.version() == read_version + 2
    expected = [r for r in BASE if r[1:3] != ("a", H10)] + theirs + ours
    assertDataFrameEqual(t.read(), _df(spark, expected))
    assert _delta_rows(t.uri) == sorted(expected)


def test_guarded_append_refuses_only_when_its_read_partitions_changed(spark, lake_dir):
    t = _table(spark, lake_dir)
    t.append(_df(spark, BASE))
    read_version = t.version()
    write_deltalake(t.uri, _arrow([_row(70, "b", H10)]), mode="append")

    extra = T.StructType([*SCHEMA.fields, T.StructField("note", T.StringType())])
    with pytest.raises(ConcurrentWriteError):
        t.append(_df(spark, [(*_row(71, "b", H10), "x")], extra), read_version=read_version,
                 read_partitions=[P_B10])
    assert t.schema() == SCHEMA  # a refused write leaves no new column behind
    assert t.append(_df(spark, [_row(72, "a", H10)]), read_version=read_version,
                    read_partitions=[P_A10]) == 3
    assert sorted(r[0] for r in _delta_rows(t.uri)) == [1, 2, 3, 4, 5, 70, 72]


def test_threads_appending_at_once_both_land(spark, lake_dir, monkeypatch):
    t = _table(spark, lake_dir)
    # hold both writers at the commit so that they race for the same version
    barrier, commit = threading.Barrier(2, timeout=60), Table._commit

    def racing_commit(self, *args, **kwargs):
        barrier.wait()
        return commit(self, *args, **kwargs)

    monkeypatch.setattr(Table, "_commit", racing_commit)
    batches = [[_row(i, "a", H10), _row(i + 1, "b", H11)] for i in (100, 200)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        versions = list(pool.map(lambda rows: Table(spark, t.uri).append(_df(spark, rows)),
                                 batches))

    assert sorted(versions) == [1, 2] and t.version() == 2
    assertDataFrameEqual(t.read(), _df(spark, batches[0] + batches[1]))


# -- killed writes ------------------------------------------------------------------------
def test_uncommitted_files_are_invisible(spark, lake_dir):
    t = _table(spark, lake_dir)
    t.append(_df(spark, BASE))
    committed = next(f for f in t.files() if f.partition == P_A10)
    orphan = _arrow([_row(90, "a", H10)]).drop_columns(PARTS)
    staging = Path(t.uri) / "_staging" / uuid.uuid4().hex / "s=a"
    staging.mkdir(parents=True)
    pq.write_table(orphan, staging / "part-00000-killed.snappy.parquet")
    folder = (Path(t.uri) / committed.path).parent
    pq.write_table(orphan, folder / "part-00001-never-committed.snappy.parquet")

    assertDataFrameEqual(t.read(), _df(spark, BASE))
    assert _delta_rows(t.uri) == sorted(BASE)
    t.append(_df(spark, [_row(91, "a", H10)]))
    assertDataFrameEqual(t.read(partitions=[P_A10]), _df(spark, _in(BASE, P_A10) + [_row(91, "a", H10)]))
    assert sorted(r[0] for r in _delta_rows(t.uri)) == [1, 2, 3, 4, 5, 91]


# -- schema evolution ---------------------------------------------------------------------
def test_new_columns_merge_and_missing_columns_read_null(spark, lake_dir):
    t = _table(spark, lake_dir)
    t.append(_df(spark, BASE[:2]))
    wider = T.StructType([SCHEMA["id"], SCHEMA["s"], SCHEMA["hour"],
                          T.StructField("note", T.StringType())])
    t.append(_df(spark, [(10, "a", H11, "new")], wider))

    merged = T.StructType([*SCHEMA.fields, T.StructField("note", T.StringType())])
    assert t.schema() == merged
    expected = [(*r, None) for r in BASE[:2]] + [(10, "a", H11, None, None, None, "new")]
    assertDataFrameEqual(t.read(), _df(spark, expected, merged))
    assert _delta_rows(t.uri, merged.fieldNames()) == sorted(expected)


def test_narrower_integer_is_widened_into_long_column(spark, lake_dir):
    t = _table(spark, lake_dir)
    narrow = T.StructType([T.StructField("id", T.IntegerType()), SCHEMA["s"], SCHEMA["hour"],
                           T.StructField("v", T.IntegerType())])
    t.append(_df(spark, [(7, "a", H10, 3)], narrow))

    assert t.schema() == SCHEMA
    assertDataFrameEqual(t.read(), _df(spark, [(7, "a", H10, None, 3.0, None)]))


def test_incompatible_type_change_is_refused_and_commits_nothing(spark, lake_dir):
    t = _table(spark, lake_dir)
    t.append(_df(spark, BASE[:1]))
    before = _on_disk(t)
    bad = T.StructType([SCHEMA["id"], SCHEMA["s"], SCHEMA["hour"],
                        T.StructField("v", T.StringType()), T.StructField("note", T.StringType())])

    with pytest.raises(SchemaMismatchError, match="'v'"):
        t.append(_df(spark, [(8, "a", H10, "high", "x")], bad))
    assert t.version() == 1 and t.schema() == SCHEMA
    assert _on_disk(t) == before
    assert not (Path(t.uri) / "_staging").exists() or not any((Path(t.uri) / "_staging").iterdir())


# -- idempotent writers -------------------------------------------------------------------
def test_txn_version_records_idempotent_writes(spark, lake_dir):
    t = _table(spark, lake_dir)
    assert t.txn_version("job") is None
    t.append(_df(spark, BASE[:1]), txn=("job", 5))
    assert t.txn_version("job") == 5
    t.replace_partitions(_df(spark, BASE[:1]), [P_A10], txn=("job", 6), read_version=t.version())
    assert (t.txn_version("job"), t.txn_version("other")) == (6, None)
    assertDataFrameEqual(t.read(), _df(spark, BASE[:1]))
