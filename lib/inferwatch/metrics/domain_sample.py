"""The baseline's sample for the domain classifier (`metrics.domain`): a seeded sample of
`SAMPLE_ROWS` of a baseline's rows, stored in `baseline_samples` with each baseline
version, and read back as flat feature columns for the multivariate job."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.lake.tables import Lake
from inferwatch.model_config import ModelConfig

SAMPLE_TABLE = "baseline_samples"
SAMPLE_ROWS = 2000
SEED = 7

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
                  versions: Mapping[str, int]) -> int:
    """`store_sample` of every model in `batches` (models with the rows their baselines
    came from; with several, a `model_id` column tells them apart) that has a version in
    `versions`, with one commit; returns the table's new version."""
    samples = []
    for models, rows in batches:
        models = [m for m in models if m.model_id in versions]
        if len(models) == 1:
            totals = {models[0].model_id: rows.count()}
        else:
            totals = dict(rows.groupBy("model_id").count().collect())
        for model in models:
            own = rows if len(models) == 1 else rows.where(F.col("model_id") == model.model_id)
            samples.append(_sample(model, name, versions[model.model_id], own,
                                   totals.get(model.model_id, 0)))
    table = lake.table(SAMPLE_TABLE)
    if not table.exists():
        table.create(SAMPLE_SCHEMA, ["model_id", "name"])
    out = samples[0]
    for sample in samples[1:]:
        out = out.unionByName(sample)
    return table.replace_partitions(out, [{"model_id": m, "name": name} for m in sorted(versions)],
                                    read_version=table.version())


def _sample(model: ModelConfig, name: str, version: int, rows: DataFrame, total: int
            ) -> DataFrame:
    numeric, categorical = features(model, rows.columns)
    fraction = min(1.0, 1.2 * SAMPLE_ROWS / max(total, 1))
    # drawn at random, not the first rows: the rows of the baseline's own windows that
    # are left out of the sample are scored against it, and must not be its last hours
    return rows.sample(fraction=fraction, seed=SEED).orderBy(F.rand(SEED)).limit(
        SAMPLE_ROWS).select(
        F.lit(model.model_id).alias("model_id"), F.lit(name).alias("name"),
        F.lit(version).cast("long").alias("version"),
        F.lit(datetime.now(timezone.utc)).cast("timestamp").alias("created_at"),
        (F.col("inference_id") if "inference_id" in rows.columns else F.lit(None))
        .cast("string").alias("inference_id"),
        _map(numeric, "double").alias("numeric"), _map(categorical, "string").alias("categorical"))


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
    return samples.where(F.col("model_id").isin(model_ids or [model.model_id])).select(
        "model_id", "inference_id", *[F.col("numeric")[c].alias(c) for c in numeric],
        *[F.col("categorical")[c].alias(c) for c in categorical])
