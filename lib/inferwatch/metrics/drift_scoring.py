"""Comparisons scored where Spark computed them: the `drift.summaries` of every pair are
scored batch by batch in the executors' Python workers (`mapInArrow`) into
`metrics/drift` rows, never collected to the driver.

A long backfill compares thousands of windows (a 9-month history of one model: about
6,800 hours, days and weeks, each per slice and column, against its baseline and the
window before: 1.4 million comparisons) whose summaries hold each side's quantile grid:
gigabytes the driver cannot hold, where each worker holds one Arrow batch. `scored`
and `scaled_maxima` judge each batch column by column (`drift_columns`): what
`drift.score` and `drift.compact` give row by row (`compacted`, the driver's reference).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from inferwatch.metrics import drift
from inferwatch.metrics.drift_columns import scaled_batch, scored_batch

Limits = Mapping[str, Mapping[str, Mapping[str, float]]]


def scored(pairs: DataFrame, limits: Limits) -> DataFrame:
    """`metrics/drift` rows (`drift.DRIFT_SCHEMA`) of the `pairs` of states that
    `jobs.drift.drift_rows` joins (window `w_*`, reference `r_*`, `edges`, `comparison`,
    the baseline's `thresholds`, `name` and `version`), judged by `limits` ({model_id:
    {column kind: {metric: threshold}}}, the calibrated map of a baseline comparison of
    an hour on top)."""
    limits = {m: {k: dict(v) for k, v in by.items()} for m, by in limits.items()}
    schema = to_arrow_schema(drift.DRIFT_SCHEMA, timezone="UTC")
    return _in_workers(pairs, lambda batch: scored_batch(batch, limits, schema),
                       drift.DRIFT_SCHEMA)


def _in_workers(pairs: DataFrame, judge: Callable[[pa.RecordBatch], pa.Table],
                schema: T.StructType) -> DataFrame:
    """`judge` of every batch of the `pairs`' summaries, in the executors' Python workers,
    as rows of `schema`."""
    def batches(found: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in found:
            yield from judge(batch).to_batches()

    return drift.summaries(pairs).mapInArrow(batches, schema)


# per (model, slice, column, kind, metric): the largest |value| / chance scale seen
SCALED = T.StructType([T.StructField(n, T.StringType()) for n in (
    "model_id", "slice_key", "slice_value", "column", "kind", "metric")]
    + [T.StructField("scaled", T.DoubleType())])


def scaled_maxima(pairs: DataFrame) -> DataFrame:
    """Per (model, slice, column, kind, metric) of the `pairs` (held-out hours beside their
    references), the largest |statistic| / `drift.row_scale` among the comparisons that
    judged it (`ok`, finite, a positive scale): what calibration sets thresholds from,
    scored in the workers (`drift_columns.scaled_batch`) and reduced by Spark, so only the
    maxima reach the driver."""
    keys = [f.name for f in SCALED.fields[:4]]
    schema = to_arrow_schema(SCALED)
    return (_in_workers(pairs, lambda batch: scaled_batch(batch, schema), SCALED)
            .groupBy(*keys, "kind", "metric").agg(F.max("scaled").alias("scaled")))


def compacted(row: Mapping[str, Any], numeric: Mapping | None, limits: Limits) -> tuple:
    """The `metrics/drift` row of one summary row: scored by its model's thresholds for
    its column kind, an hour's baseline comparison by its calibrated ones."""
    limit = dict(limits[row["model_id"]][row["kind"]])
    if row["comparison"] == "baseline" and row["granularity"] == "1h":
        limit.update(row["thresholds"] or {})
    return drift.compact(
        (row["model_id"], row["granularity"], row["w_window_start"], row["slice_key"],
         row["slice_value"], row["column"], row["kind"], row["comparison"], row["name"],
         row["version"], row["r_window_start"]),
        drift.score(row, limit, numeric), row["w_count"], row["r_count"])
