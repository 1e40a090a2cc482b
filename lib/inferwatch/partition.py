"""The partition job: `raw/inferences` → `inferences`, partitioned by (model_id, hour).

Incremental from the last raw version it processed; deduplicates by `inference_id`
within the batch and against rows already in the hours the batch touches; quarantines
rows that must not enter the table. Rows in = rows out + duplicates + quarantined.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.config import EnvConfig
from inferwatch.runs import Run, last_input_version, track
from inferwatch.tables import INDEX_BUCKETS, INFERENCES, Lake
from inferwatch.validate import (
    REASON,
    model_id_is_safe,
    not_after,
    parses,
    quarantine_rows,
    required,
    typed,
    with_reasons,
)

JOB = "partition"
SOURCE = "raw/inferences"
TARGET = "inferences"
STATUS = "_status"


def partition_rules(now: datetime, future_tolerance_hours: float) -> list:
    limit = F.lit(now + timedelta(hours=future_tolerance_hours)).cast("timestamp")
    return [
        required("inference_id"),
        required("model_id"),
        required("ts"),
        model_id_is_safe("model_id"),
        parses("ts", T.TimestampType(), "a timestamp"),
        parses("prediction", T.DoubleType(), "a number"),
        not_after("ts", limit, f"more than {future_tolerance_hours:g}h in the future"),
    ]


def classify(batch: DataFrame, now: datetime, future_tolerance_hours: float) -> DataFrame:
    """Add `_reason` (why a row is quarantined) and `_status`: new|duplicate|quarantined.

    Within the batch the earliest-ingested copy of an inference_id is kept.
    """
    for column in ("model_version", "prediction_label", "source", "ingested_at"):
        if column not in batch.columns:  # raw tables written by other systems
            kind = "timestamp" if column == "ingested_at" else "string"
            batch = batch.withColumn(column, F.lit(None).cast(kind))
    checked = with_reasons(batch, partition_rules(now, future_tolerance_hours))
    checked = typed(checked, {"ts": T.TimestampType(), "prediction": T.DoubleType()}.items())
    first = Window.partitionBy(F.col(REASON).isNull(), "inference_id").orderBy(
        F.col("ingested_at").asc_nulls_last(), F.col("ts"), F.col("source"))
    return (
        checked.withColumn("hour", F.date_trunc("hour", F.col("ts")))
        .withColumn("_copy", F.row_number().over(first))
        .withColumn(STATUS, F.when(F.col(REASON).isNotNull(), F.lit("quarantined"))
                    .when(F.col("_copy") > 1, F.lit("duplicate"))
                    .otherwise(F.lit("new")))
        .drop("_copy")
    )


def mark_existing(flagged: DataFrame, existing: DataFrame) -> DataFrame:
    """Turn `new` rows whose inference_id is already stored into duplicates."""
    seen = existing.select("inference_id").distinct().withColumn("_seen", F.lit(True))
    return (
        flagged.join(seen, on="inference_id", how="left")
        .withColumn(STATUS, F.when((F.col(STATUS) == "new") & F.col("_seen"), F.lit("duplicate"))
                    .otherwise(F.col(STATUS)))
        .drop("_seen")
    )


def run_partition(lake: Lake, env: EnvConfig, now: datetime | None = None) -> Run:
    """Process raw inferences added since the last successful run."""
    now = now or datetime.now(timezone.utc)
    raw, target, quarantine = lake.table(SOURCE), lake.table(TARGET), lake.table("quarantine")
    with track(lake, JOB, {"future_tolerance_hours": env.future_tolerance_hours}) as run:
        since = last_input_version(lake.root, JOB, SOURCE)
        latest = raw.version()
        run.inputs[SOURCE] = latest
        if since is not None and since >= latest:
            run.notes.append(f"no new raw inferences since version {since}")
            return run
        txn = (f"{JOB}:{SOURCE}", latest)
        if (target.txn_version(txn[0]) or -1) >= latest:
            run.notes.append(f"raw version {latest} was already partitioned")
            return run
        read_version = target.version()
        originals = raw.read_added(since, version=latest).columns
        flagged = classify(raw.read_added(since, version=latest), now,
                           env.future_tolerance_hours).persist()
        try:
            hours = [r.asDict() for r in flagged.where(F.col(STATUS) == "new")
                     .select("model_id", "hour").distinct().collect()]
            existing = target.read(version=read_version, partitions=hours)
            final = mark_existing(flagged, existing).persist()
            counts = {r[STATUS]: r["n"] for r in final.groupBy(STATUS).agg(F.count("*").alias("n"))
                      .collect()}
            run.rows_in = sum(counts.values())
            run.rows_out = counts.get("new", 0)
            run.rows_duplicate = counts.get("duplicate", 0)
            run.rows_quarantined = counts.get("quarantined", 0)
            run.check_accounting()
            if run.rows_quarantined and (quarantine.txn_version(txn[0]) or -1) < latest:
                bad = quarantine_rows(final.where(F.col(STATUS) == "quarantined"), SOURCE, JOB,
                                      run.run_id, [c for c in originals if c != "ingest_date"])
                run.outputs["quarantine"] = quarantine.append(bad, txn=txn)
            rows = _inference_rows(final.where(F.col(STATUS) == "new"))
            run.outputs[TARGET] = target.append(rows, txn=txn, read_version=read_version,
                                                read_partitions=hours)
            index = lake.table("inference_index")
            if (index.txn_version(txn[0]) or -1) < latest:
                run.outputs["inference_index"] = index.append(index_rows(rows), txn=txn)
            run.notes.append(f"{len(hours)} (model_id, hour) partitions touched")
            final.unpersist()
        finally:
            flagged.unpersist()
    return run


def id_bucket(column: str = "inference_id"):
    return F.pmod(F.xxhash64(F.col(column)), F.lit(INDEX_BUCKETS)).cast("int")


def index_rows(rows: DataFrame) -> DataFrame:
    return rows.select("inference_id", "model_id", "hour", "ts",
                       id_bucket().alias("id_bucket"))


def _inference_rows(df: DataFrame) -> DataFrame:
    """Contract columns first, then every feature column as it came."""
    fixed = [f.name for f in INFERENCES.fields]
    internal = {REASON, STATUS, "ingest_date"}
    features = [c for c in df.columns if c not in fixed and c not in internal]
    return df.select(*fixed, *features)
