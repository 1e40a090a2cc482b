"""Multivariate drift: can a classifier tell a window's rows from the baseline's?

Per-column drift misses a change in how features move together (a correlation that
breaks, a mix of segments that shifts while every marginal stays put). A domain
classifier sees the joint distribution: a random forest (Spark MLlib) is trained to tell
a sample of the baseline (label 0) from a sample of the window (label 1), scored with
`FOLDS`-fold cross-validation; the area under the ROC curve of the held-out predictions
is the drift score. 0.5: the window looks like the baseline; 1.0: every row gives itself
away. The features the forests lean on most (mean impurity importance over the folds, a
column's null indicator counted with it) point at where the joint distribution moved.

Sizes: the baseline keeps a seeded sample of `SAMPLE_ROWS` rows (`baseline_samples`,
stored with each baseline version); each window is sampled down to the same size, and
both sides are cut to the smaller one so the classes are balanced. Below `MIN_ROWS` rows
on either side the row says `insufficient_data`. A window that overlaps the baseline is
scored without the sampled rows themselves: a row in both classes teaches the forest
to guess against it, and the held-out AUC falls below 0.5 (NannyML's reference chunks
have the same flaw). With 1,000 rows a side the held-out
AUC of two samples of one distribution stays within about 0.5 ± 0.03 (its standard
error is about 0.013), so the default threshold `THRESHOLD` = 0.6 sits more than 7
standard errors above chance; set `drift: multivariate: {threshold: ...}` per model. A
small window raises the threshold to 0.5 plus 4 standard errors of a null AUC.
Numeric features enter as they are (null, NaN and infinities as a sentinel plus a null
indicator), categorical ones as their frequency rank (an unseen or null value gets its
own rank), so that a feature of 10,000 categories costs one split search, not 10,000.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone

from pyspark.ml import Pipeline
from pyspark.ml.classification import RandomForestClassifier
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import StringIndexer, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.model_config import ModelConfig
from inferwatch.model_settings.drift import MULTIVARIATE_THRESHOLD
from inferwatch.lake.tables import Lake

SAMPLE_TABLE = "baseline_samples"
SAMPLE_ROWS = 2000
MIN_ROWS = 200
FOLDS = 3
TREES = 40
DEPTH = 5
THRESHOLD = MULTIVARIATE_THRESHOLD  # the default of the model's drift.multivariate.threshold
TOP_FEATURES = 5
SEED = 7
SENTINEL = -1.0e30  # below any real value: a tree separates "missing" with one split

SAMPLE_SCHEMA = T.StructType([T.StructField(n, t) for n, t in [
    ("model_id", T.StringType()), ("name", T.StringType()), ("version", T.LongType()),
    ("created_at", T.TimestampType()), ("inference_id", T.StringType()),
    ("numeric", T.MapType(T.StringType(), T.DoubleType())),
    ("categorical", T.MapType(T.StringType(), T.StringType()))]])
RESULT_SCHEMA = T.StructType([T.StructField(n, t) for n, t in [
    ("model_id", T.StringType()), ("granularity", T.StringType()),
    ("window_start", T.TimestampType()), ("baseline", T.StringType()),
    ("baseline_version", T.LongType()), ("auc", T.DoubleType()),
    ("threshold", T.DoubleType()), ("drifted", T.BooleanType()), ("status", T.StringType()),
    ("n", T.LongType()), ("n_reference", T.LongType()),
    ("top_features", T.ArrayType(T.StructType([
        T.StructField("feature", T.StringType()),
        T.StructField("importance", T.DoubleType())])))]])


def features(model: ModelConfig, columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """(numeric, categorical) features of `model` present in `columns`."""
    have = set(columns)
    return ([c for c in model.numeric if c in have],
            [c for c in model.categorical if c in have and c not in model.numeric])


def store_sample(lake: Lake, model: ModelConfig, name: str, version: int,
                 rows: DataFrame) -> int:
    """Keep a seeded sample of a baseline's rows beside its version `version`."""
    numeric, categorical = features(model, rows.columns)
    total = rows.count()
    fraction = min(1.0, 1.2 * SAMPLE_ROWS / max(total, 1))
    sample = rows.sample(fraction=fraction, seed=SEED).limit(SAMPLE_ROWS).select(
        F.lit(model.model_id).alias("model_id"), F.lit(name).alias("name"),
        F.lit(version).cast("long").alias("version"),
        F.lit(datetime.now(timezone.utc)).cast("timestamp").alias("created_at"),
        (F.col("inference_id") if "inference_id" in rows.columns else F.lit(None))
        .cast("string").alias("inference_id"),
        _map(numeric, "double").alias("numeric"), _map(categorical, "string").alias("categorical"))
    table = lake.table(SAMPLE_TABLE)
    if not table.exists():
        table.create(SAMPLE_SCHEMA, ["model_id", "name"])
    part = {"model_id": model.model_id, "name": name}
    return table.replace_partitions(sample, [part], read_version=table.version())


def _map(columns: Sequence[str], kind: str):
    if not columns:
        return F.create_map().cast(f"map<string, {kind}>")
    return F.create_map(*[x for c in columns for x in (F.lit(c), F.col(c).cast(kind))])


def load_sample(lake: Lake, model: ModelConfig, name: str) -> tuple[DataFrame, int] | None:
    """The stored sample of baseline `name` as flat feature columns (and the rows'
    `inference_id`, null for a training file), and its version."""
    table = lake.table(SAMPLE_TABLE)
    if not table.exists():
        return None
    rows = table.read(partitions=[{"model_id": model.model_id, "name": name}])
    version = rows.agg(F.max("version")).first()[0]
    if version is None:
        return None
    numeric, categorical = features(model, model.features)
    flat = rows.where(F.col("version") == version).select(
        "inference_id", *[F.col("numeric")[c].alias(c) for c in numeric],
        *[F.col("categorical")[c].alias(c) for c in categorical])
    return flat, int(version)


def score(reference: DataFrame, window: DataFrame, numeric: Sequence[str],
          categorical: Sequence[str], threshold: float = THRESHOLD) -> dict:
    """Cross-validated domain-classifier AUC of `window` against `reference` (both with
    the feature columns): {auc, drifted, status, n, n_reference, top_features, held_out}
    where `held_out` holds each row's (label, score) for checking."""
    columns = [*numeric, *categorical]
    n_ref, n_win = reference.count(), window.count()
    size = min(n_ref, n_win, SAMPLE_ROWS)
    out = {"n": n_win, "n_reference": n_ref, "threshold": threshold, "auc": None,
           "drifted": None, "status": "insufficient_data", "top_features": None,
           "held_out": None}
    if size < MIN_ROWS or not columns:
        return out
    # never closer to chance than 4 standard errors of a null AUC (Hanley & McNeil, with
    # equal classes): 0.6156 at MIN_ROWS rows a side, 0.5516 at 1,000
    threshold = max(threshold, 0.5 + 4 * math.sqrt((2 * size + 1) / (12 * size * size)))
    out["threshold"] = threshold
    sides = []
    for frame, label, n in ((reference, 0.0, n_ref), (window, 1.0, n_win)):
        picked = (frame.select(*columns).orderBy(F.rand(SEED)).limit(size) if n > size
                  else frame.select(*columns))
        sides.append(picked.withColumn("_label", F.lit(label)))
    data = _prepared(sides[0].unionByName(sides[1]), numeric, categorical).persist()
    try:
        held, importances = _cross_validate(data)
        held = held.persist()
        auc = BinaryClassificationEvaluator(labelCol="_label", rawPredictionCol="_score",
                                            metricName="areaUnderROC", numBins=0).evaluate(held)
        rows = held.collect()
        held.unpersist()
    finally:
        data.unpersist()
    ranked = sorted(importances.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_FEATURES]
    out.update(auc=float(auc), drifted=bool(auc > threshold), status="ok",
               top_features=[{"feature": f, "importance": float(v)} for f, v in ranked],
               held_out=[(r[0], r[1]) for r in rows])
    return out


def _prepared(rows: DataFrame, numeric: Sequence[str], categorical: Sequence[str]
              ) -> DataFrame:
    """Numbers with a sentinel and a null indicator; categories as frequency ranks."""
    prepared = rows.select(
        "_label",
        *[F.when(F.col(c).isNull() | F.isnan(c) | F.col(c).isin(float("inf"), float("-inf")),
                 F.lit(SENTINEL)).otherwise(F.col(c)).cast("double").alias(f"_n_{i}")
          for i, c in enumerate(numeric)],
        *[F.col(c).isNull().cast("double").alias(f"_m_{i}") for i, c in enumerate(numeric)],
        *[F.col(c).cast("string").alias(f"_c_{i}") for i, c in enumerate(categorical)])
    indexed = [f"_r_{i}" for i in range(len(categorical))]
    if categorical:
        indexer = StringIndexer(inputCols=[f"_c_{i}" for i in range(len(categorical))],
                                outputCols=indexed, handleInvalid="keep",
                                stringOrderType="frequencyDesc")
        prepared = indexer.fit(prepared).transform(prepared)
        # a plain number, not a nominal attribute: no one-bin-per-category split search
        prepared = prepared.select(*[c for c in prepared.columns if c not in indexed],
                                   *[F.col(c).alias(c, metadata={}) for c in indexed])
    names = [*numeric, *numeric, *categorical]  # a null indicator counts for its column
    inputs = ([f"_n_{i}" for i in range(len(numeric))]
              + [f"_m_{i}" for i in range(len(numeric))] + indexed)
    assembled = VectorAssembler(inputCols=inputs, outputCol="_features").transform(prepared)
    return (assembled.select("_label", "_features",
                             F.floor(F.rand(SEED) * FOLDS).alias("_fold"))
            .withMetadata("_features", {"inferwatch_names": names}))


def _cross_validate(data: DataFrame) -> tuple[DataFrame, dict[str, float]]:
    """Held-out (label, score) of every row, and importance per feature over the folds."""
    names = data.schema["_features"].metadata["inferwatch_names"]
    held, importances = None, {}
    for fold in range(FOLDS):
        forest = RandomForestClassifier(labelCol="_label", featuresCol="_features",
                                        numTrees=TREES, maxDepth=DEPTH, seed=SEED + fold,
                                        featureSubsetStrategy="sqrt")
        fitted = Pipeline(stages=[forest]).fit(data.where(F.col("_fold") != fold)).stages[0]
        scored = fitted.transform(data.where(F.col("_fold") == fold)).select(
            "_label", vector_to_array("probability")[1].alias("_score"))
        held = scored if held is None else held.unionByName(scored)
        for name, value in zip(names, fitted.featureImportances.toArray(), strict=True):
            importances[name] = importances.get(name, 0.0) + float(value) / FOLDS
    return held, importances
