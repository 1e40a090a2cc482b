"""Multivariate drift: can a classifier tell a window's rows from the baseline's?

Per-column drift misses a change in how features move together (a correlation that
breaks, a mix of segments that shifts while every marginal stays put). A domain
classifier sees the joint distribution: a random forest (scikit-learn, `TREES` trees of
depth `DEPTH`, `sqrt` features per split) is trained to tell a sample of the baseline
(label 0) from a sample of the window (label 1), scored with `FOLDS`-fold stratified
cross-validation; the area under the ROC curve of the held-out predictions is the drift
score. 0.5: the window looks like the baseline; 1.0: every row gives itself away. The
features the forests lean on most (mean impurity importance over the folds, a column's
null indicator counted with it) point at where the joint distribution moved.

Every (model, day) of a run is one plan (`scores`): the rows are sampled in Spark and
one `groupBy(model_id, window_start).applyInPandas` fits each day's forests on the
executors, so at most 2 x `SAMPLE_ROWS` rows of a day reach a Python worker and no
Spark job runs per model or day.

Sizes: the baseline keeps a seeded sample of `SAMPLE_ROWS` rows (`baseline_samples`,
stored with each baseline version by `metrics.domain_sample`); each window is sampled
down to the same size, and both sides are cut to the smaller one so the classes are balanced: the rows with the
smallest seeded hash of their id (`_key`), a uniform draw that does not depend on how
Spark splits the files. Below `MIN_ROWS` rows on either side the row says
`insufficient_data`. A window that overlaps the baseline is scored without the sampled
rows themselves: a row in both classes teaches the forest to guess against it, and the
held-out AUC falls below 0.5 (NannyML's reference chunks have the same flaw). With 1,000
rows a side the held-out AUC of two samples of one distribution stays within about
0.5 ± 0.03 (its standard error is about 0.013), so the default threshold `THRESHOLD` =
0.6 sits more than 7 standard errors above chance; set `drift: multivariate:
{threshold: ...}` per model. A small window raises the threshold to 0.5 plus 4 standard
errors of a null AUC. Numeric features enter as they are (null, NaN and infinities as a
sentinel plus a null indicator), categorical ones as their frequency rank in the day's
two samples (most frequent 0, ties by value; a null gets the next rank), so that a
feature of 10,000 categories costs one split search, not 10,000.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.lake.sql_text import sql_double, sql_ident
from inferwatch.metrics.domain_sample import (  # noqa: F401 - the sample's names, here too
    SAMPLE_ROWS, SAMPLE_SCHEMA, SAMPLE_TABLE, SEED, features, store_sample, thinned)
from inferwatch.model_settings.drift import MULTIVARIATE_THRESHOLD

MIN_ROWS = 200
FOLDS = 3
TREES = 40
DEPTH = 5
THRESHOLD = MULTIVARIATE_THRESHOLD  # the default of the model's drift.multivariate.threshold
TOP_FEATURES = 5
SENTINEL = -1.0e30  # below any real value: a tree separates "missing" with one split

RESULT_SCHEMA = T.StructType([T.StructField(n, t) for n, t in [
    ("model_id", T.StringType()), ("granularity", T.StringType()),
    ("window_start", T.TimestampType()), ("baseline", T.StringType()),
    ("baseline_version", T.LongType()), ("auc", T.DoubleType()),
    ("threshold", T.DoubleType()), ("drifted", T.BooleanType()), ("status", T.StringType()),
    ("n", T.LongType()), ("n_reference", T.LongType()),
    ("top_features", T.ArrayType(T.StructType([
        T.StructField("feature", T.StringType()),
        T.StructField("importance", T.DoubleType())])))]])
# what the pandas function returns per (model, day)
FIT_SCHEMA = ("model_id string, _day long, auc double, "
              "top_names array<string>, top_importances array<double>")
Names = Mapping[str, tuple[Sequence[str], Sequence[str]]]  # model_id: (numeric, categorical)


def encoded(rows: DataFrame, numeric: Sequence[str], categorical: Sequence[str],
            key: Column) -> DataFrame:
    """`rows` as the classifier reads them: `x` (each numeric feature with null, NaN and
    infinities as `SENTINEL`, then each one's null indicator), `c` (the categorical
    features as strings) and `_key` (the seeded hash of `key`, a row's identity, by which
    the samples are drawn). Columns other than those are dropped, `model_id` and
    `window_start` kept when present."""
    q = sql_ident  # SQL text: a JVM call a projection, where Columns cost ~60 a feature
    infinite = "(CAST('Infinity' AS DOUBLE), CAST('-Infinity' AS DOUBLE))"
    x = [f"CAST(CASE WHEN {q(c)} IS NULL OR isnan({q(c)}) OR {q(c)} IN {infinite} "
         f"THEN {sql_double(SENTINEL)} ELSE {q(c)} END AS DOUBLE)" for c in numeric]
    x += [f"CAST({q(c)} IS NULL AS DOUBLE)" for c in numeric]
    c = [f"CAST({q(name)} AS STRING)" for name in categorical]
    kept = [name for name in ("model_id", "window_start") if name in rows.columns]
    return rows.select(
        *[F.expr(text) for text in (
            *kept, f"CAST(array({', '.join(x)}) AS array<double>) AS x",
            f"CAST(array({', '.join(c)}) AS array<string>) AS c")],
        F.xxhash64(F.lit(SEED), key).alias("_key"))


def scores(reference: DataFrame, windows: DataFrame, days: DataFrame, names: Names
           ) -> DataFrame:
    """One row per (model_id, window_start) of `days`: `n`, `n_reference`, `size` (the
    rows a side) and, where both sides have `MIN_ROWS` rows, the held-out `auc` and the
    `top_names`/`top_importances` of the features. `reference` is each model's encoded
    baseline sample (model_id, x, c, _key), `windows` the encoded rows of the days
    (model_id, window_start, x, c, _key), `names` each model's (numeric, categorical)
    features in `x`'s and `c`'s order."""
    rows = labelled(reference, windows, days)
    counts = counted(rows).withColumn("_day", F.unix_micros("window_start"))
    # the day as a number through the Python worker: no time zone on the way
    fitted = (balanced(rows, counts.where(F.col("size") >= MIN_ROWS))
              .select("model_id", "_day", "_label", "x", "c", "_key")
              .groupBy("model_id", "_day")
              .applyInPandas(_fit_groups(dict(names)), FIT_SCHEMA))
    return counts.join(fitted, on=["model_id", "_day"], how="left").drop("_day")


def labelled(reference: DataFrame, windows: DataFrame, days: DataFrame) -> DataFrame:
    """The baseline rows under label 0 in each of their model's `days`, the windows' rows
    under label 1: (model_id, window_start, _label, x, c, _key)."""
    columns = ["model_id", "window_start", "_label", "x", "c", "_key"]
    ref = (reference.join(F.broadcast(days.select("model_id", "window_start")),
                          on="model_id", how="inner")
           .withColumn("_label", F.lit(0)).select(*columns))
    return ref.unionByName(windows.withColumn("_label", F.lit(1)).select(*columns))


def counted(rows: DataFrame) -> DataFrame:
    """(model_id, window_start, n, n_reference, size) of `labelled` rows: `size` is the
    number of rows each side is cut to, min(n, n_reference, `SAMPLE_ROWS`)."""
    sides = rows.groupBy("model_id", "window_start").agg(
        F.count(F.when(F.col("_label") == 1, 1)).alias("n"),
        F.count(F.when(F.col("_label") == 0, 1)).alias("n_reference"))
    return sides.withColumn("size", F.least("n", "n_reference", F.lit(SAMPLE_ROWS)))


def balanced(rows: DataFrame, counts: DataFrame) -> DataFrame:
    """The `size` rows of each side of each (model, day) with the smallest `_key`, the
    counts' columns beside them. A side's rows are first `thinned` to a few more than
    `size`, so the whole day is never ranked; should a thinned side fall short of `size`
    rows (a once-in-10^15 event), the fit cuts both sides to the shorter."""
    side = F.when(F.col("_label") == 1, F.col("n")).otherwise(F.col("n_reference"))
    order = Window.partitionBy("model_id", "window_start", "_label").orderBy("_key")
    return (rows.join(F.broadcast(counts), on=["model_id", "window_start"], how="inner")
            .where(thinned(F.col("_key"), F.col("size"), side))
            .withColumn("_rank", F.row_number().over(order))
            .where(F.col("_rank") <= F.col("size")).drop("_rank"))


def judged(auc: float | None, size: int, threshold: float) -> dict:
    """{threshold, drifted, status} of a day's AUC on `size` rows a side: the threshold
    is never closer to chance than 4 standard errors of a null AUC (Hanley & McNeil,
    with equal classes): 0.6156 at `MIN_ROWS` rows a side, 0.5516 at 1,000."""
    if auc is None or size < MIN_ROWS:
        return {"threshold": threshold, "drifted": None, "status": "insufficient_data"}
    threshold = max(threshold, 0.5 + 4 * math.sqrt((2 * size + 1) / (12 * size * size)))
    return {"threshold": threshold, "drifted": bool(auc > threshold), "status": "ok"}


def fit(sample: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
        ) -> tuple[float | None, dict[str, float]]:
    """(held-out AUC, importance per feature) of one day's `balanced` rows (`_label`,
    `x`, `c`, `_key`): the method itself, on one Python worker."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    sample = sample.sort_values(["_label", "_key"], kind="stable")
    size = int(sample["_label"].value_counts().reindex([0, 1], fill_value=0).min())
    sample = sample.groupby("_label", sort=True).head(size)  # balanced, by key
    if size < MIN_ROWS or not (numeric or categorical):
        return None, {}
    matrix = np.column_stack([
        np.stack(sample["x"].to_numpy()).reshape(len(sample), 2 * len(numeric)),
        *[frequency_rank(pd.Series([c[j] for c in sample["c"]], dtype=object))
          for j in range(len(categorical))]])
    labels = sample["_label"].to_numpy()
    held = np.empty(len(labels))
    importance = np.zeros(matrix.shape[1])
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(
            matrix, labels):
        forest = RandomForestClassifier(n_estimators=TREES, max_depth=DEPTH,
                                        max_features="sqrt", random_state=SEED, n_jobs=1)
        forest.fit(matrix[train], labels[train])
        held[test] = forest.predict_proba(matrix[test])[:, 1]
        importance += forest.feature_importances_ / FOLDS
    by_feature: dict[str, float] = {}
    for name, value in zip([*numeric, *numeric, *categorical], importance, strict=True):
        by_feature[name] = by_feature.get(name, 0.0) + float(value)
    return float(roc_auc_score(labels, held)), by_feature


def frequency_rank(values: pd.Series) -> np.ndarray:
    """Each value's rank by frequency (most frequent 0, ties by value); a null ranks
    after every value."""
    counts = values.dropna().value_counts()
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ranks = {value: float(i) for i, (value, _) in enumerate(order)}
    return values.map(ranks).fillna(float(len(ranks))).to_numpy(dtype=float)


def top(importance: Mapping[str, float]) -> list[dict]:
    """The `TOP_FEATURES` features with the most importance, as `top_features` holds."""
    ranked = sorted(importance.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_FEATURES]
    return [{"feature": f, "importance": float(v)} for f, v in ranked]


def _fit_groups(names: dict[str, tuple[Sequence[str], Sequence[str]]]):
    def fit_group(sample: pd.DataFrame) -> pd.DataFrame:
        numeric, categorical = names[sample["model_id"].iloc[0]]
        auc, importance = fit(sample, numeric, categorical)
        best = top(importance)
        return pd.DataFrame({
            "model_id": [sample["model_id"].iloc[0]], "_day": [int(sample["_day"].iloc[0])],
            "auc": [auc],
            "top_names": [[f["feature"] for f in best]],
            "top_importances": [[f["importance"] for f in best]]})
    return fit_group


def score(reference: DataFrame, window: DataFrame, numeric: Sequence[str],
          categorical: Sequence[str], threshold: float = THRESHOLD) -> dict:
    """Cross-validated domain-classifier AUC of `window` against `reference` (both with
    the feature columns, rows identified by `inference_id` when they have one), as one
    model-day of `scores`: {auc, threshold, drifted, status, n, n_reference,
    top_features}."""
    day = datetime(1970, 1, 1, tzinfo=timezone.utc)

    def side(rows: DataFrame) -> DataFrame:
        ident = (F.col("inference_id").cast("string") if "inference_id" in rows.columns
                 else F.monotonically_increasing_id().cast("string"))
        return encoded(rows.withColumn("model_id", F.lit("-"))
                       .withColumn("window_start", F.lit(day)), numeric, categorical, ident)

    days = reference.sparkSession.createDataFrame([("-", day)],
                                                  "model_id string, window_start timestamp")
    row = scores(side(reference).drop("window_start"), side(window), days,
                 {"-": (numeric, categorical)}).first()
    names, values = row["top_names"] or [], row["top_importances"] or []
    return {"n": row["n"], "n_reference": row["n_reference"], "auc": row["auc"],
            **judged(row["auc"], row["size"], threshold),
            "top_features": [{"feature": f, "importance": v} for f, v in zip(
                names, values, strict=True)] or None}
