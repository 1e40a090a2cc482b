"""The join-labels job: `raw/labels` → `labels` (partitioned by the inference's model and hour).

Each run takes the labels added to `raw/labels` since the last run plus those still
pending, keeps the latest `label_ts` per (inference_id, hinted model) (ties: the later
ingest, then the higher label; the others are counted as superseded), and finds the
inferences they label: labels with both hints (`model_id`, `inference_ts`) in just those
`inferences` partitions, the rest (and wrong `inference_ts` hints) through
`inference_index`, reading only their ids' buckets. A label applies to every stored
version of its model's inference with its id: the model it names, or, when it names
none, the one model that scored the id. A label naming no model for an id that several
models scored is not guessed: it is quarantined with a reason naming the models.
Outcomes, each counted:

- matched: merged into `labels` (the latest label per inference wins there too);
- quarantined: a label that is not a number for a model that is not multiclass, one
  naming no model for an id several models scored, or one still pending after
  `pending_expiry_days`;
- pending: no inference yet; kept in `labels_pending` and retried on every run.

Commits: `labels` (an idempotent replace), then `labels_pending`, which holds the still
pending labels *and* the rejected ones (`reason` set) and carries the raw version
consumed as an app transaction (the job's cursor), so every decision of a run lands in
one commit; then the rejected labels go to `quarantine` with that pending version as
their app transaction. A re-run after a kill anywhere in between redoes the batch or
finishes the flush, never both; a rejected row leaves `labels_pending` at the next
run that changes it.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from inferwatch.context import Context
from inferwatch.ingest.rules import REASON, quarantine_rows
from inferwatch.jobs.index import entries
from inferwatch.runs import Run, track
from inferwatch.scoped_conf import sized
from inferwatch.lake.tables import LABELS, LABELS_PENDING, Lake
from inferwatch.metrics.performance import MULTICLASS

JOB = "join-labels"
SOURCE = "raw/labels"
CURSOR = f"{JOB}:{SOURCE}"
LOCATION = ["inference_id", "model_id", "hour", "ts"]
# a label is one per (id, hinted model): labels for one request id sent to two models
HINTED = ("inference_id", "model_id")
AMBIGUOUS = "_models"  # the models that scored a label's id, when it names none and they are several


def latest_per_inference(labels: DataFrame, key: Sequence[str] = ("inference_id",)) -> DataFrame:
    """One row per `key`: the latest label_ts (then the latest ingest, the higher label)."""
    order = Window.partitionBy(*key).orderBy(
        F.col("label_ts").desc_nulls_last(), F.col("ingested_at").desc_nulls_last(),
        F.col("label").desc_nulls_last(), F.col("label_class").desc_nulls_last())
    return (labels.withColumn("_rank", F.row_number().over(order))
            .where(F.col("_rank") == 1).drop("_rank"))


def locate(lake: Lake, batch: DataFrame) -> DataFrame:
    """(inference_id, model_id, hour, ts) of every stored inference the batch's ids name."""
    inferences = lake.table("inferences")
    hinted = batch.where(F.col("model_id").isNotNull() & F.col("inference_ts").isNotNull())
    hint_parts = [r.asDict() for r in hinted.select(
        "model_id", F.date_trunc("hour", "inference_ts").alias("hour")).distinct().collect()]
    found = (inferences.read(partitions=hint_parts)
             .join(hinted.select("inference_id", "model_id"), on=["inference_id", "model_id"],
                   how="left_semi")
             .select(*LOCATION))
    unmatched = batch.select("inference_id").join(found, on="inference_id", how="left_anti")
    indexed = entries(lake, unmatched).select(*LOCATION)
    # versions of one id in one hour: the earliest ts gives the feedback delay
    return (found.unionByName(indexed).groupBy("inference_id", "model_id", "hour")
            .agg(F.min("ts").alias("ts")))


def run(ctx: Context, now: datetime | None = None) -> Run:
    now = now or datetime.now(timezone.utc)
    lake, env = ctx.lake, ctx.env
    raw, pending = lake.table(SOURCE), lake.table("labels_pending")
    multiclass = [m for m, c in ctx.models.items() if c.problem_type == MULTICLASS]
    with track(lake, JOB, {"pending_expiry_days": env.pending_expiry_days}) as job:
        since, latest, pending_version = pending.txn_version(CURSOR), raw.version(), pending.version()
        job.inputs.update({SOURCE: latest, "labels_pending": pending_version})
        _flush(lake, job, pending_version)  # what a killed run decided and could not flush
        added = raw.added_files(since, latest) if since is None or since < latest else []
        waiting = pending.files(pending_version, stats=())
        if not added and not waiting:
            job.notes.append(f"no new labels since version {since}")
            return job
        stored = pending.read_files(waiting, pending_version)
        flushed = stored.where(F.col("reason").isNotNull()).count()
        logged = raw.added_records(since, latest) if added else 0
        if logged is None:  # an add action without a record count (another writer)
            logged = raw.read_files(added, latest).count()
        job.rows_in = logged + sum(f.num_records or 0 for f in waiting) - flushed
        cols = [f.name for f in LABELS_PENDING.fields if f.name not in ("first_seen", "reason")]
        incoming = stored.where(F.col("reason").isNull()).select(*cols, "first_seen")
        if added:
            incoming = incoming.unionByName(raw.read_files(added, latest).select(*cols)
                                            .withColumn("first_seen", F.lit(now).cast("timestamp")))
        with sized(lake.spark, job.rows_in):  # few rows: interpreted expressions
            batch = latest_per_inference(incoming, HINTED).persist()
            located = None
            try:
                located = _judged(_located(lake, batch), now, env.pending_expiry_days,
                                  multiclass).persist()
                outcome = located.groupBy("inference_id", "_hint_model").agg(
                    F.when(F.max(F.col("model_id").isNotNull() & F.col(REASON).isNull()), "matched")
                    .when(F.max(F.col(REASON).isNotNull()), "quarantined")
                    .otherwise("pending").alias("outcome"))
                counts = dict(outcome.groupBy("outcome").count().collect())
                job.rows_out, job.rows_pending = counts.get("matched", 0), counts.get("pending", 0)
                job.rows_quarantined = counts.get("quarantined", 0)
                job.rows_duplicate = job.rows_in - batch.count()
                job.check_accounting()
                if not added and not job.rows_out and not job.rows_quarantined:
                    job.notes.append(f"{job.rows_pending} labels still pending; nothing changed")
                    return job
                cursor = (CURSOR, latest) if since is None or latest > since else None
                _commit(lake, job, located, cursor, pending_version)
            finally:
                batch.unpersist()
                if located is not None:
                    located.unpersist()
    return job


def _located(lake: Lake, batch: DataFrame) -> DataFrame:
    """Each label with every stored inference it applies to (none: model_id null)."""
    labels = batch.withColumnRenamed("model_id", "_hint_model")
    places = locate(lake, batch).withColumnRenamed("inference_id", "_place_id")
    applies = ((F.col("inference_id") == F.col("_place_id"))
               & (F.col("_hint_model").isNull() | (F.col("_hint_model") == F.col("model_id"))))
    joined = labels.join(places, on=applies, how="left").drop("_place_id")
    # a label naming no model, for an id that several models scored, is not guessed
    models = F.sort_array(F.collect_set("model_id").over(
        Window.partitionBy("inference_id", "_hint_model")))
    ambiguous = F.col("_hint_model").isNull() & (F.size(models) > 1)
    return (joined.withColumn(AMBIGUOUS, F.when(ambiguous, F.array_join(models, ", ")))
            .withColumns({c: F.when(F.col(AMBIGUOUS).isNull(), F.col(c))
                          for c in ("model_id", "hour", "ts")}))


def _judged(located: DataFrame, now: datetime, expiry_days: float,
            multiclass: list[str]) -> DataFrame:
    """REASON for a label that must be quarantined, null for a good or pending one."""
    expired = F.col("first_seen") < F.lit(now - timedelta(days=expiry_days))
    not_number = F.col("label").isNull() & ~F.col("model_id").isin(multiclass)
    return located.withColumn(REASON, F.when(
        F.col(AMBIGUOUS).isNotNull(),
        F.concat(F.lit("inference id "), F.col("inference_id"), F.lit(" was scored by models "),
                 F.col(AMBIGUOUS), F.lit(": send the label with its model_id"))).when(
        F.col("model_id").isNotNull() & not_number,
        F.concat(F.lit("label '"), F.col("label_class"), F.lit("' is not a number (model "),
                 F.col("model_id"), F.lit(" is not multiclass)"))).when(
        F.col("model_id").isNull() & expired,
        F.concat(F.lit("no inference with this id"),
                 F.coalesce(F.concat(F.lit(" in model "), F.col("_hint_model")), F.lit("")),
                 F.lit(f" arrived within {expiry_days:g} days"))).cast("string"))


def _commit(lake: Lake, job: Run, located: DataFrame, cursor: tuple[str, int] | None,
            pending_version: int) -> None:
    """Labels first (an idempotent replace), then labels_pending with the cursor (when new
    raw labels were read) and the rejected labels (`reason` set), then those to quarantine
    (`_flush`)."""
    labels, pending = lake.table("labels"), lake.table("labels_pending")
    matched = located.where(F.col("model_id").isNotNull() & F.col(REASON).isNull()).select(
        "inference_id", "label", "label_class", "label_ts",
        (F.col("label_ts").cast("double") - F.col("ts").cast("double")).alias("delay_s"),
        "ts", "source", "ingested_at", "model_id", "hour")
    parts = [r.asDict() for r in matched.select("model_id", "hour").distinct().collect()]
    if parts:
        read_version = labels.version()
        merged = latest_per_inference(
            labels.read(version=read_version, partitions=parts).unionByName(matched),
            key=("model_id", "hour", "inference_id"))
        job.outputs["labels"] = labels.replace_partitions(
            merged.select(*LABELS.fieldNames()), parts, read_version=read_version)
    rejected = (located.where(F.col(REASON).isNotNull())
                .withColumn("model_id", F.coalesce("model_id", "_hint_model"))
                .dropDuplicates(["inference_id", "model_id"]))
    still = (located.where(F.col("model_id").isNull() & F.col(REASON).isNull())
             .withColumn("model_id", F.col("_hint_model")))
    rows = [f.name for f in LABELS_PENDING.fields if f.name != "reason"]
    version = pending.overwrite(
        still.select(*rows, F.lit(None).cast("string").alias("reason"))
        .unionByName(rejected.select(*rows, F.col(REASON).alias("reason"))),
        txn=cursor, read_version=pending_version)
    job.outputs["labels_pending"] = version
    _flush(lake, job, version)
    job.notes.append(f"{job.rows_out} labels matched into {len(parts)} (model_id, hour) "
                     f"partitions; {job.rows_pending} pending")


def _flush(lake: Lake, job: Run, pending_version: int) -> None:
    """Quarantine the labels that version `pending_version` of labels_pending rejected,
    once: the commit carries that version as an app transaction."""
    pending, quarantine = lake.table("labels_pending"), lake.table("quarantine")
    app = f"{JOB}:quarantine"
    if (quarantine.txn_version(app) or -1) >= pending_version:
        return
    rejected = pending.read(version=pending_version).where(F.col("reason").isNotNull())
    if rejected.isEmpty():
        return
    originals = [f.name for f in LABELS_PENDING.fields if f.name != "reason"]
    job.outputs["quarantine"] = quarantine.append(
        quarantine_rows(rejected.withColumn(REASON, F.col("reason")), SOURCE, JOB, job.run_id,
                        originals), txn=(app, pending_version))
