"""The maintain job: compaction bounds the file counts and no job recomputes anything
after it; the compacted id index still finds every inference; pending labels expire."""
from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest
from deltalake import DeltaTable

from inferwatch.context import open_context
from inferwatch.ingest import ingest_records
from inferwatch.jobs import join_labels, maintain, partition, performance
from inferwatch.jobs.index import _holds_any
from inferwatch.runs import runs
from inferwatch.lake.files import DataFile
from tests.helpers import delta_frame
# the shared lake's start and length; maintain runs at LATER, a month after the data, as
# the lake's partition runs did: the index's older files get sorted by id
from tests.scenarios import DAYS, LATER, START, copy_lake


@pytest.fixture(scope="module")
def lake(spark, seed_lake, tmp_path_factory):
    """A copy of seed 5's shared lake (tests/scenarios.py): three days ingested and run file
    by file, as an hourly schedule would leave them: several small files per index bucket,
    raw partition and quarantine partition."""
    root = copy_lake(seed_lake(5), tmp_path_factory.mktemp("maintain"))
    return open_context("conf/local.yaml", lake=str(root),
                        models_dir=root.parent / "input" / "models", spark=spark)


def _tables(ctx) -> dict[str, pd.DataFrame]:
    # job_runs and leases change with every run by design
    return {name: delta_frame(ctx.lake.path(name)) for name in ctx.lake.names()
            if name not in ("job_runs", "leases")}


def _bucket_files(ctx) -> dict[int, int]:
    counts: dict[int, int] = {}
    for f in ctx.lake.table("inference_index").files(stats=()):
        counts[f.partition["id_bucket"]] = counts.get(f.partition["id_bucket"], 0) + 1
    return counts


def test_maintain_compacts_and_no_job_recomputes_anything(lake):
    ctx = lake
    before_tables = _tables(ctx)
    before_buckets = _bucket_files(ctx)
    assert max(before_buckets.values()) >= 4  # one file per partition run and bucket
    run = maintain.run(ctx, now=LATER)
    assert run.status == "ok", run.details
    index = run.details["inference_index"]
    assert index["files_compacted"] > 0 and index["max_files_per_partition"] == 1
    assert run.details["job_runs"]["files_after"] == 1
    assert max(_bucket_files(ctx).values()) == 1
    recorded = runs(ctx.lake.root, "maintain")[-1]
    assert json.loads(recorded["details"])["inference_index"]["files_compacted"] == \
        index["files_compacted"]
    # the same rows everywhere, read by delta-rs
    after_tables = _tables(ctx)
    assert set(after_tables) == set(before_tables)
    for name, frame in before_tables.items():
        pd.testing.assert_frame_equal(after_tables[name], frame, obj=name)
    # ... and a compaction is no new data for any job
    assert partition.run(ctx, now=LATER).rows_in == 0
    labels_run = join_labels.run(ctx, now=START + timedelta(days=DAYS))
    assert labels_run.rows_out == 0 and labels_run.rows_quarantined == 0
    perf = performance.run(ctx)
    assert all(part.rows_in == 0 for part in perf.models.values()), perf.models
    assert not perf.outputs
    # a second maintain finds nothing to merge but the run records written since
    again = maintain.run(ctx, now=LATER)
    merged = {name: d.get("files_compacted", 0) for name, d in again.details.items()}
    assert {n: c for n, c in merged.items() if c and n != "job_runs"} == {}, merged


def test_the_compacted_index_still_finds_labels_without_hints(lake):
    ctx = lake
    if not any(r["job"] == "maintain" for r in runs(ctx.lake.root)):
        maintain.run(ctx, now=LATER)
    stored = DeltaTable(ctx.lake.path("inferences")).to_pandas(
        columns=["inference_id", "model_id"])
    ids = sorted(stored["inference_id"].unique())[:25]
    ingest_records(ctx.lake, "labels", [
        {"inference_id": i, "label": 1.0, "label_ts": LATER.isoformat()} for i in ids],
        ctx.models)
    matched = join_labels.run(ctx, now=LATER)
    assert matched.rows_in == 25 and matched.rows_out == 25 and matched.rows_pending == 0
    labels = DeltaTable(ctx.lake.path("labels")).to_pandas(columns=["inference_id", "label_ts"])
    latest = labels[labels["label_ts"] == pd.Timestamp(LATER)]
    # every stored version of each id got the label
    assert sorted(latest["inference_id"]) == sorted(
        stored[stored["inference_id"].isin(ids)]["inference_id"])


def test_maintain_expires_old_pending_labels(lake):
    ctx = lake
    ingest_records(ctx.lake, "labels", [
        {"inference_id": "never-seen", "label": 0.0, "label_ts": LATER.isoformat()}],
        ctx.models)
    join_labels.run(ctx, now=LATER)  # pending from LATER on
    run = maintain.run(ctx, now=LATER + timedelta(days=91))
    assert run.details["join-labels"]["labels_expired_or_rejected"] == 1
    quarantine = DeltaTable(ctx.lake.path("quarantine")).to_pandas()
    reasons = quarantine[quarantine["row"].str.contains("never-seen")]["reason"].tolist()
    assert reasons == ["no inference with this id arrived within 90 days"]


def test_an_id_range_skips_files_that_cannot_hold_the_ids():
    f = DataFile("x", 1, 1, {"id_bucket": 0}, {"inference_id": ("id100", "id199")})
    assert _holds_any(f, ["id050", "id150"]) and not _holds_any(f, ["id050", "id200"])
    assert _holds_any(DataFile("y", 1, 1, {}, {}), ["a"])  # no bounds: maybe
