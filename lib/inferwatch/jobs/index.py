"""`inference_index`: where each stored inference lives, by a hash bucket of its id.

Rows: (inference_id, model_id, model_version, hour, ts, id_bucket), partitioned by
`id_bucket` (`INDEX_BUCKETS` buckets). The index is derived from `inferences` and kept
up to date from it: its app transaction records the `inferences` version it covers, and
`catch_up_index` appends the rows of the files `inferences` added since. So a kill
between the partition job's `inferences` and index commits is healed by the next run,
and labels without hints never wait for an index row that was lost.
"""
from __future__ import annotations

from bisect import bisect_left
from datetime import datetime, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inferwatch.runs import Run
from inferwatch.lake.files import DataFile
from inferwatch.lake.tables import INDEX_BUCKETS, Lake
from inferwatch.granularity import utc
from inferwatch.metrics.window_store import overlaps

INDEX = "inference_index"
APP = "index:inferences"


def id_bucket(column: str = "inference_id") -> Column:
    return F.pmod(F.xxhash64(F.col(column)), F.lit(INDEX_BUCKETS)).cast("int")


def index_rows(rows: DataFrame) -> DataFrame:
    return rows.select("inference_id", "model_id", "model_version", "hour", "ts",
                       id_bucket().alias("id_bucket"))


def catch_up_index(lake: Lake, run: Run) -> None:
    """Append the index rows of every `inferences` file added since the index's version."""
    index, inferences = lake.table(INDEX), lake.table("inferences")
    covered, latest = index.txn_version(APP), inferences.version()
    if covered is not None and covered >= latest:
        return
    added = inferences.added_files(covered, latest)
    if not added:
        return
    run.outputs[INDEX] = index.append(index_rows(inferences.read_files(added, latest)),
                                      txn=(APP, latest))


# Up to this many distinct ids, a lookup also skips index files by their id range.
MAX_IDS_FOR_SKIPPING = 100_000


def entries(lake: Lake, ids: DataFrame, span: tuple[datetime, datetime] | None = None
            ) -> DataFrame:
    """Index rows of the ids in `ids` (a frame with `inference_id`): only the buckets of
    those ids are read, only files whose `inference_id` min/max (maintain sorts older
    files by id) hold one of them, and with `span` only files whose `ts` bounds reach
    into it."""
    index = lake.table(INDEX)
    keyed = ids.select("inference_id", id_bucket().alias("b")).distinct()
    pairs = keyed.where(F.col("inference_id").isNotNull()).limit(MAX_IDS_FOR_SKIPPING + 1).collect()
    by_bucket: dict[int, list[str]] | None = None
    if len(pairs) > MAX_IDS_FOR_SKIPPING:
        buckets = {r["b"] for r in keyed.select("b").distinct().collect()}
    else:
        by_bucket = {}
        for row in pairs:
            by_bucket.setdefault(row["b"], []).append(row["inference_id"])
        buckets = set(by_bucket)
    files = (index.files(partitions=[{"id_bucket": b} for b in sorted(buckets)],
                         stats=("ts", "inference_id")) if buckets else [])
    if span is not None:
        low, high = span
        files = [f for f in files if overlaps(f, [(low, high + timedelta(microseconds=1))], "ts")]
    if by_bucket is not None:
        wanted = {b: sorted(v) for b, v in by_bucket.items()}
        files = [f for f in files if _holds_any(f, wanted[f.partition["id_bucket"]])]
    return (index.read_files(files).join(ids.select("inference_id").distinct(),
                                         on="inference_id", how="left_semi"))


def _holds_any(data_file: DataFile, sorted_ids: list[str]) -> bool:
    """Whether some id lies within the file's `inference_id` bounds (no bounds: maybe)."""
    low, high = data_file.bounds.get("inference_id", (None, None))
    if low is None or high is None:
        return True
    at = bisect_left(sorted_ids, low)
    return at < len(sorted_ids) and sorted_ids[at] <= high


def stored_keys(lake: Lake, batch: DataFrame, lookback: timedelta) -> DataFrame:
    """Index rows that share an id with `batch` and lie within `lookback` of its `ts` range."""
    bounds = batch.agg(F.min("ts").alias("low"), F.max("ts").alias("high")).first()
    if bounds["low"] is None:
        return entries(lake, batch.limit(0))
    return entries(lake, batch, (utc(bounds["low"]) - lookback, utc(bounds["high"]) + lookback))
