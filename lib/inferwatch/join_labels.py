"""The join-labels job: `raw/labels` → `labels` (partitioned by the inference's hour).

A label finds its inference in two steps. Labels carrying both hints (`model_id` and the
inference's `inference_ts`) are looked up in just those `inferences` partitions; the rest
(and hints that were wrong) in `inference_index`, reading only the hash buckets of their
own ids. The cost of a run is therefore: new labels + pending labels + the inference
partitions their hints name + the index buckets of unhinted ids + the label partitions
they land in; it does not grow with the inference history except through bucket size
(history / 32 per bucket for unhinted labels). A label whose inference is not known yet
waits in `labels_pending` and is retried on every run; nothing is dropped. For an
inference labelled twice the latest `label_ts` wins (ties: the later ingest).
"""
from __future__ import annotations

from datetime import datetime, timezone

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from inferwatch.partition import id_bucket
from inferwatch.runs import Run, last_input_version, track
from inferwatch.tables import LABELS, LABELS_PENDING, Lake

JOB = "join-labels"
SOURCE = "raw/labels"


def latest_per_inference(labels: DataFrame) -> DataFrame:
    """One row per inference_id: the latest label_ts (then the latest ingest) wins."""
    order = Window.partitionBy("inference_id").orderBy(
        F.col("label_ts").desc_nulls_last(), F.col("ingested_at").desc_nulls_last(),
        F.col("label").desc_nulls_last())
    return (labels.withColumn("_rank", F.row_number().over(order))
            .where(F.col("_rank") == 1).drop("_rank"))


def _locations(lake: Lake, batch: DataFrame) -> DataFrame:
    """(inference_id, model_id, hour, ts) of the batch's inferences that are stored."""
    inferences, index = lake.table("inferences"), lake.table("inference_index")
    hinted = batch.where(F.col("model_id").isNotNull() & F.col("inference_ts").isNotNull())
    hint_parts = [r.asDict() for r in hinted.select(
        "model_id", F.date_trunc("hour", "inference_ts").alias("hour")).distinct().collect()]
    found = (inferences.read(partitions=hint_parts)
             .join(hinted.select("inference_id"), on="inference_id", how="left_semi")
             .select("inference_id", "model_id", "hour", "ts"))
    unmatched = batch.select("inference_id").join(found, on="inference_id", how="left_anti")
    buckets = {r["b"] for r in unmatched.select(id_bucket().alias("b")).distinct().collect()}
    if buckets:
        indexed = (index.read(where=lambda p: p["id_bucket"] in buckets)
                   .join(unmatched, on="inference_id", how="left_semi")
                   .select("inference_id", "model_id", "hour", "ts"))
        found = found.unionByName(indexed)
    return found.dropDuplicates(["inference_id"])


def run_join_labels(lake: Lake, now: datetime | None = None) -> Run:
    now = now or datetime.now(timezone.utc)
    raw, labels, pending = lake.table(SOURCE), lake.table("labels"), lake.table("labels_pending")
    with track(lake, JOB) as run:
        since = last_input_version(lake.root, JOB, SOURCE)
        latest = raw.version()
        run.inputs[SOURCE] = latest
        waiting = pending.read()
        new = raw.read_added(since, version=latest) if since is None or since < latest else None
        if new is None and not pending.files():
            run.notes.append(f"no new labels since version {since}")
            return run
        cols = [f.name for f in LABELS_PENDING.fields if f.name != "first_seen"]
        incoming = waiting.select(*cols, "first_seen")
        if new is not None:
            incoming = incoming.unionByName(
                new.select(*cols).withColumn("first_seen", F.lit(now).cast("timestamp")))
        incoming = incoming.persist()
        try:
            n_in = incoming.count()
            batch = latest_per_inference(incoming).persist()
            n_unique = batch.count()
            located = batch.withColumnRenamed("model_id", "_hint_model").join(
                _locations(lake, batch), on="inference_id", how="left")
            matched = located.where(F.col("hour").isNotNull()).select(
                "inference_id", "label", "label_ts",
                (F.col("label_ts").cast("double") - F.col("ts").cast("double")).alias("delay_s"),
                "ts", "source", "ingested_at", "model_id", "hour").persist()
            parts = [r.asDict() for r in matched.select("model_id", "hour").distinct().collect()]
            n_matched = matched.count()
            run.rows_in, run.rows_duplicate = n_in, n_in - n_unique
            run.rows_out = n_unique
            if new is None and n_matched == 0:  # only pending labels, still unmatched
                run.notes.append(f"{n_unique} labels still pending; nothing changed")
                return run
            read_version = labels.version()
            if parts:
                merged = latest_per_inference(
                    labels.read(version=read_version, partitions=parts).unionByName(matched))
                run.outputs["labels"] = labels.replace_partitions(
                    merged.select(*LABELS.fieldNames()), parts, read_version=read_version)
            still = (located.where(F.col("hour").isNull())
                     .withColumn("model_id", F.col("_hint_model"))
                     .select(*[f.name for f in LABELS_PENDING.fields]))
            run.outputs["labels_pending"] = pending.overwrite(still)
            run.notes.append(f"{n_matched} matched into {len(parts)} (model_id, hour) partitions; "
                             f"{n_unique - n_matched} pending")
            run.check_accounting()
            matched.unpersist()
            batch.unpersist()
        finally:
            incoming.unpersist()
    return run
