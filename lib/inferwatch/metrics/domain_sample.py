"""The baseline's sample for the domain classifier (`metrics.domain`): a seeded sample of
`SAMPLE_ROWS` of a baseline's rows, stored in `baseline_samples` with each baseline
version, and read back as flat feature columns for the multivariate job."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.lake.sql_text import sql_in
from inferwatch.lake.tables import Lake
from inferwatch.model_config import ModelConfig
from inferwatch.metrics.windows import union

SAMPLE_TABLE = "baseline_samples"
SAMPLE_ROWS = 2000
SEED = 7
SAMPLE_SALT = "baseline_sample"  # its draw apart from the windows' (`domain.balanced`)

SAMPLE_SCHEMA = T.StructType([T.StructField(n, t) for n, t in [
    ("model_id", T.StringType()), ("name", T.StringType()), ("version", T.LongType()),
    ("created_at", T.TimestampType()), ("inference_id", T.StringType()),
    ("numeric", T.MapType(T.StringType(), T.DoubleType())),
    ("categorical", T.MapType(T.StringType(), T.StringType()))]])


def features(model: ModelConfig, columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """(numeric, categorical) features of `model` present in `columns`."""
    have = set(columns)
    return ([c for c in model.numeric if c in have],
            [c for c in model.categorical if c in have and c not in model.numeric])


def store_sample(lake: Lake, model: ModelConfig, name: str, version: int,
                 rows: DataFrame) -> int:
    """Keep a seeded random sample of `SAMPLE_ROWS` of a baseline's rows beside its
    version `version`."""
    return store_samples(lake, name, [([model], rows)], {model.model_id: version})


def store_samples(lake: Lake, name: str,
                  batches: Sequence[tuple[Sequence[ModelConfig], DataFrame]],
                  versions: Mapping[str, int], known: Mapping[str, int] | None = None) -> int:
    """`store_sample` of every model in `batches` (models with the rows their baselines
    came from; with several, a `model_id` column tells them apart) that has a version in
    `versions`, drawn in one plan (one count per batch, one ranking keyed by model) and
    stored with one commit; returns the table's new version. `known`: {model_id: its
    rows' count} where the caller knows it (the Delta log's record counts of a window's
    files): a batch whose every model's count is known is not counted again."""
    samples = []
    for models, rows in batches:
        models = [m for m in models if m.model_id in versions]
        if not models:
            continue
        if "model_id" not in rows.columns:
            rows = rows.withColumn("model_id", F.lit(models[0].model_id))
        if known is not None and all(m.model_id in known for m in models):
            totals = {m.model_id: known[m.model_id] for m in models}
        else:
            totals = dict(rows.groupBy("model_id").count().collect())
        shapes: dict[tuple, list[ModelConfig]] = {}
        for model in models:
            shapes.setdefault(tuple(map(tuple, features(model, rows.columns))), []).append(model)
        for (numeric, categorical), alike in shapes.items():
            samples.append(_candidates(alike, name, versions, totals, numeric, categorical,
                                       rows.where(sql_in(
                                           "model_id", [m.model_id for m in alike]))))
    order = Window.partitionBy("model_id").orderBy("_key")
    out = (union(samples).withColumn("_rank", F.row_number().over(order))
           .where(F.col("_rank") <= SAMPLE_ROWS).drop("_rank", "_key"))
    table = lake.table(SAMPLE_TABLE)
    if not table.exists():
        table.create(SAMPLE_SCHEMA, ["model_id", "name"])
    return table.replace_partitions(out, [{"model_id": m, "name": name} for m in sorted(versions)],
                                    read_version=table.version())


def thinned(key: Column, size: Column | int, n: Column | int) -> Column:
    """True for a row whose seeded hash `key` falls in the bottom (size + margin) / n of
    its range: of n rows, a few more than the `size` with the smallest keys survive, so
    only those are ranked, never all n. The margin (8 standard deviations of the kept
    count) makes fewer than `size` survivors a once-in-10^15 event."""
    size, n = (F.lit(v) if isinstance(v, int) else v for v in (size, n))
    return key.cast("double") / 2.0 ** 64 + 0.5 <= (size + 8 * F.sqrt(size) + 8) / n


def _candidates(models: Sequence[ModelConfig], name: str, versions: Mapping[str, int],
                totals: Mapping[str, int], numeric: Sequence[str],
                categorical: Sequence[str], rows: DataFrame) -> DataFrame:
    """The rows of `models` (alike) that may enter their samples, as `SAMPLE_SCHEMA` rows
    with their `_key`. The sample is a model's `SAMPLE_ROWS` rows with the smallest seeded
    hash of their id (of their feature values, for a file without ids): drawn at random, not
    the first rows (the rows of the baseline's own windows left out of the sample are
    scored against it, and must not be its last hours), and the same whichever models
    were drawn with it or however Spark split the files."""
    ids = [m.model_id for m in models]

    def per_model(value) -> Column:  # the row's model's value(model_id)
        return F.create_map(*[x for i in ids for x in (F.lit(i), F.lit(value(i)))])[
            F.col("model_id")]

    identity = (F.col("inference_id") if "inference_id" in rows.columns
                else F.struct(*[F.col(c) for c in [*numeric, *categorical]]))
    key = F.xxhash64(F.lit(SAMPLE_SALT), F.lit(SEED), identity)
    return rows.select(
        "model_id", F.lit(name).alias("name"),
        per_model(versions.__getitem__).cast("long").alias("version"),
        F.lit(datetime.now(timezone.utc)).cast("timestamp").alias("created_at"),
        (F.col("inference_id") if "inference_id" in rows.columns else F.lit(None))
        .cast("string").alias("inference_id"),
        _map(numeric, "double").alias("numeric"), _map(categorical, "string").alias("categorical"),
        key.alias("_key")).where(thinned(F.col("_key"), SAMPLE_ROWS,
                                         per_model(lambda i: totals.get(i, 0))))


def _map(columns: Sequence[str], kind: str):
    if not columns:
        return F.create_map().cast(f"map<string, {kind}>")
    return F.create_map(*[x for c in columns for x in (F.lit(c), F.col(c).cast(kind))])


def sample_versions(lake: Lake, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """{(model_id, name): the latest version of its stored sample} for the `wanted`
    (model_id, baseline name) pairs that have one: one aggregate for every model."""
    table = lake.table(SAMPLE_TABLE)
    parts = [{"model_id": m, "name": n} for m, n in sorted(set(wanted))]
    if not parts or not table.exists():
        return {}
    found = table.read(partitions=parts).groupBy("model_id", "name").agg(
        F.max("version").alias("version")).collect()
    return {(r["model_id"], r["name"]): int(r["version"]) for r in found
            if r["version"] is not None}


def read_samples(lake: Lake, wanted: Mapping[str, tuple[str, int]]) -> DataFrame:
    """The stored sample rows of every model's wanted baseline {model_id: (name,
    version)}, in one read."""
    table = lake.table(SAMPLE_TABLE)
    rows = table.read(partitions=[{"model_id": m, "name": n} for m, (n, _) in wanted.items()])
    return rows.join(F.broadcast(lake.spark.createDataFrame(
        [(m, n, v) for m, (n, v) in sorted(wanted.items())],
        "model_id string, name string, version long")),
        on=["model_id", "name", "version"], how="left_semi")


def flat_sample(samples: DataFrame, model: ModelConfig,
                model_ids: Sequence[str] | None = None) -> DataFrame:
    """`model`'s rows of `read_samples` (or those of `model_ids`, models with its
    features) as flat feature columns, with the rows' `model_id` and `inference_id` (null
    for a training file)."""
    numeric, categorical = features(model, model.features)
    return samples.where(sql_in("model_id", model_ids or [model.model_id])).select(
        "model_id", "inference_id", *[F.col("numeric")[c].alias(c) for c in numeric],
        *[F.col("categorical")[c].alias(c) for c in categorical])
