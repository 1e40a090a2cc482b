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
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.lake.sql_text import joined_beside, sql_in
from inferwatch.frames import materialized, release
from inferwatch.model_config import ModelConfig
from inferwatch.lake.tables import Lake
from inferwatch.metrics import drift, drift_scoring, left_out
from inferwatch.metrics.profile import NUMERIC, STATE_SCHEMA, computed_state, profiled_columns
from inferwatch.metrics.profile_merge import merge_keyed
from inferwatch.metrics.slices import compute_sliced
from inferwatch.metrics.windows import union

TABLE = "baselines"
BINS = drift.BINS
MIN_CALIBRATION_WINDOWS = 12
CALIBRATION_MARGIN = 1.5
FLOOR_SHARE = 0.25
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
KEYS = ["model_id", "slice_key", "slice_value", "column"]
BASELINE_SCHEMA = T.StructType(STATE_SCHEMA.fields + [
    T.StructField("name", T.StringType()), T.StructField("version", T.LongType()),
    T.StructField("scope", T.StringType()), T.StructField("source", T.StringType()),
    T.StructField("created_at", T.TimestampType()),
    T.StructField("edges", T.ArrayType(T.DoubleType())),
    T.StructField("thresholds", T.MapType(T.StringType(), T.DoubleType()))])


def build_and_store(lake: Lake, model: ModelConfig, name: str, rows: DataFrame,
                    notes: list[str], source: str) -> int:
    """`build` the baseline of `rows` and `store` it under `name`; returns its version."""
    return build_and_store_fleet(lake, name, [([model], rows)], {model.model_id: notes},
                                 {model.model_id: source})[model.model_id]


def build_and_store_fleet(lake: Lake, name: str,
                          batches: Sequence[tuple[Sequence[ModelConfig], DataFrame]],
                          notes: Mapping[str, list[str]], sources: Mapping[str, str],
                          profiled: Mapping[str, DataFrame] | None = None) -> dict[str, int]:
    """Baseline `name` of every model in `batches` (models alike, with the rows their
    baselines come from), built in one plan, calibrated in one (every group's held-out
    hours at once) and stored with one commit; {model_id: its version}. `profiled`:
    {model_id: the hourly profile states of its rows}, taken instead of profiling them
    again. The states cached on the way are released once it is written (or failed)."""
    cached: list[DataFrame] = []
    try:
        return store(lake, name, build(batches, notes, cached, profiled), sources)
    finally:
        for frame in cached:
            release(frame)


def build(batches: Sequence[tuple[Sequence[ModelConfig], DataFrame]],
          notes: Mapping[str, list[str]], cached: list[DataFrame],
          profiled: Mapping[str, DataFrame] | None = None) -> DataFrame:
    """Baseline rows (without name and version) of every group of `batches`: each
    group's states (`_states`; a group whose every model is in `profiled` takes those
    hourly states), then the thresholds of every model with hours enough calibrated in
    one plan. The states it caches are added to `cached`."""
    profiled = profiled or {}
    found = [_states(models, rows, notes, cached, _given(models, profiled))
             for models, rows in batches]
    hourly, whole = union([f[0] for f in found]), union([f[1] for f in found])
    calibrated = [model_id for f in found for model_id in f[2]]
    out = whole.withColumn("scope", F.lit("all"))
    if calibrated:
        thresholds = calibrate(hourly.where(sql_in("model_id", calibrated)), whole)
        out = out.join(thresholds, on=[out[k].eqNullSafe(thresholds[k]) for k in KEYS],
                       how="left").select(*[out[c] for c in out.columns], "thresholds")
    hourly_rows = hourly.withColumn("scope", F.lit("1h"))
    return out.unionByName(hourly_rows, allowMissingColumns=True)


def _given(models: Sequence[ModelConfig], profiled: Mapping[str, DataFrame]
           ) -> DataFrame | None:
    """The hourly states of `models` from `profiled` when it holds every one's: the
    distinct frames it maps them to (one frame may hold many models': a union of a
    filter per model would read it once a model), cut to these models."""
    if not all(m.model_id in profiled for m in models):
        return None
    frames = {id(profiled[m.model_id]): profiled[m.model_id] for m in models}
    return union(list(frames.values())).where(sql_in("model_id", [m.model_id for m in models]))


def _states(models: Sequence[ModelConfig], rows: DataFrame, notes: Mapping[str, list[str]],
            cached: list[DataFrame], hourly: DataFrame | None = None
            ) -> tuple[DataFrame, DataFrame, list[str]]:
    """(hourly states, whole-baseline states with their `edges`, the models with hours
    enough to calibrate) of models alike (the same profiled columns and slices; `rows`
    tell them apart by `model_id`, or belong to the one model given): labelled or not,
    with an `hour` column when they come from the lake (then hours are kept and
    calibrated; `hourly`: their hourly states, already profiled). The states it caches
    are added to `cached`."""
    first = models[0]
    if hourly is not None:
        hourly = materialized(hourly)
        cached.append(hourly)
        return _whole(models, hourly, notes, cached)
    if "hour" not in rows.columns and "ts" in rows.columns:  # a training file with times
        rows = rows.withColumn("hour", F.date_trunc("hour", F.col("ts").cast("timestamp")))
    if "hour" not in rows.columns:
        rows = rows.withColumn("hour", F.lit(EPOCH).cast("timestamp"))
    if len(models) == 1:
        rows = rows.withColumn("model_id", F.lit(first.model_id))
    if "model_version" not in rows.columns:
        rows = rows.withColumn("model_version", F.lit(None).cast("string"))
    numeric, categorical = profiled_columns(first, rows.columns)
    shared: list[str] = []
    try:
        hourly = compute_sliced(rows, first, shared,
                                lambda sliced: computed_state(sliced, numeric, categorical),
                                extra=[*numeric, *categorical])
    finally:
        for model in models:
            notes[model.model_id].extend(shared)
    cached.append(hourly)
    return _whole(models, hourly, notes, cached)


def _whole(models: Sequence[ModelConfig], hourly: DataFrame, notes: Mapping[str, list[str]],
           cached: list[DataFrame]) -> tuple[DataFrame, DataFrame, list[str]]:
    """(`hourly`, the whole baseline's states with their frozen `edges`, the models with
    hours enough to calibrate)."""
    whole = merge_keyed(hourly.withColumn("window_start", F.lit(EPOCH).cast("timestamp")))
    deciles = F.array(*[F.lit(rank) for rank in drift.EDGE_RANKS])
    edges = F.when((F.col("kind") == NUMERIC) & (F.col("n_finite") > 0),
                   F.array_distinct(F.kll_sketch_get_quantile_double("sketch", deciles)))
    whole = materialized(whole.withColumn("edges", edges))
    cached.append(whole)
    hours = dict(hourly.groupBy("model_id").agg(F.countDistinct("window_start")).collect())
    calibrated = []
    for model in models:
        n = hours.get(model.model_id, 0)
        if n >= MIN_CALIBRATION_WINDOWS:
            calibrated.append(model.model_id)
            notes[model.model_id].append(f"thresholds calibrated on {n} held-out hours")
        else:
            notes[model.model_id].append(f"{n} hours: too few to calibrate; default thresholds")
    return hourly, whole, calibrated


def calibrate(hourly: DataFrame, whole: DataFrame) -> DataFrame:
    """(model, slice, column) → {metric: floor, metric/scale: threshold per unit of
    chance scale} from hours held out of each model's baseline, every model's at once.
    The held-out comparisons judge distributions, never distinct counts: their merges
    carry no distinct-count sketch (half a state's bytes). A (slice, column) none of
    whose hours holds `drift.MIN_COUNT` rows judges no held-out hour (its every pair is
    `insufficient_data`) and gets no thresholds, so its references are not merged: on
    sparse models and slices, most of them."""
    largest = F.max("count").over(Window.partitionBy(*KEYS))
    hourly = materialized(hourly.withColumns({"hll": F.lit(None).cast("binary"),
                                              "_largest": largest})
                          .where(F.col("_largest") >= drift.MIN_COUNT).drop("_largest"))
    try:
        pairs = with_edges(_pair(hourly, left_out.references(hourly)), whole)
        maxima = drift_scoring.scaled_maxima(pairs).collect()
    finally:
        release(hourly)
    scores: dict[tuple, dict[str, float]] = {}
    for row in maxima:
        scores.setdefault((*[row[k] for k in KEYS], row["kind"]), {})[row["metric"]] = \
            row["scaled"]
    rows = [(*k[:-1], _limits(k[-1], found)) for k, found in scores.items()]
    schema = "model_id string, slice_key string, slice_value string, column string, " \
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
    return joined_beside(pairs, whole, KEYS, how="left", right_columns=["edges"])


def _pair(window: DataFrame, reference: DataFrame) -> DataFrame:
    """Window states beside the reference state of the same window, slice and column."""
    w, r = drift.side(window, "w"), drift.side(reference, "r")
    return joined_beside(w, r, [*KEYS, "kind"], also="l.w_window_start = r.r_window_start",
                         right_columns=[c for c in r.columns if c.startswith("r_")])


def store(lake: Lake, name: str, rows: DataFrame, sources: Mapping[str, str]
          ) -> dict[str, int]:
    """Write baseline `name` of every model in `sources` ({model_id: where its rows came
    from}; `rows` tell the models apart), each model's version one above its last, in
    one commit; {model_id: its new version}."""
    table = lake.table(TABLE)
    if not table.exists():
        table.create(BASELINE_SCHEMA, ["model_id", "name"])
    read_version = table.version()
    parts = [{"model_id": m, "name": name} for m in sorted(sources)]
    previous = dict(table.read(version=read_version, partitions=parts)
                    .groupBy("model_id").agg(F.max("version")).collect())
    versions = {m: int(previous.get(m) or 0) + 1 for m in sources}
    given = lake.spark.createDataFrame(
        [(m, versions[m], sources[m]) for m in sorted(sources)],
        "model_id string, version long, source string")
    out = rows.drop("version", "source").join(F.broadcast(given), on="model_id").withColumns(
        {"name": F.lit(name),
         "created_at": F.lit(datetime.now(timezone.utc)).cast("timestamp")})
    table.replace_partitions(out.select(*[
        (F.col(f.name) if f.name in out.columns else F.lit(None)).cast(f.dataType).alias(f.name)
        for f in BASELINE_SCHEMA.fields]), parts, read_version=read_version)
    return versions


def reference_name(model: ModelConfig) -> str:
    """The baseline a model's windows are compared with: `drift.baseline`, else `default`."""
    return model.drift.baseline


def load(lake: Lake, model_id: str, name: str) -> DataFrame | None:
    """The whole-baseline rows (`scope` = all) of `name`, or None when there is none."""
    table = lake.table(TABLE)
    if not table.exists():
        return None
    if not table.files(partitions=[{"model_id": model_id, "name": name}], stats=()):
        return None  # the log says, not a Spark job
    return load_fleet(lake, {model_id: name})


def stored(lake: Lake) -> set[tuple[str, str]]:
    """The (model_id, name) of every stored baseline: one listing of the log."""
    table = lake.table(TABLE)
    if not table.exists():
        return set()
    return {(p["model_id"], p["name"]) for p in table.partitions()}


def load_fleet(lake: Lake, wanted: Mapping[str, str]) -> DataFrame | None:
    """`load` of every model's baseline at once ({model_id: name}, stored ones): one read
    of all their partitions; None for none."""
    if not wanted:
        return None
    table = lake.table(TABLE)
    return table.read(partitions=[{"model_id": m, "name": n} for m, n in sorted(
        wanted.items())]).where(F.col("scope") == "all")


def names(lake: Lake, model_id: str) -> Sequence[str]:
    table = lake.table(TABLE)
    if not table.exists():
        return []
    return sorted({p["name"] for p in table.partitions(model_id=model_id)})
