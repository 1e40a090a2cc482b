"""Identity is (model_id, model_version, inference_id); re-sends are duplicates within the
lookback wherever their ts falls; accounting counts the input apart from the outcomes."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from inferwatch.model_config import parse_model
from inferwatch.ingest import ingest_records
from inferwatch.jobs import join_labels, partition, performance
from tests.helpers import context, delta_frame, models

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 10, 5, tzinfo=UTC)


def _row(i: str, version: str, ts: datetime, p: float = 0.6, model: str = "fraud") -> dict:
    return {"inference_id": i, "model_id": model, "model_version": version, "ts": ts,
            "prediction": p}


def test_champion_and_challenger_sharing_ids_are_both_kept_and_both_labelled(spark, lake_dir):
    ctx = context(spark, lake_dir)
    shadow = [_row(f"r{i}", v, T0 + timedelta(minutes=i), p)
              for i in range(4) for v, p in (("champion", 0.8), ("challenger", 0.2))]
    ingest_records(ctx.lake, "inferences", shadow, models())
    run = partition.run(ctx)
    assert (run.rows_out, run.rows_duplicate) == (8, 0)
    ingest_records(ctx.lake, "labels", [{"inference_id": f"r{i}", "label": 1.0,
                                         "label_ts": T0 + timedelta(hours=2)} for i in range(4)],
                   models())
    labelled = join_labels.run(ctx)
    assert (labelled.rows_in, labelled.rows_out, labelled.rows_pending) == (4, 4, 0)
    performance.run(dataclasses.replace(ctx, models={"fraud": models()["fraud"]}))
    perf = delta_frame(f"{lake_dir}/metrics/performance")
    versions = perf[(perf["granularity"] == "1h") & (perf["slice_key"] == "model_version")]
    by_version = versions.set_index("slice_value")
    assert by_version.loc["champion", "n_labeled"] == by_version.loc["challenger", "n_labeled"] == 4
    assert by_version.loc["champion", "recall"] == 1.0  # 0.8 >= threshold 0.3
    assert by_version.loc["challenger", "recall"] == 0.0  # 0.2 < 0.3


def test_a_resend_is_a_duplicate_within_the_lookback_wherever_its_ts_falls(spark, lake_dir):
    ctx = context(spark, lake_dir)
    ingest_records(ctx.lake, "inferences", [_row("a", "v1", T0), _row("b", "v1", T0)], models())
    partition.run(ctx)
    lookback = timedelta(days=ctx.env.duplicate_lookback_days)
    assert lookback >= timedelta(days=7)
    ingest_records(ctx.lake, "inferences", [
        _row("a", "v1", T0 + timedelta(days=2, hours=3)),   # re-sent, another day and hour
        _row("a", "v2", T0 + timedelta(days=2)),            # the same id from another version
        _row("b", "v1", T0 + lookback + timedelta(hours=1)),  # beyond the lookback: new
    ], models())
    run = partition.run(ctx)
    assert (run.rows_in, run.rows_out, run.rows_duplicate) == (3, 2, 1)
    stored = delta_frame(f"{lake_dir}/inferences", ["inference_id", "model_version", "ts"])
    assert stored[["inference_id", "model_version"]].values.tolist() == [
        ["a", "v1"], ["a", "v2"], ["b", "v1"], ["b", "v1"]]
    assert stored.loc[stored["inference_id"] == "a", "ts"].min() == T0


def test_accounting_catches_a_row_lost_between_input_and_outcomes(spark, lake_dir,
                                                                   monkeypatch):
    ctx = context(spark, lake_dir)
    ingest_records(ctx.lake, "inferences", [_row(f"x{i}", "v1", T0) for i in range(5)],
                   models())
    real = partition.mark_stored

    def losing(flagged, stored, lookback):  # a bug that drops one row on the way
        return real(flagged, stored, lookback).where(F.col("inference_id") != "x3")

    monkeypatch.setattr(partition, "mark_stored", losing)
    with pytest.raises(RuntimeError, match="row accounting broken: in=5 but out=4"):
        partition.run(ctx)
    assert not (Path(lake_dir) / "inferences" / "model_id=fraud").exists()


def test_prediction_column_named_by_the_model_and_labels_given_as_class_names(spark, lake_dir):
    scored = parse_model(Path("conf/models/s.yaml"), {
        "model_id": "scored", "problem_type": "binary_classification", "prediction": "score",
        "threshold": 0.5})
    mode = parse_model(Path("conf/models/m.yaml"), {
        "model_id": "mode", "problem_type": "multiclass_classification",
        "classes": ["car", "bike"]})
    described = {"scored": scored, "mode": mode}
    ctx = context(spark, lake_dir, described)
    ingest_records(ctx.lake, "inferences", [
        {"inference_id": "s1", "model_id": "scored", "ts": T0, "score": 0.9},
        {"inference_id": "m1", "model_id": "mode", "ts": T0, "prediction": 0.0,
         "prediction_label": "car"},
        {"inference_id": "m2", "model_id": "mode", "ts": T0, "prediction": 1.0,
         "prediction_label": "bike"},
    ], described)
    partition.run(ctx)
    stored = delta_frame(f"{lake_dir}/inferences", ["inference_id", "prediction"])
    assert stored.values.tolist() == [["m1", 0.0], ["m2", 1.0], ["s1", 0.9]]
    ingest_records(ctx.lake, "labels", [
        {"inference_id": "m1", "label": "car", "label_ts": T0 + timedelta(hours=1)},
        {"inference_id": "m2", "label": "car", "label_ts": T0 + timedelta(hours=1)},
        {"inference_id": "s1", "label": "yes", "label_ts": T0 + timedelta(hours=1)},
    ], described)
    run = join_labels.run(ctx)
    assert (run.rows_out, run.rows_quarantined) == (2, 1)
    reasons = delta_frame(f"{lake_dir}/quarantine")["reason"].tolist()
    assert reasons == ["label 'yes' is not a number (model scored is not multiclass)"]
    performance.run(ctx)
    perf = delta_frame(f"{lake_dir}/metrics/performance")
    whole = perf[(perf["model_id"] == "mode") & (perf["slice_key"] == "*")
                 & (perf["granularity"] == "1h")].iloc[0]
    assert (whole["n_labeled"], whole["accuracy"]) == (2, 0.5)
