"""The partition job: `raw/inferences` → `inferences`, partitioned by (model_id, hour).

An inference is identified by (model_id, model_version, inference_id): shadow and
champion/challenger rows that share a request id are all kept. Each run takes the raw
rows added since its last run and

1. brings `inference_index` up to date with `inferences` (so a run killed between its
   `inferences` and `inference_index` commits loses no index row);
2. classifies every row: quarantined (with every reason), a duplicate within the batch
   (the earliest ingested copy wins), a duplicate of a stored inference whose `ts` lies
   within `duplicate_lookback_days` of the re-send's (found through the id index: the
   buckets of the batch's ids, only files whose `ts` bounds reach the lookback), or new;
3. commits quarantine, then `state/deliveries` (new, duplicate and quarantined rows per
   model-hour, for the quality job's rates), then `inferences`, then the index, each
   carrying the raw version as a Delta app transaction, so a re-run after a kill skips
   what already landed.

The raw rows added since the cursor are read from the files the log's data-changing add
actions name, also when `maintain` has since compacted them into other files (see
`Snapshots.added_files`). Rows in (summed from those add actions' record counts, apart
from the file list read) must equal new + duplicates + quarantined, or the run fails.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.context import Context
from inferwatch.ingest.rules import REASON, inference_rules, quarantine_rows, typed, with_reasons
from inferwatch.jobs.index import catch_up_index, stored_keys
from inferwatch.jobs.sources import Batch, RawLog, TableLog, consume_each
from inferwatch.runs import Progress, Run, track
from inferwatch.scoped_conf import sized
from inferwatch.model_config import MODEL_ID_PATTERN
from inferwatch.lake.schema import rows_frame
from inferwatch.lake.tables import DELIVERIES, INFERENCES

JOB = "partition"
TARGET = "inferences"
STATUS = "__iw_status"
IDENTITY = ["model_id", "__iw_version", "inference_id"]


def classify(batch: DataFrame, now: datetime, future_tolerance_hours: float) -> DataFrame:
    """Add REASON (why a row is quarantined) and STATUS: new|duplicate|quarantined."""
    for column in ("model_version", "prediction_label", "source", "ingested_at"):
        if column not in batch.columns:  # raw tables written by other systems
            kind = "timestamp" if column == "ingested_at" else "string"
            batch = batch.withColumn(column, F.lit(None).cast(kind))
    checked = typed(with_reasons(batch, inference_rules(now, future_tolerance_hours)),
                    [("ts", T.TimestampType()), ("prediction", T.DoubleType())])
    # earliest ingest wins; the row's hash breaks a tie of copies that differ in content
    first = Window.partitionBy(F.col(REASON).isNull(), *IDENTITY).orderBy(
        F.col("ingested_at").asc_nulls_last(), F.col("ts"), F.col("source"),
        F.xxhash64(*[F.col(f"`{c}`") for c in batch.columns]))
    return (
        checked.withColumns({"hour": F.date_trunc("hour", F.col("ts")),
                             "__iw_version": F.coalesce(F.col("model_version"), F.lit(""))})
        .withColumn("__iw_copy", F.row_number().over(first))
        .withColumn(STATUS, F.when(F.col(REASON).isNotNull(), F.lit("quarantined"))
                    .when(F.col("__iw_copy") > 1, F.lit("duplicate"))
                    .otherwise(F.lit("new")))
        .drop("__iw_copy")
    )


def mark_stored(flagged: DataFrame, stored: DataFrame, lookback: timedelta) -> DataFrame:
    """Turn `new` rows already stored (same identity, `ts` within `lookback`) into duplicates."""
    seen = (stored.select("model_id", F.coalesce(F.col("model_version"), F.lit(""))
                          .alias("__iw_version"), "inference_id", F.col("ts").alias("__iw_seen_ts")))
    near = F.abs(F.col("ts").cast("double") - F.col("__iw_seen_ts").cast("double"))
    hit = (flagged.where(F.col(STATUS) == "new").join(seen, on=IDENTITY, how="inner")
           .where(near <= lookback.total_seconds())
           .select(*IDENTITY).distinct().withColumn("__iw_seen", F.lit(True)))
    return (flagged.join(hit, on=IDENTITY, how="left")
            .withColumn(STATUS, F.when((F.col(STATUS) == "new") & F.col("__iw_seen"),
                                       F.lit("duplicate")).otherwise(F.col(STATUS)))
            .drop("__iw_seen"))


def run(ctx: Context, now: datetime | None = None) -> Run:
    """Process the raw inferences added since the last successful run: `raw/inferences`,
    then each model's `inferences_table` (its progress and failure that model's row)."""
    now = now or datetime.now(timezone.utc)
    params = {"future_tolerance_hours": ctx.env.future_tolerance_hours,
              "duplicate_lookback_days": ctx.env.duplicate_lookback_days}
    with track(ctx.lake, JOB, params) as job:
        if ctx.bounded or ctx.model or ctx.rebuild:
            job.notes.append("partition always takes every new raw row: --start/--end, "
                             "--model and --rebuild do not apply")
        progress = Progress(ctx.lake, JOB)
        consume_each(ctx, job, "inferences", lambda run, source: _consume(
            ctx, run, source, progress.cursor(source.key, run.model_id), now))
    return job


def _consume(ctx: Context, job: Run, source: RawLog | TableLog, since: int | None,
             now: datetime) -> None:
    """Partition one source's rows from `since` to its latest version. A run killed after
    committing part of a batch: finish exactly that batch first, so nothing is written
    twice, then (in this run too) the rows added since."""
    lake = ctx.lake
    target, quarantine = lake.table(TARGET), lake.table("quarantine")
    deliveries = lake.table("state/deliveries")
    app = source.app
    while True:
        latest = source.version()
        begun = max(quarantine.txn_version(app) or -1, deliveries.txn_version(app) or -1,
                    target.txn_version(app) or -1)
        resumed = False
        if (since if since is not None else -1) < begun < latest:
            if (target.txn_version(app) or -1) >= begun:
                since = begun  # that batch landed whole (the index catches up below)
            else:
                latest, resumed = begun, True
                job.notes.append(f"finished the batch up to {source.name} version {begun} "
                                 f"that a killed run left; then the rows added since")
        job.inputs[source.key] = latest
        catch_up_index(lake, job)
        if since is not None and since >= latest:
            job.notes.append(f"no new raw inferences in {source.name} since version {since}")
            return
        if (target.txn_version(app) or -1) >= latest:
            job.notes.append(f"{source.name} version {latest} was already partitioned")
            return
        _partition(ctx, job, source, source.batch(since, latest, job), (app, latest), now)
        if not resumed:
            return
        since = latest  # the rows added after the killed run's batch


def _partition(ctx: Context, job: Run, source: RawLog | TableLog, batch: Batch,
               txn: tuple[str, int], now: datetime) -> None:
    """Classify one batch and commit quarantine, deliveries, inferences and the index,
    each carrying the source's version as a Delta app transaction."""
    lake, env = ctx.lake, ctx.env
    target, quarantine = lake.table(TARGET), lake.table("quarantine")
    deliveries = lake.table("state/deliveries")
    lookback = timedelta(days=env.duplicate_lookback_days)
    latest, rows = txn[1], batch.rows
    flagged = final = None
    try:
        rows_in = (batch.logged if batch.logged is not None
                   else rows.count() + batch.refused_count)
        job.rows_in += rows_in  # a resumed batch and the rows after it add up in one run
        with sized(lake.spark, rows_in):  # few rows: interpreted expressions
            flagged = classify(rows, now, env.future_tolerance_hours).persist()
            read_version = target.version()
            hours = [r.asDict() for r in flagged.where(F.col(STATUS) == "new")
                     .select("model_id", "hour").distinct().collect()]
            stored = stored_keys(lake, flagged.where(F.col(STATUS) == "new"), lookback)
            final = mark_stored(flagged, stored, lookback).persist()
            by_hour = final.groupBy(STATUS, "model_id", "hour").agg(
                F.count(F.lit(1)).alias("n"), F.min(REASON).alias("reason")).collect()
            counts: dict[str, int] = {}
            for r in by_hour:
                counts[r[STATUS]] = counts.get(r[STATUS], 0) + r["n"]
            job.rows_out += counts.get("new", 0)
            job.rows_duplicate += counts.get("duplicate", 0)
            quarantined = counts.get("quarantined", 0) + batch.refused_count
            job.rows_quarantined += quarantined
            job.check_accounting()
            if quarantined and (quarantine.txn_version(txn[0]) or -1) < latest:
                originals = [c for c in rows.columns if c != "ingest_date"]
                bad = quarantine_rows(final.where(F.col(STATUS) == "quarantined"),
                                      source.name, JOB, job.run_id, originals)
                if batch.refused is not None and batch.refused_count:
                    bad = batch.refused.unionByName(bad)
                job.outputs["quarantine"] = quarantine.append(bad, txn=txn)
            if by_hour and (deliveries.txn_version(txn[0]) or -1) < latest:
                job.outputs["state/deliveries"] = deliveries.append(
                    _deliveries(ctx, by_hour, job.run_id), txn=txn)
            new = _inference_rows(final.where(F.col(STATUS) == "new"))
            # refused if another writer added to these hours meanwhile (no lost duplicate check)
            job.outputs[TARGET] = target.append(new, txn=txn, read_version=read_version,
                                                read_partitions=hours)
            catch_up_index(lake, job)
    finally:
        for frame in (flagged, final):
            if frame is not None:
                frame.unpersist()
        batch.release()


def _deliveries(ctx: Context, by_hour: list, run_id: str) -> DataFrame:
    """One row per (model_id, hour) of the batch with its new, duplicate and quarantined
    counts; rows without a valid model id or timestamp have no model-hour to count in."""
    merged: dict[tuple, list] = {}
    for r in by_hour:
        if r["model_id"] is None or r["hour"] is None or not MODEL_ID_PATTERN.fullmatch(
                r["model_id"]):
            continue
        row = merged.setdefault((r["model_id"], r["hour"]), [0, 0, 0, None])
        row[("new", "duplicate", "quarantined").index(r[STATUS])] += r["n"]
        if r[STATUS] == "quarantined":
            row[3] = (r["reason"] or "")[:300]
    rows = [(m, h, run_id, *v) for (m, h), v in sorted(merged.items())]
    return rows_frame(ctx.spark, rows, DELIVERIES)


def _inference_rows(df: DataFrame) -> DataFrame:
    """Contract columns first, then every feature column as it came."""
    fixed = [f.name for f in INFERENCES.fields]
    internal = {REASON, STATUS, "ingest_date", "__iw_version"}
    features = [c for c in df.columns if c not in fixed and c not in internal]
    return df.select(*fixed, *features)
