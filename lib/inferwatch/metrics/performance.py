"""Performance metrics from a performance state (`.performance_state`), never from rows.

Conventions follow scikit-learn on the labelled rows behind the state: precision, recall
and F1 are 0.0 when undefined (`zero_division=0`); every metric is null when the state
has no labelled row; `auc` is null unless both classes are present; `r2` is null with
fewer than two labelled rows or zero label variance; `mape` averages |err| / |y| over
the rows with y != 0 (sklearn's value whenever no label is 0).

AUC comes from the sparse score histograms (bins of width 1e-4, keyed by their lower
edge in units of 1e-5, `BIN_KEY` apart; a key is read as bin `key div BIN_KEY`, so the
1e-5 bins of states written by earlier versions read as the same bins): the
Mann-Whitney statistic with a positive and a negative in the same bin counted as half a
pair. Exact AUC differs from it only through those same-bin pairs, so
|auc - exact| <= `auc_error_bound`
= 0.5 * sum_b pos_b * neg_b / (n_pos * n_neg) (zero when no bin holds both classes; and
when all same-bin pairs are true score ties, the value is exact).

Delay quantiles come from the KLL sketch (k=200): the returned value's rank among the
true delays is within 1.33% of the requested rank with 99% confidence (DataSketches'
bound; 1.65% for PMF/CDF queries). The tests hold it to ±2%.
"""
from __future__ import annotations

import functools

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inferwatch.lake.jvm_text import gateway_key
from inferwatch.lake.sql_text import sql_double
from inferwatch.model_config import PROBLEM_TYPES

BIN_KEY = 10  # a score bin's key is its lower edge in units of 1e-5: its index x BIN_KEY

BINARY, MULTICLASS, REGRESSION = "binary_classification", "multiclass_classification", "regression"
METRIC_COLUMNS = (
    "label_coverage", "accuracy", "precision", "recall", "f1", "auc", "auc_error_bound",
    "log_loss", "brier", "f1_macro", "f1_weighted", "rmse", "mae", "mape", "r2",
    "delay_p50", "delay_p90", "delay_p99",
)
DELAY_RANKS = (0.5, 0.9, 0.99)
# sklearn's log_loss clips probabilities to [eps, 1 - eps], eps = float64 machine epsilon
LOG_LOSS_EPS = 2.220446049250313e-16
# r2 is undefined when the labels' spread is lost in float rounding of sum_y2
R2_VARIANCE_TOLERANCE = 1e-12


COUNT_COLUMNS = ("n", "n_labeled", "tp", "fp", "tn", "fn", "n_pos", "n_neg")


def is_positive(label: Column) -> Column:
    """The one rule for a binary label: 1.0 is positive, any other value negative."""
    return label == 1.0


def is_positive_sql(label: str) -> str:
    """`is_positive` of the SQL expression `label`, as SQL text."""
    return f"{label} = 1.0D"


def check_problem_type(problem_type: str) -> None:
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(f"problem_type must be one of {PROBLEM_TYPES}, got {problem_type!r}")


def metrics(states: DataFrame, problem_type: str) -> DataFrame:
    """`states` plus `METRIC_COLUMNS`, computed from the state columns only.

    Metrics that do not apply to `problem_type` are null, so every model's metrics share
    one schema. Example: ``metrics(merge_states(hourly, "1d"), "regression")``.
    """
    check_problem_type(problem_type)
    needed = {BINARY: ("tp", "fp", "tn", "fn", "pos_hist", "neg_hist"),
              MULTICLASS: ("class_true", "class_pred", "class_tp"),
              REGRESSION: ("sum_abs_err", "sum_sq_err", "sum_y", "sum_y2")}[problem_type]
    missing = [c for c in ("n", "n_labeled", "delay_sketch", *needed) if c not in states.columns]
    if missing:
        raise ValueError(f"states lack columns {missing}; pass the output of hourly_state")
    return states.select("*", *_metric_columns(problem_type, gateway_key()))


@functools.cache
def _metric_columns(problem_type: str, _gateway: int) -> tuple[Column, ...]:
    """`METRIC_COLUMNS` of `problem_type` as Columns, built once per JVM: the formulas
    cost the driver ~1,000 JVM round trips, and a Column names state columns, not a
    frame's, so the same ones serve every frame."""
    values = metric_values(problem_type)
    values["label_coverage"] = F.try_divide(F.col("n_labeled"), F.col("n"))
    values.update(_delay_quantiles())
    return tuple(values.get(c, F.lit(None)).cast("double").alias(c) for c in METRIC_COLUMNS)


def clip_probability(p: Column) -> Column:
    """sklearn's log_loss clipping of a probability to [eps, 1 - eps]."""
    return F.least(F.greatest(p, F.lit(LOG_LOSS_EPS)), F.lit(1.0 - LOG_LOSS_EPS))


def clipped_sql(p: str) -> str:
    """`clip_probability` of the SQL expression `p`, as SQL text."""
    return f"least(greatest({p}, {sql_double(LOG_LOSS_EPS)}), {sql_double(1.0 - LOG_LOSS_EPS)})"


def class_name(index: Column, classes: Sequence[str] | None) -> Column:
    """A class index column as a class name: `classes[i]`, else the index as text."""
    is_integer = (index == F.floor(index)) & (F.abs(index) < 1e15)
    text = F.when(is_integer, index.cast("bigint").cast("string")).otherwise(index.cast("string"))
    if not classes:
        return text
    names = F.array(*[F.lit(c) for c in classes])
    in_range = is_integer & (index >= 0) & (index < len(classes))
    return F.when(in_range, F.element_at(names, (index + 1).cast("int"))).otherwise(text)


def true_class(rows: DataFrame, classes: Sequence[str] | None) -> Column:
    """The true class: `label_class` (a label given as a name), else `label` as an index."""
    actual = class_name(F.col("label"), classes)
    if "label_class" in rows.columns:
        actual = F.coalesce(F.col("label_class"), actual)
    return actual


def predicted_class(rows: DataFrame, classes: Sequence[str] | None) -> Column:
    """The predicted class: `prediction_label`, else `prediction` read as a class index."""
    predicted = class_name(F.col("prediction"), classes)
    if "prediction_label" in rows.columns:
        predicted = F.coalesce(F.col("prediction_label"), predicted)
    return predicted


def metric_values(problem_type: str, prefix: str = "") -> dict[str, Column]:
    """The metric formulas of `problem_type` over the state columns named `prefix + name`.

    With ``prefix="est_"`` the same formulas turn an expected state (`inferwatch.estimation`)
    into estimated metrics.
    """
    col = _Columns(prefix)
    return {
        BINARY: _binary_metrics, MULTICLASS: _multiclass_metrics, REGRESSION: _regression_metrics
    }[problem_type](col)


class _Columns:
    """State column lookup under a name prefix: ``col("tp")`` is ``F.col(prefix + "tp")``."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def __call__(self, name: str) -> Column:
        return F.col(self.prefix + name)

    def per_labeled(self, value: Column) -> Column:
        return F.try_divide(value, self("n_labeled"))

    def ratio_or_zero(self, num: Column, den: Column) -> Column:
        """sklearn's zero_division=0, but null when nothing is labelled."""
        return F.when(self("n_labeled") > 0, F.coalesce(F.try_divide(num, den), F.lit(0.0)))


def _binary_metrics(col: _Columns) -> dict[str, Column]:
    tp, fp, tn, fn = (col(c) for c in ("tp", "fp", "tn", "fn"))
    pairs = col("n_pos").cast("double") * col("n_neg")
    u, same_bin = _mann_whitney(col("pos_hist"), col("neg_hist"))
    both_classes = (col("n_pos") > 0) & (col("n_neg") > 0)
    return {
        "accuracy": col.per_labeled(tp + tn),
        "precision": col.ratio_or_zero(tp, tp + fp),
        "recall": col.ratio_or_zero(tp, tp + fn),
        "f1": col.ratio_or_zero(2 * tp, 2 * tp + fp + fn),
        "auc": F.when(both_classes, u / pairs),
        "auc_error_bound": F.when(both_classes, 0.5 * same_bin / pairs),
        "log_loss": col.per_labeled(col("sum_log_loss")),
        "brier": col.per_labeled(col("sum_brier")),
    }


def _mann_whitney(pos_hist: Column, neg_hist: Column) -> tuple[Column, Column]:
    """(U, same-bin pairs) from the sparse histograms in one sweep from the lowest key up.

    U counts (positive, negative) pairs with the positive in a higher bin, plus half of
    the pairs sharing a bin. Keys of one bin (`key div BIN_KEY`) are summed into it
    before it is closed: the sweep carries the open bin's counts.
    """
    both = F.map_zip_with(pos_hist, neg_hist, lambda _b, p, q: F.struct(
        F.coalesce(p.cast("double"), F.lit(0.0)).alias("pos"),
        F.coalesce(q.cast("double"), F.lit(0.0)).alias("neg")))
    entries = F.array_sort(F.map_entries(both))
    start = F.struct(F.lit(-1).cast("int").alias("bin"), F.lit(0.0).alias("pos"),
                     F.lit(0.0).alias("neg"), F.lit(0.0).alias("neg_below"),
                     F.lit(0.0).alias("u"), F.lit(0.0).alias("same_bin"))

    def closed(acc: Column) -> dict[str, Column]:  # the open bin added to the totals
        return {"neg_below": acc["neg_below"] + acc["neg"],
                "u": acc["u"] + acc["pos"] * (acc["neg_below"] + 0.5 * acc["neg"]),
                "same_bin": acc["same_bin"] + acc["pos"] * acc["neg"]}

    def step(acc: Column, entry: Column) -> Column:
        key, value = F.floor(entry["key"] / BIN_KEY).cast("int"), entry["value"]
        new = key != acc["bin"]
        done = closed(acc)
        return F.struct(
            key.alias("bin"),
            F.when(new, value["pos"]).otherwise(acc["pos"] + value["pos"]).alias("pos"),
            F.when(new, value["neg"]).otherwise(acc["neg"] + value["neg"]).alias("neg"),
            *[F.when(new, done[c]).otherwise(acc[c]).alias(c)
              for c in ("neg_below", "u", "same_bin")])

    sweep = F.aggregate(entries, start, step, lambda acc: F.struct(
        *[value.alias(c) for c, value in closed(acc).items()]))
    return sweep["u"], sweep["same_bin"]


def _multiclass_metrics(col: _Columns) -> dict[str, Column]:
    true, pred, hits = col("class_true"), col("class_pred"), col("class_tp")

    def count(counts: Column, cls: Column) -> Column:
        return F.coalesce(F.try_element_at(counts, cls), F.lit(0).cast("bigint"))

    def f1(cls: Column) -> Column:
        # classes come from true or predicted labels, so the denominator is never 0
        return F.try_divide(2 * count(hits, cls), count(true, cls) + count(pred, cls))

    classes = F.array_union(F.map_keys(true), F.map_keys(pred))
    f1_sum = F.aggregate(F.transform(classes, f1), F.lit(0.0), lambda a, x: a + x)
    weighted_sum = F.aggregate(
        F.transform(classes, lambda c: f1(c) * count(true, c)), F.lit(0.0), lambda a, x: a + x
    )
    correct = F.aggregate(F.map_values(hits), F.lit(0).cast("bigint"), lambda a, x: a + x)
    labeled = col("n_labeled") > 0
    return {
        "accuracy": F.when(labeled, col.per_labeled(correct)),
        "f1_macro": F.when(labeled, F.try_divide(f1_sum, F.size(classes))),
        "f1_weighted": F.when(labeled, col.per_labeled(weighted_sum)),
    }


def _regression_metrics(col: _Columns) -> dict[str, Column]:
    n = col("n_labeled")
    total_ss = col("sum_y2") - F.try_divide(col("sum_y") * col("sum_y"), n)
    r2_defined = (n >= 2) & (total_ss > R2_VARIANCE_TOLERANCE * col("sum_y2"))
    return {
        "rmse": F.sqrt(col.per_labeled(col("sum_sq_err"))),
        "mae": col.per_labeled(col("sum_abs_err")),
        "mape": F.try_divide(col("sum_ape"), col("n_ape")),
        "r2": F.when(r2_defined, 1.0 - F.try_divide(col("sum_sq_err"), total_ss)),
    }


def _delay_quantiles() -> dict[str, Column]:
    # An empty sketch (no label has arrived) makes the quantile function raise.
    sketch = F.col("delay_sketch")
    ranks = F.array(*[F.lit(r) for r in DELAY_RANKS])
    quantiles = F.when(
        F.kll_sketch_get_n_double(sketch) > 0, F.kll_sketch_get_quantile_double(sketch, ranks)
    )
    return {
        f"delay_p{round(r * 100)}": quantiles.getItem(i) for i, r in enumerate(DELAY_RANKS)
    }
