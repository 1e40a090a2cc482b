"""Seams between runs: rows that arrived but were not read yet survive `maintain`, a
missed input file fails the run's accounting, a label for a request id that two models
scored is not guessed."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from deltalake import DeltaTable

from inferwatch.ingest import ingest_records
from inferwatch.jobs import join_labels, maintain, partition
from inferwatch.lake.faults import InjectedFault, fail_after_commit
from inferwatch.lake.maintenance import Layout, compact
from inferwatch.lake.snapshot import LostInputError
from tests.helpers import context, models

UTC = timezone.utc
START = datetime(2026, 3, 2, 10, tzinfo=UTC)
NOW = START + timedelta(days=1)


def _inferences(first: int, n: int, model: str = "fraud") -> list[dict]:
    return [{"inference_id": f"r{i}", "model_id": model, "ts": START + timedelta(minutes=i),
             "prediction": 0.1 * (i % 10), "amount": 10.0 * i, "country": "DE"}
            for i in range(first, first + n)]


def _labels(ids: list[int], model: str | None = None) -> list[dict]:
    return [{"inference_id": f"r{i}", "label": float(i % 2), "model_id": model,
             "label_ts": (START + timedelta(hours=2)).isoformat()} for i in ids]


def _count(lake_dir, name: str) -> int:
    return DeltaTable(f"{lake_dir}/{name}").to_pyarrow_table(columns=["inference_id"]).num_rows


def test_maintain_between_runs_loses_no_unread_row_or_label(spark, lake_dir):
    ctx = context(spark, lake_dir)
    ingest_records(ctx.lake, "inferences", _inferences(0, 5), models())
    partition.run(ctx, now=NOW)
    ingest_records(ctx.lake, "labels", _labels([0, 1]), models())
    join_labels.run(ctx, now=NOW)
    for first in (5, 10):  # two small files of the same ingest day: compactable
        ingest_records(ctx.lake, "inferences", _inferences(first, 5), models())
    ingest_records(ctx.lake, "labels", _labels([2]), models())
    ingest_records(ctx.lake, "labels", _labels([3]), models())
    kept = maintain.run(ctx, now=NOW)
    assert kept.status == "ok"
    # the two unread raw files are left as they are: no vacuum can take them
    assert kept.details["raw/inferences"].get("files_compacted", 0) == 0
    run = partition.run(ctx, now=NOW)
    assert (run.rows_in, run.rows_out) == (10, 10)
    join_labels.run(ctx, now=NOW)
    assert _count(lake_dir, "inferences") == 15
    assert _count(lake_dir, "labels") == 4


def test_rows_compacted_before_they_were_read_are_still_read(spark, lake_dir):
    """Another engine (or an older maintain) compacts files no job has read yet: the
    incremental read takes them from the files the log added, which are still there."""
    ctx = context(spark, lake_dir)
    ingest_records(ctx.lake, "inferences", _inferences(0, 5), models())
    partition.run(ctx, now=NOW)
    for first in (5, 10):
        ingest_records(ctx.lake, "inferences", _inferences(first, 5), models())
    raw = ctx.lake.table("raw/inferences")
    report = compact(raw, Layout("ts"), 1 << 30)
    assert report.files_compacted >= 3  # the read file and both unread ones
    run = partition.run(ctx, now=NOW)
    assert (run.rows_in, run.rows_out, run.rows_duplicate) == (10, 10, 0)
    assert _count(lake_dir, "inferences") == 15


def test_unread_rows_vacuumed_away_fail_loudly(spark, lake_dir):
    ctx = context(spark, lake_dir)
    ingest_records(ctx.lake, "inferences", _inferences(0, 5), models())
    partition.run(ctx, now=NOW)
    since = ctx.lake.table("raw/inferences").version()
    for first in (5, 10):
        ingest_records(ctx.lake, "inferences", _inferences(first, 5), models())
    raw = ctx.lake.table("raw/inferences")
    added = raw.added_files(since)
    compact(raw, Layout("ts"), 1 << 30)
    raw._fs.delete_file(f"{raw._fs_root}/{added[0].path}")  # what a vacuum would do
    with pytest.raises(LostInputError, match="compacted and vacuumed"):
        partition.run(ctx, now=NOW)
    assert _count(lake_dir, "inferences") == 5


def test_a_file_the_read_missed_fails_the_accounting(spark, lake_dir, monkeypatch):
    ctx = context(spark, lake_dir)
    for first in (0, 5):
        ingest_records(ctx.lake, "inferences", _inferences(first, 5), models())
    table_type = type(ctx.lake.table("raw/inferences"))
    listed = table_type.added_files
    monkeypatch.setattr(table_type, "added_files", lambda self, *a, **k: listed(self, *a, **k)[1:])
    with pytest.raises(RuntimeError, match="row accounting broken: in=10"):
        partition.run(ctx, now=NOW)


def test_a_label_without_model_for_an_id_two_models_scored_is_held(spark, lake_dir):
    ctx = context(spark, lake_dir)
    eta = [{**r, "prediction": 30.0, "city": "Lisbon"} for r in _inferences(0, 2, "eta")]
    ingest_records(ctx.lake, "inferences", _inferences(0, 2) + eta, models())
    partition.run(ctx, now=NOW)
    ingest_records(ctx.lake, "labels", _labels([0]) + _labels([1], "eta"), models())
    run = join_labels.run(ctx, now=NOW)
    assert (run.rows_in, run.rows_out, run.rows_quarantined) == (2, 1, 1)
    labels = DeltaTable(f"{lake_dir}/labels").to_pandas(columns=["inference_id", "model_id"])
    assert labels.values.tolist() == [["r1", "eta"]]  # the hinted one, for that model only
    quarantine = DeltaTable(f"{lake_dir}/quarantine").to_pandas()
    reasons = quarantine[quarantine["row"].str.contains('"r0"')]["reason"].tolist()
    assert reasons == ["inference id r0 was scored by models eta, fraud: "
                       "send the label with its model_id"]


def test_a_raw_column_named_with_a_dot_stops_no_model(spark, lake_dir):
    """Written before ingest refused such names, or by another writer: partition leaves
    the column out, with a note, and every model's rows are stored."""
    import pyarrow as pa
    from deltalake import write_deltalake

    ctx = context(spark, lake_dir)
    ingest_records(ctx.lake, "inferences", _inferences(0, 3, "eta"), models())
    raw = ctx.lake.table("raw/inferences")
    schema = pa.schema(raw.delta().schema().to_arrow())
    rows = [{**r, "ts": START, "ingest_date": START.date(), "user.age": "41"}
            for r in _inferences(3, 2)]
    typed = pa.Table.from_pylist(rows, pa.schema(
        [schema.field(n) for n in schema.names if n in rows[0]] + [("user.age", pa.string())]))
    write_deltalake(raw.uri, typed, mode="append", schema_mode="merge")
    run = partition.run(ctx, now=NOW)
    assert (run.status, run.rows_out) == ("ok", 5)
    assert any("user.age" in note for note in run.notes)
    stored = DeltaTable(f"{lake_dir}/inferences").to_pandas(columns=["model_id"])
    assert sorted(stored["model_id"]) == ["eta"] * 3 + ["fraud"] * 2


@pytest.mark.parametrize("killed_after", [1, 2], ids=["deliveries", "inferences"])
def test_a_rerun_after_a_kill_takes_the_rows_that_came_since(spark, lake_dir, killed_after):
    """Found by `make soak` (seed 1021): a re-run finished the killed run's batch, or
    found it whole, and left the rows ingested since for yet another run."""
    ctx = context(spark, lake_dir)
    ingest_records(ctx.lake, "inferences", _inferences(0, 5), models())
    with fail_after_commit(killed_after), pytest.raises(InjectedFault):
        partition.run(ctx, now=NOW)  # commits state/deliveries, inferences, the index
    ingest_records(ctx.lake, "inferences", _inferences(5, 5), models())
    partition.run(ctx, now=NOW)
    assert _count(lake_dir, "inferences") == 10
    assert _count(lake_dir, "inference_index") == 10
    delivered = DeltaTable(f"{lake_dir}/state/deliveries").to_pandas(columns=["rows_new"])
    assert delivered["rows_new"].sum() == 10  # the first batch counted once
