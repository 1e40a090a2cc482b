"""Reference performance per bucket, learned from a model's labelled baseline.

The *reference* estimator (importance weighting, see `.estimation`): the baseline's
labelled rows give per-bucket performance; a live row takes its bucket's value. Buckets:
binary, `REF_BINS` equal-width score bins, split at the threshold and merged with
neighbours on the same side until each holds `MIN_BUCKET_ROWS` labelled rows (value: the
positive rate); multiclass, the predicted class (value: the share predicted correctly);
regression, up to `REG_BUCKETS` prediction quantiles (mean error, squared and absolute
error, APE, share of non-zero labels). Buckets are kept per `model_version` when the
version has `MIN_BUCKET_ROWS` rows in them, else the pooled baseline's bucket is used.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inferwatch.metrics.performance import (
    BINARY,
    MULTICLASS,
    REGRESSION,
    class_name,
    is_positive,
    predicted_class,
)

REF_BINS = 100
MIN_BUCKET_ROWS = 50
REG_BUCKETS = 20
# the ranks of every bucket count's edges: i / b for 1 <= i < b <= REG_BUCKETS
RANKS = tuple(sorted({i / b for b in range(2, REG_BUCKETS + 1) for i in range(1, b)}))


@dataclass(frozen=True)
class Reference:
    """Per-bucket baseline performance: `table` rows (model_version or '*', _bucket, stats)."""

    problem_type: str
    table: pd.DataFrame
    edges: tuple[float, ...] = ()  # regression: bucket b holds edges[b-1] <= prediction < edges[b]
    threshold: float = 0.5  # binary: buckets never straddle it
    classes: tuple[str, ...] = ()  # multiclass: names of class indices
    rows: int = 0


def build_reference(rows: DataFrame, problem_type: str, threshold: float | None = None,
                    classes: Sequence[str] = ()) -> Reference | None:
    """The reference of `rows` (`model_version`, `prediction`, `label`, for multiclass
    optionally `prediction_label`), None if too few labelled rows.

    Two small Spark jobs at most; the per-bucket table is a few hundred rows.
    """
    return build_references(rows.withColumn("model_id", F.lit("")), [""], problem_type,
                            threshold, classes)[""]


def build_references(rows: DataFrame, model_ids: Sequence[str], problem_type: str,
                     threshold: float | None = None, classes: Sequence[str] = ()
                     ) -> dict[str, Reference | None]:
    """{model_id: the reference of its rows} of models alike (one problem type, threshold
    and classes) whose baselines are `rows` (a `model_id` column tells them apart):
    binary and multiclass in one Spark job for all of them, regression in two (each
    model's quantile edges are its own, read off one summary a model)."""
    present = rows.where(_present("prediction") & _present("label"))
    version = F.coalesce(F.col("model_version").cast("string"), F.lit("null"))
    if problem_type == MULTICLASS:
        counts = _multiclass_counts(present, version, tuple(classes))
        return {m: _multiclass_reference(counts[counts["model_id"] == m], tuple(classes))
                for m in model_ids}
    labeled = present.select(
        "model_id", version.alias("model_version"),
        F.col("prediction").cast("double").alias("p"), F.col("label").cast("double").alias("y"))
    if problem_type == BINARY:
        counts = _binary_counts(labeled, float(threshold))
        return {m: _binary_reference(counts[counts["model_id"] == m], float(threshold))
                for m in model_ids}
    return _regression_references(labeled, model_ids)


def _present(name: str) -> Column:
    c = F.col(name).cast("double")
    return c.isNotNull() & ~F.isnan(c)


def _binary_counts(labeled: DataFrame, threshold: float) -> pd.DataFrame:
    side = F.when(F.col("p") >= threshold, "+").otherwise("-")
    return (labeled.groupBy("model_id", "model_version", _score_bin(F.col("p")).alias("bin"),
                            side.alias("side"))
            .agg(F.count(F.lit(1)).alias("n"), F.count_if(is_positive(F.col("y"))).alias("pos"))
            .toPandas())


def _binary_reference(counts: pd.DataFrame, threshold: float) -> Reference | None:
    """The binary reference of one model's counts per (version, score bin, side)."""
    counts = counts.drop(columns="model_id")
    if counts.empty:
        return None
    pooled = (counts.groupby(["bin", "side"], as_index=False)[["n", "pos"]].sum()
              .assign(model_version="*"))
    out = []
    for version, group in pd.concat([counts, pooled]).groupby("model_version"):
        if group["n"].sum() < MIN_BUCKET_ROWS:
            continue
        for sign, bins in (("-", range(REF_BINS)), ("+", range(REF_BINS))):
            cells = group[group["side"] == sign].set_index("bin")
            n = cells["n"].reindex(bins, fill_value=0).to_numpy()
            pos = cells["pos"].reindex(bins, fill_value=0).to_numpy()
            for merged in _merge_sparse(n):
                rate = pos[merged].sum() / n[merged].sum() if n[merged].sum() else None
                out += [(version, f"{b}{sign}", rate) for b in merged]
    if not out:
        return None
    table = pd.DataFrame(out, columns=["model_version", "_bucket", "_q"]).dropna()
    return Reference(BINARY, table, threshold=threshold, rows=int(counts["n"].sum()))


def _multiclass_counts(rows: DataFrame, version: Column, classes: tuple[str, ...]
                       ) -> pd.DataFrame:
    predicted = predicted_class(rows, classes)
    correct = class_name(F.col("label").cast("double"), classes) == predicted
    return (rows.groupBy("model_id", version.alias("model_version"), predicted.alias("_bucket"))
            .agg(F.count(F.lit(1)).alias("n"), F.count_if(correct).alias("correct"))
            .where(F.col("_bucket").isNotNull()).toPandas())


def _multiclass_reference(stats: pd.DataFrame, classes: tuple[str, ...]) -> Reference | None:
    """The multiclass reference of one model's counts per (version, predicted class)."""
    stats = stats.drop(columns="model_id")
    if stats.empty:
        return None
    pooled = stats.groupby("_bucket", as_index=False)[["n", "correct"]].sum().assign(
        model_version="*")
    table = pd.concat([stats[stats["n"] >= MIN_BUCKET_ROWS], pooled], ignore_index=True)
    table = pd.DataFrame({"model_version": table["model_version"], "_bucket": table["_bucket"],
                          "_q": table["correct"] / table["n"]})
    return Reference(MULTICLASS, table, classes=classes, rows=int(stats["n"].sum()))


def _score_bin(p: Column) -> Column:
    return F.least(F.greatest(F.floor(p * REF_BINS), F.lit(0)), F.lit(REF_BINS - 1)).cast("int")


def _merge_sparse(n) -> list[list[int]]:
    """Consecutive bins grouped so every group holds at least MIN_BUCKET_ROWS rows."""
    groups, current, filled = [], [], 0
    for b, count in enumerate(n):
        current.append(b)
        filled += count
        if filled >= MIN_BUCKET_ROWS:
            groups.append(current)
            current, filled = [], 0
    if current:
        if groups:
            groups[-1] += current
        else:
            groups.append(current)
    return groups


def _regression_references(labeled: DataFrame, model_ids: Sequence[str]
                           ) -> dict[str, Reference | None]:
    """Regression references of every model in two Spark jobs: each model's count and its
    prediction quantiles at every rank any bucket count reads (`RANKS`; a model with n
    labelled rows has min(`REG_BUCKETS`, n // `MIN_BUCKET_ROWS`) buckets, its edges at
    i / buckets), then the error sums per (model, version, bucket), each row bucketed
    by its own model's edges."""
    found = {r["model_id"]: (r["n"], dict(zip(RANKS, r["q"]))) for r in labeled.groupBy(
        "model_id").agg(F.count(F.lit(1)).alias("n"),
                        F.percentile_approx("p", list(RANKS), 10_000).alias("q")).collect()}
    edges = {}
    for model_id in model_ids:
        n, at = found.get(model_id, (0, {}))
        buckets = min(REG_BUCKETS, n // MIN_BUCKET_ROWS)
        if buckets >= 1:
            edges[model_id] = tuple(sorted({at[i / buckets] for i in range(1, buckets)}))
    if not edges:
        return dict.fromkeys(model_ids)
    given = labeled.sparkSession.createDataFrame(
        [(m, list(e)) for m, e in edges.items()], "model_id string, _edges array<double>")
    keyed = labeled.join(F.broadcast(given), on="model_id").withColumn(
        "_bucket", _bucket_in(F.col("p"), F.col("_edges")))
    err = F.col("p") - F.col("y")
    nonzero = F.col("y") != 0
    stats = (keyed.groupBy("model_id", "model_version", "_bucket").agg(
        F.count(F.lit(1)).alias("n"), F.sum(err).alias("err"), F.sum(err * err).alias("sq"),
        F.sum(F.abs(err)).alias("abs"), F.count_if(nonzero).alias("nz"),
        F.sum(F.when(nonzero, F.abs(err) / F.abs(F.col("y"))).otherwise(0.0)).alias("ape"),
    ).toPandas())
    return {m: _regression_reference(stats[stats["model_id"] == m].drop(columns="model_id"),
                                     edges[m], found[m][0]) if m in edges else None
            for m in model_ids}


def _regression_reference(stats: pd.DataFrame, edges: tuple[float, ...], rows: int
                          ) -> Reference:
    """The regression reference of one model's error sums per (version, bucket)."""
    sums = ["n", "err", "sq", "abs", "nz", "ape"]
    pooled = stats.groupby("_bucket", as_index=False)[sums].sum().assign(model_version="*")
    table = pd.concat([stats[stats["n"] >= MIN_BUCKET_ROWS], pooled], ignore_index=True)
    table = pd.DataFrame({
        "model_version": table["model_version"], "_bucket": table["_bucket"],
        "_e_err": table["err"] / table["n"], "_e_sq": table["sq"] / table["n"],
        "_e_abs": table["abs"] / table["n"],
        "_e_ape": (table["ape"] / table["nz"].where(table["nz"] > 0)).fillna(0.0),
        "_e_nz": table["nz"] / table["n"],
    })
    return Reference(REGRESSION, table, edges, rows=int(rows))


def bucket(rows: DataFrame, reference: Reference) -> Column:
    p = F.col("prediction")
    if reference.problem_type == BINARY:
        side = F.when(p >= reference.threshold, "+").otherwise("-")
        return F.concat(_score_bin(p).cast("string"), side)
    if reference.problem_type == MULTICLASS:
        return predicted_class(rows, reference.classes or None)
    return _bucket_of(p, reference.edges)


def _bucket_of(p: Column, edges: tuple[float, ...]) -> Column:
    """`_bucket_in` of edges given as numbers."""
    return _bucket_in(p, F.array(*[F.lit(float(e)) for e in edges]).cast("array<double>"))


def _bucket_in(p: Column, edges: Column) -> Column:
    """Index of the quantile bucket (number of `edges` <= p, an array column: each row
    may carry its own model's), as a string; null for a null or NaN p."""
    return F.when(p.isNotNull() & ~F.isnan(p), F.size(F.filter(edges, lambda e: p >= e))
                  .cast("string"))
