"""`lake.jvm_text`: a projection's expressions and a scan's paths reach the JVM in a few
round trips, whatever their number, with the same frame as pyspark's own calls; strings
the separator cannot carry fall back to them."""
from __future__ import annotations

import contextlib

import py4j.clientserver as clientserver

from inferwatch.lake.jvm_text import read_parquet, select_text


@contextlib.contextmanager
def _round_trips():
    """Counts the driver's py4j commands while the block runs, but for the deletions of
    JVM objects Python dropped (sent when its garbage collector gets to them)."""
    sent = [0]
    original = clientserver.ClientServerConnection.send_command

    def counted(self, command):
        sent[0] += not command.startswith("m\nd\n")
        return original(self, command)

    clientserver.ClientServerConnection.send_command = counted
    try:
        yield sent
    finally:
        clientserver.ClientServerConnection.send_command = original


def test_200_expressions_cost_a_few_round_trips_and_select_what_select_expr_does(spark):
    frame = spark.range(5).selectExpr("id", "id * 2 AS `b.c`")
    exprs = [f"id + {i} AS c{i}" for i in range(199)] + ["`b.c`"]
    select_text(frame, exprs[:5])  # the JVM's splitter is looked up once per process
    with _round_trips() as ours:
        got = select_text(frame, exprs)
    with _round_trips() as theirs:
        want = frame.selectExpr(*exprs)
    assert ours[0] <= 6 and theirs[0] >= 200, (ours, theirs)
    assert got.columns == want.columns
    assert got.collect() == want.collect()


def test_a_string_holding_the_separator_and_a_short_list_take_pyspark_s_call(spark):
    frame = spark.range(3)
    exprs = ["id", "'a\x1fb' AS s", "id + 1 AS j", "id + 2 AS k"]
    assert select_text(frame, exprs).collect() == frame.selectExpr(*exprs).collect()
    assert select_text(frame, ["id"]).collect() == frame.selectExpr("id").collect()


def test_many_paths_read_as_one_scan(spark, tmp_path):
    paths = []
    for i in range(30):
        path = str(tmp_path / f"part{i}.parquet")
        spark.range(i, i + 2).write.parquet(path)
        paths.append(path)
    with _round_trips() as ours:
        got = read_parquet(spark.read.schema("id long"), paths)
    assert ours[0] <= 12, ours  # py4j alone adds each of the 30 paths in a call
    want = spark.read.schema("id long").parquet(*paths)
    assert sorted(r.id for r in got.collect()) == sorted(r.id for r in want.collect())
    assert got.count() == 60
