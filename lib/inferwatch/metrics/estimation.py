"""Performance without labels: expected metrics from the predictions alone.

An estimate is an *expected state*: the sums `.performance_state` keeps for realized
metrics (confusion counts, loss and error sums, score histograms), each row contributing
its expected value given its prediction instead of its label. Estimates therefore merge
into days and weeks like realized state, and `performance.metric_values(..., "est_")`
turns them into metrics with the very formulas of the realized ones. Every scored row
counts, labelled or not, and no label of the estimated window is used, so once labels
arrive `<metric>_estimate_error` (estimated - realized) measures the estimator honestly.

Two estimators, as NannyML has them:

- **reference** (importance weighting): the baseline's labelled rows give per-bucket
  performance; a live row takes its bucket's value, so the estimate is the baseline's
  per-bucket performance weighted by the live bucket counts. Buckets: binary, `REF_BINS`
  equal-width score bins, split at the threshold (so a bucket's rows share their
  prediction) and merged with neighbours on the same side until each holds
  `MIN_BUCKET_ROWS` labelled rows (value: the positive rate, i.e. a histogram-binning
  calibration);
  multiclass, the predicted class (value: the share predicted correctly);
  regression, up to `REG_BUCKETS` prediction quantiles of the baseline (values: mean
  error, squared error, absolute error, APE and the share of non-zero labels). Buckets are
  kept per `model_version` when the version has `MIN_BUCKET_ROWS` rows in them, else the
  pooled baseline's bucket is used.
- **confidence** (CBPE, binary only): a calibrated score is the probability of the
  positive class, so q = clip(score, 0, 1). Used when there is no labelled baseline,
  and for rows whose score bucket the baseline never saw.

Binary sums with q = P(y = 1 | score): est_tp = sum q over predicted positives, est_fp =
sum (1 - q) over them, est_fn / est_tn likewise over predicted negatives; expected log
loss and Brier score; AUC from histograms of q and 1 - q per score bin. `est_var_correct`
= sum q(1 - q) is the variance of the number of correct predictions if labels follow q,
so `estimated_accuracy_std` = sqrt(est_var_correct) / n is the estimate's sampling error.

Assumption, and what the error columns reveal: P(label | bucket) is the same live as in
the baseline (covariate shift only). Concept drift breaks it; the estimate then drifts
away from the realized value once labels arrive, which is itself a signal.
Multiclass: reference buckets are the predicted classes, q = P(correct | predicted class);
only `estimated_accuracy` (and its std) is estimated, macro/weighted F1 stay null.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inferwatch.lake.jvm_text import gateway_key, select_text
from inferwatch.lake.sql_text import sql_double, sql_ident
from inferwatch.metrics.performance import (
    BINARY, MULTICLASS, clipped_sql, metric_values)
from inferwatch.metrics.reference import Reference, bucket, build_reference, build_references

__all__ = ["ESTIMATE_COLUMNS", "EXPECTED_SUMS", "Reference", "binary_expected_sums",
           "build_reference", "build_references", "multiclass_expected_sums", "regression_expected_sums",
           "with_estimates", "with_expectations"]

ERROR_MIN_COVERAGE = 0.8  # estimate errors are reported once this share is labelled
EXPECTED_SUMS = (
    "n_labeled", "tp", "fp", "tn", "fn", "n_pos", "n_neg", "sum_log_loss", "sum_brier",
    "correct", "var_correct", "sum_err", "sum_abs_err", "sum_sq_err", "sum_ape", "n_ape", "sum_y",
    "sum_y2",
)
ESTIMATED = ("accuracy", "precision", "recall", "f1", "auc", "log_loss", "brier",
             "rmse", "mae", "mape", "r2")
ESTIMATE_COLUMNS = (
    *[f"estimated_{m}" for m in ESTIMATED], "estimated_accuracy_std",
    *[f"{m}_estimate_error" for m in ESTIMATED],
)
_CONFIDENCE = "least(greatest(prediction, 0.0D), 1.0D)"  # a score as its own probability
_REG_STATS = ("_e_err", "_e_sq", "_e_abs", "_e_ape", "_e_nz")


def with_expectations(rows: DataFrame, references: Mapping[str, Reference | None],
                      problem_type: str) -> DataFrame:
    """`rows` (of the models in `references`, {model_id: its reference}) plus each row's
    expected outcome: `_q` (binary, multiclass) or `_e_*` (regression), looked up in its
    own model's reference. The models' references agree in what buckets a row (all None,
    or all of `problem_type` with the same threshold, classes and edges)."""
    given = [r for r in references.values() if r is not None]
    if problem_type == BINARY and not given:
        return rows.withColumn("_q", F.expr(_CONFIDENCE))
    if len(given) != len(references) or any(r.problem_type != problem_type for r in given):
        return rows
    first = given[0]
    stats = [c for c in first.table.columns if c not in ("model_version", "_bucket")]
    table = rows.sparkSession.createDataFrame(pd.concat(
        [r.table[["model_version", "_bucket", *stats]].assign(model_id=m)
         for m, r in references.items()], ignore_index=True))
    q = sql_ident  # the projections as SQL text: a JVM call each, not a dozen a column
    own = select_text(table, ["model_id", "model_version AS _ref_version", "_bucket",
                              *[f"{q(c)} AS {q('_own' + c)}" for c in stats]])
    pooled = select_text(table.where("model_version = '*'"), [
        "model_id", "_bucket", *[f"{q(c)} AS {q('_pool' + c)}" for c in stats]])
    keyed = rows.withColumns({
        "_bucket": bucket(rows, first),
        "_ref_version": F.coalesce(F.col("model_version").cast("string"), F.lit("null")),
    })
    joined = (keyed.join(F.broadcast(own), on=["model_id", "_ref_version", "_bucket"],
                         how="left")
              .join(F.broadcast(pooled), on=["model_id", "_bucket"], how="left"))
    looked_up = {c: f"CASE WHEN {q('_own' + stats[0])} IS NOT NULL THEN {q('_own' + c)} "
                    f"ELSE {q('_pool' + c)} END" for c in stats}
    if problem_type == BINARY:  # a score bucket the baseline never saw: confidence-based
        looked_up["_q"] = f"coalesce({looked_up['_q']}, {_CONFIDENCE})"
    dropped = {"_bucket", "_ref_version", *[f"_own{c}" for c in stats],
               *[f"_pool{c}" for c in stats]}
    columns = [c for c in joined.columns if c not in dropped]
    return select_text(joined, [
        *[f"{looked_up[c]} AS {q(c)}" if c in looked_up else q(c) for c in columns],
        *[f"{v} AS {q(c)}" for c, v in looked_up.items() if c not in columns]])


def binary_expected_sums(rows: DataFrame, threshold: float) -> list[Column]:
    """Aggregates of the expected binary state (empty when rows carry no `_q`), as SQL
    text (`sql_text`)."""
    if "_q" not in rows.columns:
        return []
    positive = f"prediction >= {sql_double(threshold)}"

    def total(value: str, name: str) -> Column:
        return F.expr(f"sum(CASE WHEN _q IS NOT NULL AND prediction IS NOT NULL "
                      f"THEN {value} ELSE 0.0D END) AS {name}")

    log_p, log_not_p = (f"ln({clipped_sql(p)})" for p in ("prediction", "1.0D - prediction"))
    return [
        total("1.0D", "est_n_labeled"),
        total(f"CASE WHEN {positive} THEN _q ELSE 0.0D END", "est_tp"),
        total(f"CASE WHEN {positive} THEN 1.0D - _q ELSE 0.0D END", "est_fp"),
        total(f"CASE WHEN {positive} THEN 0.0D ELSE 1.0D - _q END", "est_tn"),
        total(f"CASE WHEN {positive} THEN 0.0D ELSE _q END", "est_fn"),
        total(f"(- _q) * {log_p} - (1.0D - _q) * {log_not_p}", "est_sum_log_loss"),
        total("_q * power(1.0D - prediction, 2) + (1.0D - _q) * power(prediction, 2)",
              "est_sum_brier"),
        total("_q * (1.0D - _q)", "est_var_correct"),
        total("_q", "_est_pos"),
        total("1.0D - _q", "_est_neg"),
    ]


def multiclass_expected_sums(rows: DataFrame) -> list[Column]:
    """Aggregates of the expected multiclass state: q = P(correct | predicted class)."""
    if "_q" not in rows.columns:
        return []
    q = F.col("_q")

    def total(value: Column) -> Column:
        return F.sum(F.when(q.isNotNull(), value).otherwise(0.0))

    return [total(F.lit(1.0)).alias("est_n_labeled"), total(q).alias("est_correct"),
            total(q * (1.0 - q)).alias("est_var_correct")]


def regression_expected_sums(rows: DataFrame) -> list[Column]:
    """Aggregates of the expected regression state (empty without `_e_*` columns).

    With err = prediction - label: E[y] = p - E[err], E[y^2] = p^2 - 2p E[err] + E[err^2].
    """
    if "_e_sq" not in rows.columns:
        return []
    p = F.col("prediction")
    e_err, e_sq, e_abs, e_ape, e_nz = (F.col(c) for c in _REG_STATS)
    has = e_sq.isNotNull() & p.isNotNull()

    def total(value: Column) -> Column:
        return F.sum(F.when(has, value).otherwise(0.0))

    return [
        total(F.lit(1.0)).alias("est_n_labeled"),
        total(e_err).alias("est_sum_err"),
        total(e_abs).alias("est_sum_abs_err"),
        total(e_sq).alias("est_sum_sq_err"),
        total(e_ape * e_nz).alias("est_sum_ape"),
        total(e_nz).alias("est_n_ape"),
        total(p - e_err).alias("est_sum_y"),
        total(p * p - 2 * p * e_err + e_sq).alias("est_sum_y2"),
    ]


def with_estimates(frame: DataFrame, problem_type: str) -> DataFrame:
    """Metrics rows (state + realized metrics) plus `ESTIMATE_COLUMNS`."""
    return frame.select("*", *_estimate_columns(problem_type, gateway_key()))


@functools.cache
def _estimate_columns(problem_type: str, _gateway: int) -> tuple[Column, ...]:
    """`ESTIMATE_COLUMNS` as Columns, built once per JVM (as `performance.metrics`)."""
    if problem_type == MULTICLASS:  # accuracy only: F1 would need the whole confusion
        values = {"accuracy": F.try_divide(F.col("est_correct"), F.col("est_n_labeled"))}
    else:
        values = metric_values(problem_type, prefix="est_")
    estimated = {m: values.get(m, F.lit(None)).cast("double") for m in ESTIMATED}
    std = F.sqrt(F.col("est_var_correct")) / F.col("est_n_labeled")
    covered = F.col("label_coverage") >= ERROR_MIN_COVERAGE
    return (*[v.alias(f"estimated_{m}") for m, v in estimated.items()],
            F.when(F.col("est_n_labeled") > 0, std).cast("double").alias("estimated_accuracy_std"),
            *[F.when(covered, v - F.col(m)).cast("double").alias(f"{m}_estimate_error")
              for m, v in estimated.items()])
