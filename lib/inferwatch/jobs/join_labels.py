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

A model's `labels_table` (a Delta table another system writes) is a source of its own,
read by its versions after `raw/labels` in the same run (`jobs/sources.py`): its rows
checked by ingest's rules (those refused go to `quarantine` first, under the table's own
app transaction), then matched with every pending label as above, its cursor the app
transaction `join-labels:<model>:<uri>` of `labels_pending`; its counts and failure are
that model's `job_runs` row.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.context import Context
from inferwatch.ingest.rules import REASON, quarantine_rows
from inferwatch.jobs.index import entries
from inferwatch.lake.jvm_text import select_text
from inferwatch.lake.sql_text import sql_ident, sql_in, sql_string
from inferwatch.jobs.sources import RawLog, TableLog, consume_each
from inferwatch.runs import Run, track
from inferwatch.scoped_conf import sized
from inferwatch.lake.tables import LABELS, LABELS_PENDING, Lake
from inferwatch.metrics.performance import MULTICLASS

JOB = "join-labels"
SOURCE = "raw/labels"
CURSOR = f"{JOB}:{SOURCE}"  # raw/labels' app transaction (`sources.RawLog.app`)
LOCATION = ["inference_id", "model_id", "hour", "ts"]
# a label is one per (id, hinted model): labels for one request id sent to two models
HINTED = ("inference_id", "model_id")
AMBIGUOUS = "_models"  # the models that scored a label's id, when it names none and they are several


def latest_per_inference(labels: DataFrame, key: Sequence[str] = ("inference_id",)) -> DataFrame:
    """One row per `key`: the latest label_ts (then the latest ingest, the higher label)."""
    order = (f"PARTITION BY {', '.join(sql_ident(k) for k in key)} ORDER BY "
             "label_ts DESC NULLS LAST, ingested_at DESC NULLS LAST, label DESC NULLS LAST, "
             "label_class DESC NULLS LAST")
    return (labels.withColumn("_rank", F.expr(f"row_number() OVER ({order})"))
            .where("_rank = 1").drop("_rank"))


def locate(lake: Lake, batch: DataFrame) -> DataFrame:
    """(inference_id, model_id, hour, ts) of every stored inference the batch's ids name."""
    inferences = lake.table("inferences")
    hinted = batch.where("model_id IS NOT NULL AND inference_ts IS NOT NULL")
    hint_parts = [r.asDict() for r in hinted.selectExpr(
        "model_id", "date_trunc('HOUR', inference_ts) AS hour").distinct().collect()]
    found = select_text(inferences.read(partitions=hint_parts)
                        .join(hinted.select("inference_id", "model_id"),
                              on=["inference_id", "model_id"], how="left_semi"), LOCATION)
    unmatched = batch.select("inference_id").join(found, on="inference_id", how="left_anti")
    indexed = select_text(entries(lake, unmatched), LOCATION)
    # versions of one id in one hour: the earliest ts gives the feedback delay
    return (found.unionByName(indexed).groupBy("inference_id", "model_id", "hour")
            .agg(F.expr("min(ts) AS ts")))


def run(ctx: Context, now: datetime | None = None) -> Run:
    """Match the labels added since the last run, and those pending: `raw/labels`, then
    each model's `labels_table` (its progress and failure that model's row)."""
    now = now or datetime.now(timezone.utc)
    with track(ctx.lake, JOB, {"pending_expiry_days": ctx.env.pending_expiry_days}) as job:
        consume_each(ctx, job, "labels",
                     lambda run, source: _consume(ctx, run, source, now))
    return job


def _consume(ctx: Context, job: Run, source: RawLog | TableLog, now: datetime) -> None:
    """Match one source's new labels, with every pending one, in one batch."""
    lake = ctx.lake
    pending = lake.table("labels_pending")
    multiclass = [m for m, c in ctx.models.items() if c.problem_type == MULTICLASS]
    since, latest, pending_version = (pending.txn_version(source.app), source.version(),
                                      pending.version())
    job.inputs.update({source.key: latest, "labels_pending": pending_version})
    _flush(lake, job, pending_version)  # what a killed run decided and could not flush
    new = source.batch(since, latest, job) if since is None or since < latest else None
    try:
        waiting = pending.files(pending_version, stats=())
        if not (new and new.files) and not waiting:
            job.notes.append(f"no new labels in {source.name} since version {since}")
            return
        stored = pending.read_files(waiting, pending_version)
        flushed = stored.where("reason IS NOT NULL").count()
        logged, refused = (0, 0) if not (new and new.files) else (new.logged, new.refused_count)
        if logged is None:  # an add action without a record count (another writer)
            logged = new.rows.count() + refused
        job.rows_in = logged + sum(f.num_records or 0 for f in waiting) - flushed
        cols = [f.name for f in LABELS_PENDING.fields if f.name not in ("first_seen", "reason")]
        incoming = select_text(stored.where("reason IS NULL"),
                               [*map(sql_ident, cols), "first_seen"])
        if new and new.files:
            incoming = incoming.unionByName(select_text(new.rows, [sql_ident(c) for c in cols])
                                            .withColumn("first_seen", F.lit(now).cast("timestamp")))
        with sized(lake.spark, job.rows_in):  # few rows: interpreted expressions
            _match(ctx, job, incoming, now, multiclass, refused, (source.app, since, latest),
                   new, pending_version)
    finally:
        if new is not None:
            new.release()


def _match(ctx: Context, job: Run, incoming: DataFrame, now: datetime, multiclass: list[str],
           refused: int, cursor: tuple[str, int | None, int], new, pending_version: int) -> None:
    """Judge and count the batch, then commit it (`_commit`) with the source's cursor."""
    lake, env = ctx.lake, ctx.env
    app, since, latest = cursor
    batch = latest_per_inference(incoming, HINTED).persist()
    located = None
    try:
        located = _judged(_located(lake, batch), now, env.pending_expiry_days,
                          multiclass).persist()
        outcome = located.groupBy("inference_id", "_hint_model").agg(F.expr(
            f"CASE WHEN max(model_id IS NOT NULL AND {REASON} IS NULL) THEN 'matched' "
            f"WHEN max({REASON} IS NOT NULL) THEN 'quarantined' ELSE 'pending' END "
            "AS outcome"))
        counts = dict(outcome.groupBy("outcome").count().collect())
        job.rows_out, job.rows_pending = counts.get("matched", 0), counts.get("pending", 0)
        job.rows_quarantined = counts.get("quarantined", 0) + refused
        job.rows_duplicate = job.rows_in - refused - batch.count()
        job.check_accounting()
        if not (new and new.files) and not job.rows_out and not job.rows_quarantined:
            job.notes.append(f"{job.rows_pending} labels still pending; nothing changed")
            return
        quarantine = lake.table("quarantine")
        if refused and (quarantine.txn_version(f"{app}:refused") or -1) < latest:
            job.outputs["quarantine"] = quarantine.append(new.refused,
                                                          txn=(f"{app}:refused", latest))
        _commit(lake, job, located, (app, latest) if since is None or latest > since else None,
                pending_version)
    finally:
        batch.unpersist()
        if located is not None:
            located.unpersist()


def _located(lake: Lake, batch: DataFrame) -> DataFrame:
    """Each label with every stored inference it applies to (none: model_id null)."""
    labels = batch.withColumnRenamed("model_id", "_hint_model")
    places = locate(lake, batch).withColumnRenamed("inference_id", "_place_id")
    applies = F.expr("inference_id = _place_id "
                     "AND (_hint_model IS NULL OR _hint_model = model_id)")
    joined = labels.join(places, on=applies, how="left").drop("_place_id")
    # a label naming no model, for an id that several models scored, is not guessed
    models = "sort_array(collect_set(model_id) OVER (PARTITION BY inference_id, _hint_model))"
    ambiguous = f"_hint_model IS NULL AND size({models}) > 1"
    return (joined.withColumn(AMBIGUOUS, F.expr(
                f"CASE WHEN {ambiguous} THEN array_join({models}, ', ') END"))
            .withColumns({c: F.expr(f"CASE WHEN {AMBIGUOUS} IS NULL THEN {c} END")
                          for c in ("model_id", "hour", "ts")}))


def _judged(located: DataFrame, now: datetime, expiry_days: float,
            multiclass: list[str]) -> DataFrame:
    """REASON for a label that must be quarantined, null for a good or pending one."""
    # the cutoff as microseconds since the epoch, no time zone in the text (a naive `now`
    # is local time, as F.lit read it)
    cutoff = (now - timedelta(days=expiry_days)).astimezone(timezone.utc)
    micros = (cutoff - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
    expired = f"first_seen < timestamp_micros({micros})"
    not_number = f"label IS NULL AND NOT {sql_in('model_id', multiclass)}"
    label_is, not_a_number = sql_string("label '"), sql_string("' is not a number (model ")
    within = sql_string(f" arrived within {expiry_days:g} days")
    return located.withColumn(REASON, F.expr(
        f"CAST(CASE WHEN {AMBIGUOUS} IS NOT NULL THEN concat('inference id ', inference_id, "
        f"' was scored by models ', {AMBIGUOUS}, ': send the label with its model_id') "
        f"WHEN model_id IS NOT NULL AND {not_number} THEN concat({label_is}, label_class, "
        f"{not_a_number}, model_id, ' is not multiclass)') "
        f"WHEN model_id IS NULL AND {expired} THEN concat('no inference with this id', "
        f"coalesce(concat(' in model ', _hint_model), ''), {within}) END AS STRING)"))


def _commit(lake: Lake, job: Run, located: DataFrame, cursor: tuple[str, int] | None,
            pending_version: int) -> None:
    """Labels first (an idempotent replace), then labels_pending with the cursor (when new
    raw labels were read) and the rejected labels (`reason` set), then those to quarantine
    (`_flush`)."""
    labels, pending = lake.table("labels"), lake.table("labels_pending")
    matched = select_text(located.where(f"model_id IS NOT NULL AND {REASON} IS NULL"), [
        "inference_id", "label", "label_class", "label_ts",
        "CAST(label_ts AS DOUBLE) - CAST(ts AS DOUBLE) AS delay_s",
        "ts", "source", "ingested_at", "model_id", "hour"])
    parts = [r.asDict() for r in matched.select("model_id", "hour").distinct().collect()]
    if parts:
        read_version = labels.version()
        merged = latest_per_inference(
            labels.read(version=read_version, partitions=parts).unionByName(matched),
            key=("model_id", "hour", "inference_id"))
        job.outputs["labels"] = labels.replace_partitions(
            select_text(merged, [sql_ident(c) for c in LABELS.fieldNames()]), parts,
            read_version=read_version)
    rejected = (located.where(f"{REASON} IS NOT NULL")
                .withColumn("model_id", F.expr("coalesce(model_id, _hint_model)"))
                .dropDuplicates(["inference_id", "model_id"]))
    still = (located.where(f"model_id IS NULL AND {REASON} IS NULL")
             .withColumn("model_id", F.col("_hint_model")))
    rows = [sql_ident(f.name) for f in LABELS_PENDING.fields if f.name != "reason"]
    version = pending.overwrite(
        select_text(still, [*rows, "CAST(NULL AS STRING) AS reason"])
        .unionByName(select_text(rejected, [*rows, f"{REASON} AS reason"])),
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
    rejected = pending.read(version=pending_version).where("reason IS NOT NULL")
    if rejected.isEmpty():
        return
    originals = [f.name for f in LABELS_PENDING.fields if f.name != "reason"]
    job.outputs["quarantine"] = quarantine.append(
        quarantine_rows(rejected.withColumn(REASON, F.col("reason")), SOURCE, JOB, job.run_id,
                        originals), txn=(app, pending_version))
