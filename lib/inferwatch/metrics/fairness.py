"""Fairness of a binary classifier per protected attribute, from mergeable counts.

`fairness_state` counts, per (model_id, hour, attribute, group), the scored rows, the
predicted positives and the confusion cells of the labelled rows in one aggregation;
`merge_fairness` adds hours up to days and weeks; `fairness_metrics` derives, per group:

- `selection_rate` = predicted positives / scored rows (fairlearn `selection_rate`),
- `tpr` = tp / (tp + fn), `fpr` = fp / (fp + tn) over labelled rows (fairlearn
  `true_positive_rate`, `false_positive_rate`); null without positives / negatives,
- `parity_difference` = selection_rate - the highest group's selection rate (<= 0),
- `disparate_impact` = selection_rate / the highest group's (the four-fifths rule flags
  < 0.8; null when no group has a positive prediction),

and per attribute, repeated on each of its groups' rows:

- `statistical_parity_difference` = max - min selection rate (fairlearn
  `demographic_parity_difference`),
- `disparate_impact_ratio` = min / max selection rate (`demographic_parity_ratio`),
- `equalized_odds_difference` = max(range of tpr, range of fpr) over groups where they
  are defined (`equalized_odds_difference`, agg="worst_case"),
- `groups`: groups counted in these summaries (`n_scored >= min_group_size`).

A group's value is the attribute cast to string (a missing value is the null group).
Positive label: `is_positive`; NaN labels and scores count as missing.
"""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.lake.jvm_text import select_text
from inferwatch.lake.sql_text import sql_double, sql_ident, sql_string
from inferwatch.metrics.performance import is_positive_sql
from inferwatch.granularity import check_granularity
from inferwatch.metrics.window_store import window_column
from inferwatch.metrics.windows import conform

FAIRNESS_KEY = ["model_id", "window_start", "attribute", "group"]
COUNTS = ("n", "n_scored", "n_pred_pos", "n_labeled", "tp", "fp", "tn", "fn")
STATE_SCHEMA = T.StructType(
    [T.StructField("model_id", T.StringType()), T.StructField("window_start", T.TimestampType())]
    + [T.StructField(c, T.StringType()) for c in ("attribute", "group")]
    + [T.StructField(c, T.LongType()) for c in COUNTS]
)


def fairness_state(rows: DataFrame, protected: Sequence[str], threshold: float) -> DataFrame:
    """Counts per (model_id, hour, attribute, group) of `rows` (`model_id`, `hour`,
    `prediction`, `label` and the protected columns), in one pass."""
    if not protected:
        return rows.sparkSession.createDataFrame([], STATE_SCHEMA)
    missing = [c for c in protected if c not in rows.columns]
    if missing:
        raise ValueError(f"protected attributes {missing} are not columns of the inferences; "
                         f"available: {sorted(rows.columns)}")
    # as SQL text: a JVM call an aggregate, where Columns cost dozens
    score = "nanvl(CAST(prediction AS DOUBLE), CAST(NULL AS DOUBLE))"
    label = "nanvl(CAST(label AS DOUBLE), CAST(NULL AS DOUBLE))"
    scored = f"({score} IS NOT NULL)"
    labeled = f"({score} IS NOT NULL AND {label} IS NOT NULL)"
    predicted = f"({score} >= {sql_double(threshold)})"
    positive = f"({is_positive_sql(label)})"
    groups = ", ".join(f"named_struct('attribute', {sql_string(c)}, "
                       f"'group', CAST({sql_ident(c)} AS STRING))" for c in protected)
    state = (rows.withColumn("_g", F.expr(f"explode(array({groups}))"))
             .groupBy("model_id", F.col("hour").alias("window_start"), "_g.attribute", "_g.group")
             .agg(*[F.expr(text) for text in (
                 "count(1) AS n",
                 f"count_if({scored}) AS n_scored",
                 f"count_if({scored} AND {predicted}) AS n_pred_pos",
                 f"count_if({labeled}) AS n_labeled",
                 f"count_if({labeled} AND {positive} AND {predicted}) AS tp",
                 f"count_if({labeled} AND NOT {positive} AND {predicted}) AS fp",
                 f"count_if({labeled} AND NOT {positive} AND NOT {predicted}) AS tn",
                 f"count_if({labeled} AND {positive} AND NOT {predicted}) AS fn")]))
    return conform(state, STATE_SCHEMA)


def merge_fairness(states: DataFrame, granularity: str) -> DataFrame:
    """Add hourly (or daily) states up into day ("1d") or ISO-week ("1w") windows."""
    check_granularity(granularity)
    window = window_column("window_start", granularity).alias("window_start")
    return conform(states.groupBy("model_id", window, "attribute", "group")
                   .agg(*[F.expr(f"sum({c}) AS {c}") for c in COUNTS]), STATE_SCHEMA)


def fairness_metrics(states: DataFrame, min_group_size: int = 1) -> DataFrame:
    """`states` plus per-group rates and per-attribute disparities (see the module doc)."""
    keys = [c for c in ("model_id", "granularity", "window_start", "attribute")
            if c in states.columns]
    # as SQL text, one JVM call a column (`sql_text`)
    rates = select_text(states, ["*", "try_divide(n_pred_pos, n_scored) AS selection_rate",
                                 "try_divide(tp, tp + fn) AS tpr",
                                 "try_divide(fp, fp + tn) AS fpr"])
    per_attribute = "PARTITION BY " + ", ".join(sql_ident(k) for k in keys)
    counted = f"n_scored >= {int(min_group_size)}"

    def over_groups(agg: str, value: str) -> str:
        return f"{agg}(CASE WHEN {counted} THEN {value} END) OVER ({per_attribute})"

    top, low = over_groups("max", "selection_rate"), over_groups("min", "selection_rate")
    return select_text(rates, [
        "*",
        f"selection_rate - {top} AS parity_difference",
        f"try_divide(selection_rate, nullif({top}, 0.0D)) AS disparate_impact",
        f"{top} - {low} AS statistical_parity_difference",
        f"try_divide({low}, nullif({top}, 0.0D)) AS disparate_impact_ratio",
        f"greatest({over_groups('max', 'tpr')} - {over_groups('min', 'tpr')}, "
        f"{over_groups('max', 'fpr')} - {over_groups('min', 'fpr')}) AS equalized_odds_difference",
        f"count(CASE WHEN {counted} THEN 1 END) OVER ({per_attribute}) AS `groups`"])
