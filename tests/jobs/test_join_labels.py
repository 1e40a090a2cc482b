from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd

from inferwatch.ingest import ingest_records
from inferwatch.jobs import join_labels
from inferwatch.jobs import partition
from tests.helpers import delta_frame, models, context

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 10, 5, tzinfo=UTC)


def _inference(i: str, hours: int = 0) -> dict:
    return {"inference_id": i, "model_id": "fraud", "model_version": "v1",
            "ts": T0 + timedelta(hours=hours), "prediction": 0.4}


def test_late_early_duplicate_and_unhinted_labels(spark, lake_dir):
    ctx = context(spark, lake_dir)
    lake = ctx.lake
    ingest_records(lake, "inferences", [_inference("a"), _inference("b", 1), _inference("c", 2)],
                   models())
    partition.run(ctx)
    ingest_records(lake, "labels", [
        # hinted and correct
        {"inference_id": "a", "label": 1.0, "label_ts": T0 + timedelta(days=1),
         "model_id": "fraud", "inference_ts": T0},
        # no hints: found through the id index
        {"inference_id": "b", "label": 0.0, "label_ts": T0 + timedelta(hours=3)},
        # corrected twice: the latest label_ts wins, whatever the order of arrival
        {"inference_id": "c", "label": 1.0, "label_ts": T0 + timedelta(days=3)},
        {"inference_id": "c", "label": 0.0, "label_ts": T0 + timedelta(days=2)},
        # wrong hint: falls back to the index
        {"inference_id": "b", "label": 1.0, "label_ts": T0 + timedelta(hours=4),
         "model_id": "fraud", "inference_ts": T0 + timedelta(days=9)},
        # label before its inference
        {"inference_id": "d", "label": 1.0, "label_ts": T0 + timedelta(hours=5),
         "model_id": "fraud"},
    ], models())
    run = join_labels.run(ctx)
    # one label per (id, hinted model): b's unhinted and fraud-hinted labels both apply
    # to fraud's b, where the later label_ts wins; c's earlier correction is superseded
    assert (run.rows_in, run.rows_out, run.rows_duplicate, run.rows_pending) == (6, 4, 1, 1)
    labels = delta_frame(f"{lake_dir}/labels", ["inference_id", "label", "delay_s", "hour"])
    assert labels[["inference_id", "label"]].values.tolist() == [["a", 1.0], ["b", 1.0],
                                                                  ["c", 1.0]]
    assert labels["delay_s"].tolist() == [86400.0, 3 * 3600.0, 3 * 86400.0 - 2 * 3600.0]
    assert (labels["hour"] == [pd.Timestamp("2026-03-02 10:00", tz="UTC"),
                               pd.Timestamp("2026-03-02 11:00", tz="UTC"),
                               pd.Timestamp("2026-03-02 12:00", tz="UTC")]).all()
    pending = delta_frame(f"{lake_dir}/labels_pending")
    assert pending[["inference_id", "model_id"]].values.tolist() == [["d", "fraud"]]

    # re-running with nothing new changes nothing (the pending label stays pending)
    version = lake.table("labels").version()
    join_labels.run(ctx)
    assert lake.table("labels").version() == version
    assert delta_frame(f"{lake_dir}/labels_pending")["inference_id"].tolist() == ["d"]

    # the inference arrives later: the pending label is matched, and a 90-day-late
    # correction for `a` changes exactly a's hour
    ingest_records(lake, "inferences", [_inference("d", 5)], models())
    partition.run(ctx)
    ingest_records(lake, "labels", [{"inference_id": "a", "label": 0.0,
                                     "label_ts": T0 + timedelta(days=90)}], models())
    before = lake.table("labels").version()
    join_labels.run(ctx)
    labels = delta_frame(f"{lake_dir}/labels", ["inference_id", "label"])
    assert labels.values.tolist() == [["a", 0.0], ["b", 1.0], ["c", 1.0], ["d", 1.0]]
    assert delta_frame(f"{lake_dir}/labels_pending").empty
    touched = {f.partition["hour"] for f in lake.table("labels").files()
               if f.path not in {g.path for g in lake.table("labels").files(version=before)}}
    assert touched == {datetime(2026, 3, 2, 10, tzinfo=UTC), datetime(2026, 3, 2, 15, tzinfo=UTC)}


def test_a_label_pending_past_the_expiry_is_quarantined_with_its_reason(spark, lake_dir):
    ctx = context(spark, lake_dir)
    ingest_records(ctx.lake, "labels", [
        {"inference_id": "ghost", "label": 1.0, "label_ts": T0, "model_id": "fraud"},
        {"inference_id": "later", "label": 0.0, "label_ts": T0}], models())
    first = join_labels.run(ctx, now=T0)
    assert (first.rows_in, first.rows_pending, first.rows_quarantined) == (2, 2, 0)
    expiry = timedelta(days=ctx.env.pending_expiry_days)
    ingest_records(ctx.lake, "inferences", [_inference("later")], models())
    partition.run(ctx)
    kept = join_labels.run(ctx, now=T0 + expiry - timedelta(hours=1))
    assert (kept.rows_out, kept.rows_pending, kept.rows_quarantined) == (1, 1, 0)
    gone = join_labels.run(ctx, now=T0 + expiry + timedelta(hours=1))
    assert (gone.rows_in, gone.rows_pending, gone.rows_quarantined) == (1, 0, 1)
    reason = "no inference with this id in model fraud arrived within 90 days"
    assert delta_frame(f"{lake_dir}/quarantine")["reason"].tolist() == [reason]
    # the rejection was committed with the cursor; the label no longer waits
    assert delta_frame(f"{lake_dir}/labels_pending")["reason"].tolist() == [reason]
    again = join_labels.run(ctx, now=T0 + expiry + timedelta(hours=2))
    assert (again.rows_in, again.rows_quarantined) == (0, 0)
    assert delta_frame(f"{lake_dir}/quarantine")["reason"].tolist() == [reason]  # once
    ingest_records(ctx.lake, "labels", [{"inference_id": "later", "label": 1.0,
                                         "label_ts": T0 + timedelta(days=1)}], models())
    join_labels.run(ctx, now=T0 + expiry + timedelta(hours=3))
    assert delta_frame(f"{lake_dir}/labels_pending").empty  # gone at the next rewrite
    assert delta_frame(f"{lake_dir}/quarantine")["reason"].tolist() == [reason]
