"""Per-slice performance as a mergeable state: hourly states from rows, 1d/1w by merging.

Deequ's split: `hourly_state` computes a *state* per (model_id, window_start, slice_key,
slice_value) from the labelled inference rows; `merge_states` adds states up (sums,
key-wise sums of the sparse score histograms and per-class maps, KLL sketch merges), so
day and week rollups never rescan rows; `inferwatch.metrics.performance.metrics` turns
any state into metrics that equal scikit-learn's on the same rows. Every problem type yields the same
schema (`STATE_SCHEMA`); columns that do not apply to it are null.

Conventions:
- A row enters the metrics ("labelled") when it has both a label and a prediction;
  every row counts in `n`. NaN in `prediction`, `label` or `delay_s` counts as missing.
- binary: positive prediction = `prediction >= threshold`; positive label: `is_positive`
  (`label == 1.0`; any other label value is negative). AUC is carried by sparse score
  histograms, `map<key, count>` over `SCORE_BINS` equal-width bins of [0, 1] (width
  1e-4; scores outside fall in the edge bins); a bin's key is its lower edge in units
  of 1e-5 (`BIN_KEY` x its index), so states written with the 1e-5 bins of earlier
  versions read as the same bins. Only bins that hold a row are stored: a window keeps
  at most `SCORE_BINS` entries however many rows it has. AUC is exact unless a positive
  and a negative share a bin, and each row states its bound (`auc_error_bound`): on the
  benchmark's and a 3%-positive model's scores, below 2.3e-4 (the error itself below
  4e-6). Bins of 1e-5 held ten times the entries and cost the 1,000,000-row benchmark's
  performance job half its time (85 -> 45 s).
- multiclass: classes are strings. The true class is `label_class` (a label that arrived
  as a class name) when set, else `label` read as a class index: `classes[int(label)]`, or the index
  as text ("2") without `classes` or when it lies outside them. The predicted class is
  `prediction_label`, else `prediction` read as an index the same way.
- multiclass state: `class_true` / `class_pred` count labelled rows per true / predicted
  class, `class_tp` the correct ones per class.
- `delay_sketch`: KLL sketch (k=`KLL_K`) of `delay_s`. DataSketches' bound for k=200:
  a quantile's normalized rank error is within 1.33% (1.65% for PMF/CDF queries) with
  99% confidence, for hourly and merged sketches alike.

Example::

    hourly = hourly_state(rows, "binary_classification", threshold=0.5)
    daily = merge_states(hourly, "1d")
"""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.metrics.estimation import (
    EXPECTED_SUMS,
    binary_expected_sums,
    multiclass_expected_sums,
    regression_expected_sums,
)
from inferwatch.metrics.performance import (
    BIN_KEY,
    BINARY,
    MULTICLASS,
    check_problem_type,
    clipped_sql,
    is_positive_sql,
    metrics,
    predicted_class,
    true_class,
)
from inferwatch.lake.sql_text import joined_beside, sql_double, sql_ident
from inferwatch.metrics.maps import sorted_map, sum_maps, summed_map
from inferwatch.granularity import check_granularity
from inferwatch.metrics.window_store import window_column
from inferwatch.metrics.windows import conform

__all__ = [
    "BIN_KEY", "KEY", "KLL_K", "SCORE_BINS", "STATE_SCHEMA", "hourly_state", "merge_states",
    "metrics",
]

SCORE_BINS = 10_000
KLL_K = 200  # rank error 1.33% for quantiles, 1.65% for PMF/CDF (99% confidence)
KEY = ["model_id", "window_start", "slice_key", "slice_value"]

_L, _D = T.LongType(), T.DoubleType()
_COUNTS = T.MapType(T.StringType(), _L)
_HIST = T.MapType(T.IntegerType(), _L)
_EST_HIST = T.MapType(T.IntegerType(), _D)
STATE_SCHEMA = T.StructType(
    [T.StructField("model_id", T.StringType()), T.StructField("window_start", T.TimestampType())]
    + [T.StructField(c, T.StringType()) for c in ("slice_key", "slice_value")]
    + [T.StructField(c, _L) for c in ("n", "n_labeled", "tp", "fp", "tn", "fn", "n_pos", "n_neg")]
    + [T.StructField(c, _D) for c in ("sum_log_loss", "sum_brier")]
    + [T.StructField(c, _HIST) for c in ("pos_hist", "neg_hist")]
    + [T.StructField(c, _D) for c in ("sum_err", "sum_abs_err", "sum_sq_err", "sum_ape")]
    + [T.StructField("n_ape", _L)]
    + [T.StructField(c, _D) for c in ("sum_y", "sum_y2")]
    + [T.StructField(c, _COUNTS) for c in ("class_true", "class_pred", "class_tp")]
    + [T.StructField("delay_sketch", T.BinaryType())]
    + [T.StructField(f"est_{c}", _D) for c in EXPECTED_SUMS]
    + [T.StructField(f"est_{c}", _EST_HIST) for c in ("pos_hist", "neg_hist")]
)
_MAPS = ("pos_hist", "neg_hist", "est_pos_hist", "est_neg_hist", "class_true", "class_pred",
         "class_tp")
_SUMS = tuple(
    f.name for f in STATE_SCHEMA.fields if f.name not in (*KEY, *_MAPS, "delay_sketch")
)


def hourly_state(
    rows: DataFrame,
    problem_type: str,
    threshold: float | None,
    classes: Sequence[str] | None = None,
) -> DataFrame:
    """One state row per (model_id, window_start, slice_key, slice_value) of `rows`.

    `rows` holds `model_id`, `window_start` (the hour), `slice_key`, `slice_value`,
    `prediction`, `label` (null until labelled), `delay_s`, and for multiclass
    `prediction_label` and optionally `label_class`. Binary: a first aggregation at the
    grain of (key, score bin) keeps every count exact and a second folds the cells into
    sparse histograms, joined with the key's delay sketch; multiclass folds (key, true,
    predicted) cells into per-class maps; regression is one aggregation. Persist `rows`
    first when it is costly to recompute: binary reads it twice.
    """
    check_problem_type(problem_type)
    _check_columns(rows, problem_type)
    rows = rows.withColumns({  # NaN is as good as missing
        c: F.expr(f"nanvl(CAST({c} AS DOUBLE), CAST(NULL AS DOUBLE))")
        for c in ("prediction", "label", "delay_s") if c in rows.columns
    })
    if problem_type == BINARY:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise TypeError(f"binary_classification needs a numeric threshold, got {threshold!r}")
        folded = _fold_binary_cells(_binary_cells(rows, float(threshold)))
        sketches = rows.groupBy(*KEY).agg(
            F.kll_sketch_agg_double("delay_s", KLL_K).alias("delay_sketch"))
        return conform(joined_beside(folded, sketches, KEY, right_columns=["delay_sketch"]),
                       STATE_SCHEMA)
    if problem_type == MULTICLASS:
        if classes is not None and (isinstance(classes, str) or len(set(classes)) != len(classes)):
            raise ValueError(f"classes must be a sequence of distinct names, got {classes!r}")
        return conform(_fold_class_cells(_class_cells(rows, classes)), STATE_SCHEMA)
    return conform(_regression_state(rows), STATE_SCHEMA)


def merge_states(states: DataFrame, granularity: str) -> DataFrame:
    """Add up states into day ("1d") or ISO week ("1w", from Monday) windows.

    `window_start` becomes the start of the day or week; the result has `STATE_SCHEMA`,
    so it merges again (hours → days → weeks) and feeds `metrics` like an hourly state.
    """
    check_granularity(granularity)
    missing = [f.name for f in STATE_SCHEMA.fields if f.name not in states.columns]
    if missing:
        raise ValueError(f"states lack state columns {missing}; expected STATE_SCHEMA")
    window = window_column("window_start", granularity).alias("window_start")
    merged = states.groupBy("model_id", window, "slice_key", "slice_value").agg(
        *[F.expr(f"sum({sql_ident(c)}) AS {sql_ident(c)}") for c in _SUMS],  # SQL text:
        *[summed_map(c, STATE_SCHEMA[c].dataType).alias(c) for c in _MAPS],  # few JVM calls
        F.kll_merge_agg_double("delay_sketch").alias("delay_sketch"),
    )
    return conform(merged, STATE_SCHEMA)


# --- binary ------------------------------------------------------------------------


def _binary_cells(rows: DataFrame, threshold: float) -> DataFrame:
    """One cell per (key, score bin) of the scored rows, plus one for unscored rows. As
    SQL text (`sql_text`): a JVM call an aggregate, where Columns cost dozens."""
    labeled = "(label IS NOT NULL AND prediction IS NOT NULL)"
    is_pos = f"({is_positive_sql('label')})"
    predicted_pos = f"(prediction >= {sql_double(threshold)})"
    # sklearn: -log(clip(p)) for positives, -log(clip(1 - p)) for negatives
    p_of_label = f"CASE WHEN {is_pos} THEN prediction ELSE 1.0D - prediction END"
    score_bin = (f"least(greatest(floor(prediction * {SCORE_BINS}), 0), {SCORE_BINS - 1})"
                 f" * {BIN_KEY}")
    return rows.groupBy(*KEY, F.expr(f"CAST({score_bin} AS INT) AS _bin")).agg(*[
        F.expr(text) for text in (
            "count(1) AS n",
            f"count_if({labeled}) AS n_labeled",
            f"count_if({labeled} AND {is_pos} AND {predicted_pos}) AS tp",
            f"count_if({labeled} AND NOT {is_pos} AND {predicted_pos}) AS fp",
            f"count_if({labeled} AND NOT {is_pos} AND NOT {predicted_pos}) AS tn",
            f"count_if({labeled} AND {is_pos} AND NOT {predicted_pos}) AS fn",
            f"sum(CASE WHEN {labeled} THEN - ln({clipped_sql(p_of_label)}) ELSE 0.0D END)"
            " AS sum_log_loss",
            f"sum(CASE WHEN {labeled} THEN power(prediction - CAST({is_pos} AS DOUBLE), 2) "
            "ELSE 0.0D END) AS sum_brier")],
        *binary_expected_sums(rows, threshold),
    )


def _fold_binary_cells(cells: DataFrame) -> DataFrame:
    def histogram(value: Column) -> Column:
        entry = F.when(F.col("_bin").isNotNull() & (value > 0), F.struct(F.col("_bin"), value))
        return sorted_map(F.map_from_entries(F.collect_list(entry)))

    counts = ("n", "n_labeled", "tp", "fp", "tn", "fn", "sum_log_loss", "sum_brier")
    expected = [c for c in cells.columns if c.startswith("est_")]
    folded = cells.groupBy(*KEY).agg(
        *[F.expr(f"sum({sql_ident(c)}) AS {sql_ident(c)}") for c in (*counts, *expected)],
        histogram(F.col("tp") + F.col("fn")).alias("pos_hist"),
        histogram(F.col("fp") + F.col("tn")).alias("neg_hist"),
        *([histogram(F.col("_est_pos")).alias("est_pos_hist"),
           histogram(F.col("_est_neg")).alias("est_neg_hist")]
          if "_est_pos" in cells.columns else []),
    )
    totals = {"n_pos": F.col("tp") + F.col("fn"), "n_neg": F.col("fp") + F.col("tn")}
    if "_est_pos" in cells.columns:
        totals.update({"est_n_pos": F.col("est_tp") + F.col("est_fn"),
                       "est_n_neg": F.col("est_fp") + F.col("est_tn")})
    return folded.withColumns(totals)


# --- multiclass --------------------------------------------------------------------


def _class_cells(rows: DataFrame, classes: Sequence[str] | None) -> DataFrame:
    actual = true_class(rows, classes)
    predicted = predicted_class(rows, classes)
    labeled = actual.isNotNull() & predicted.isNotNull()
    return rows.groupBy(
        *KEY,
        F.when(labeled, actual).alias("_true"),
        F.when(labeled, predicted).alias("_pred"),
    ).agg(
        F.count(F.lit(1)).alias("n"),
        F.count_if(labeled).alias("n_labeled"),
        F.kll_sketch_agg_double("delay_s", KLL_K).alias("delay_sketch"),
        *multiclass_expected_sums(rows),
    )


def _fold_class_cells(cells: DataFrame) -> DataFrame:
    true_c, pred_c, count = F.col("_true"), F.col("_pred"), F.col("n_labeled")
    expected = [c for c in cells.columns if c.startswith("est_")]
    return cells.groupBy(*KEY).agg(
        F.sum("n").alias("n"),
        F.sum("n_labeled").alias("n_labeled"),
        *[F.sum(c).alias(c) for c in expected],
        sum_maps(F.when(true_c.isNotNull(), F.create_map(true_c, count))).alias("class_true"),
        sum_maps(F.when(pred_c.isNotNull(), F.create_map(pred_c, count))).alias("class_pred"),
        sum_maps(F.when(true_c == pred_c, F.create_map(true_c, count))).alias("class_tp"),
        F.kll_merge_agg_double("delay_sketch").alias("delay_sketch"),
    )


# --- regression (no cells: one aggregation) ----------------------------------------


def _regression_state(rows: DataFrame) -> DataFrame:
    y = F.col("label")
    labeled = y.isNotNull() & F.col("prediction").isNotNull()
    err = F.col("prediction") - y
    has_ape = labeled & (y != 0)

    def labeled_sum(value: Column) -> Column:
        return F.sum(F.when(labeled, value).otherwise(0.0))

    return rows.groupBy(*KEY).agg(
        F.count(F.lit(1)).alias("n"),
        F.count_if(labeled).alias("n_labeled"),
        labeled_sum(err).alias("sum_err"),
        labeled_sum(F.abs(err)).alias("sum_abs_err"),
        labeled_sum(err * err).alias("sum_sq_err"),
        F.sum(F.when(has_ape, F.abs(err) / F.abs(y)).otherwise(0.0)).alias("sum_ape"),
        F.count_if(has_ape).alias("n_ape"),
        labeled_sum(y).alias("sum_y"),
        labeled_sum(y * y).alias("sum_y2"),
        F.kll_sketch_agg_double("delay_s", KLL_K).alias("delay_sketch"),
        *regression_expected_sums(rows),
    )


# --- shared ------------------------------------------------------------------------



def _check_columns(rows: DataFrame, problem_type: str) -> None:
    needed = [*KEY, "prediction", "delay_s", "label"]
    missing = [c for c in needed if c not in rows.columns]
    if missing:
        raise ValueError(f"rows lack columns {missing}; {problem_type} needs {needed}")
