"""Baselines: named reference profiles a model's windows are compared with.

A baseline is built from a training file or a window of `inferences`, sliced like the
live rows and profiled with the same state (`metrics.profile`). It freezes its bins:
the `BINS` - 1 interior quantile edges of every numeric column (ties removed), and its
category counts, so every later hour, day or week is compared on the same bins.

When the baseline spans at least `MIN_CALIBRATION_WINDOWS` hours it also calibrates the
hourly thresholds: each hour is held out and scored against the baseline without it;
each score is divided by its chance scale for the two sample sizes
(`drift.null_scale`: a 40-row night hour moves three times as much by chance as a
150-row day hour), and each (slice, column, metric) gets `{metric}/scale` =
`CALIBRATION_MARGIN` times the largest scaled held-out score. An hour is then judged by
that times its own scale, never below `FLOOR_SHARE` of the default (stored as
`{metric}`): the normal variation of hours (daily cycle, small samples) is not flagged,
and a large hour is not judged by the noise of the smallest one. Rows, in table `baselines`
(partitioned by `model_id`, `name`): `scope` `all` (the whole baseline, with `edges`
and `thresholds`) and `1h` (its hours, kept for calibration).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.model_config import ModelConfig
from inferwatch.lake.tables import Lake
from inferwatch.metrics import drift
from inferwatch.metrics.profile import NUMERIC, STATE_SCHEMA, computed_state, profiled_columns
from inferwatch.metrics.profile_merge import merge_keyed
from inferwatch.metrics.slices import compute_sliced

TABLE = "baselines"
BINS = 10
MIN_CALIBRATION_WINDOWS = 12
CALIBRATION_MARGIN = 1.5
FLOOR_SHARE = 0.25
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
KEYS = ["slice_key", "slice_value", "column"]
BASELINE_SCHEMA = T.StructType(STATE_SCHEMA.fields + [
    T.StructField("name", T.StringType()), T.StructField("version", T.LongType()),
    T.StructField("scope", T.StringType()), T.StructField("source", T.StringType()),
    T.StructField("created_at", T.TimestampType()),
    T.StructField("edges", T.ArrayType(T.DoubleType())),
    T.StructField("thresholds", T.MapType(T.StringType(), T.DoubleType()))])


def build_and_store(lake: Lake, model: ModelConfig, name: str, rows: DataFrame,
                    notes: list[str], source: str) -> int:
    """`build` the baseline of `rows` and `store` it under `name`; returns its version.
    The states cached on the way are released once it is written (or failed)."""
    cached: list[DataFrame] = []
    try:
        return store(lake, model.model_id, name, build(model, rows, notes, cached), source)
    finally:
        for frame in cached:
            frame.unpersist()


def build(model: ModelConfig, rows: DataFrame, notes: list[str],
          cached: list[DataFrame]) -> DataFrame:
    """Baseline rows (without name and version) of `rows`: labelled or not, with an
    `hour` column when they come from the lake (then hours are kept and calibrated).
    The states it caches are added to `cached`, for the caller to release."""
    if "hour" not in rows.columns and "ts" in rows.columns:  # a training file with times
        rows = rows.withColumn("hour", F.date_trunc("hour", F.col("ts").cast("timestamp")))
    if "hour" not in rows.columns:
        rows = rows.withColumn("hour", F.lit(EPOCH).cast("timestamp"))
    rows = rows.withColumn("model_id", F.lit(model.model_id))
    if "model_version" not in rows.columns:
        rows = rows.withColumn("model_version", F.lit(None).cast("string"))
    numeric, categorical = profiled_columns(model, rows.columns)
    hourly = compute_sliced(rows, model, notes,
                            lambda sliced: computed_state(sliced, numeric, categorical),
                            extra=[*numeric, *categorical])
    cached.append(hourly)
    whole = merge_keyed(hourly.withColumn("window_start", F.lit(EPOCH).cast("timestamp")))
    deciles = F.array(*[F.lit(i / BINS) for i in range(1, BINS)])
    edges = F.when((F.col("kind") == NUMERIC) & (F.col("n_finite") > 0),
                   F.array_distinct(F.kll_sketch_get_quantile_double("sketch", deciles)))
    whole = whole.withColumn("edges", edges).persist()
    cached.append(whole)
    hours = [r[0] for r in hourly.select("window_start").distinct().collect()]
    thresholds = None
    if len(hours) >= MIN_CALIBRATION_WINDOWS:
        thresholds = calibrate(hourly, whole)
        notes.append(f"thresholds calibrated on {len(hours)} held-out hours")
    else:
        notes.append(f"{len(hours)} hours: too few to calibrate; default thresholds")
    out = whole.withColumn("scope", F.lit("all"))
    if thresholds is not None:
        out = out.join(thresholds, on=[out[k].eqNullSafe(thresholds[k]) for k in KEYS],
                       how="left").select(*[out[c] for c in out.columns], "thresholds")
    hourly_rows = hourly.withColumn("scope", F.lit("1h"))
    return out.unionByName(hourly_rows, allowMissingColumns=True)


def calibrate(hourly: DataFrame, whole: DataFrame) -> DataFrame:
    """(slice, column) → {metric: floor, metric/scale: threshold per unit of chance
    scale} from hours held out of the baseline."""
    held = hourly.select(F.col("window_start").alias("held")).distinct()
    rest = (hourly.join(F.broadcast(held), F.col("window_start") != F.col("held"))
            .withColumn("window_start", F.col("held")).drop("held"))
    references = merge_keyed(rest)
    pairs = with_edges(_pair(hourly, references), whole)
    scores: dict[tuple, dict[str, float]] = {}
    for row, numeric in drift.scored(drift.summaries(pairs).collect()):
        for metric, value, _bound, _t, _d, status in drift.score(row, {}, numeric):
            scale = drift.row_scale(metric, row)
            if status != "ok" or value is None or not scale > 0:
                continue
            at = (row["slice_key"], row["slice_value"], row["column"], row["kind"])
            scores.setdefault(at, {})
            scores[at][metric] = max(scores[at].get(metric, 0.0), abs(value) / scale)
    rows = [(k[0], k[1], k[2], _limits(k[3], found)) for k, found in scores.items()]
    schema = "slice_key string, slice_value string, column string, " \
             "thresholds map<string, double>"
    return hourly.sparkSession.createDataFrame(rows, schema)


def _limits(kind: str, scaled: dict[str, float]) -> dict[str, float]:
    out = {}
    for metric, value in scaled.items():
        out[metric] = FLOOR_SHARE * drift.DEFAULT_THRESHOLDS[kind][metric]
        if math.isfinite(out[metric]):  # chi2 has no threshold: it stays infinite
            out[metric + drift.PER_SCALE] = CALIBRATION_MARGIN * value
    return out


def with_edges(pairs: DataFrame, whole: DataFrame) -> DataFrame:
    """Pairs with the baseline's frozen `edges` of their slice and column."""
    edges = whole.select(*[F.col(k).alias(f"e_{k}") for k in KEYS], "edges")
    return pairs.join(edges, on=[pairs[k].eqNullSafe(edges[f"e_{k}"]) for k in KEYS],
                      how="left").drop(*[f"e_{k}" for k in KEYS])


def _pair(window: DataFrame, reference: DataFrame) -> DataFrame:
    """Window states beside the reference state of the same window, slice and column."""
    w, r = drift.side(window, "w"), drift.side(reference, "r")
    same = [w[k].eqNullSafe(r[k]) for k in (*KEYS, "kind")] + [
        w["w_window_start"] == r["r_window_start"]]
    return w.join(r, on=same, how="inner").select(
        *[w[c] for c in w.columns], *[r[c] for c in r.columns if c.startswith("r_")])


def store(lake: Lake, model_id: str, name: str, rows: DataFrame, source: str) -> int:
    """Write a baseline under `name` (its version one above the last); returns it."""
    table = lake.table(TABLE)
    if not table.exists():
        table.create(BASELINE_SCHEMA, ["model_id", "name"])
    read_version = table.version()
    part = {"model_id": model_id, "name": name}
    previous = table.read(version=read_version, partitions=[part]).agg(F.max("version")).first()[0]
    version = int(previous or 0) + 1
    out = rows.withColumns({"name": F.lit(name), "version": F.lit(version).cast("long"),
                            "source": F.lit(source),
                            "created_at": F.lit(datetime.now(timezone.utc)).cast("timestamp")})
    table.replace_partitions(out.select(*[
        (F.col(f.name) if f.name in out.columns else F.lit(None)).cast(f.dataType).alias(f.name)
        for f in BASELINE_SCHEMA.fields]), [part], read_version=read_version)
    return version


def reference_name(model: ModelConfig) -> str:
    """The baseline a model's windows are compared with: `drift.baseline`, else `default`."""
    return model.drift.baseline


def load(lake: Lake, model_id: str, name: str) -> DataFrame | None:
    """The whole-baseline rows (`scope` = all) of `name`, or None when there is none."""
    table = lake.table(TABLE)
    if not table.exists():
        return None
    rows = table.read(partitions=[{"model_id": model_id, "name": name}])
    rows = rows.where(F.col("scope") == "all")
    return None if rows.isEmpty() else rows


def names(lake: Lake, model_id: str) -> Sequence[str]:
    table = lake.table(TABLE)
    if not table.exists():
        return []
    return sorted({p["name"] for p in table.partitions(model_id=model_id)})
