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

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.metrics.performance import is_positive
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
    score = F.nanvl(F.col("prediction").cast("double"), F.lit(None).cast("double"))
    label = F.nanvl(F.col("label").cast("double"), F.lit(None).cast("double"))
    scored, labeled = score.isNotNull(), score.isNotNull() & label.isNotNull()
    predicted, positive = score >= threshold, is_positive(label)
    groups = F.array(*[
        F.struct(F.lit(c).alias("attribute"),
                 F.col(c).cast("string").alias("group"))
        for c in protected
    ])
    state = (rows.withColumn("_g", F.explode(groups))
             .groupBy("model_id", F.col("hour").alias("window_start"), "_g.attribute", "_g.group")
             .agg(F.count(F.lit(1)).alias("n"),
                  F.count_if(scored).alias("n_scored"),
                  F.count_if(scored & predicted).alias("n_pred_pos"),
                  F.count_if(labeled).alias("n_labeled"),
                  F.count_if(labeled & positive & predicted).alias("tp"),
                  F.count_if(labeled & ~positive & predicted).alias("fp"),
                  F.count_if(labeled & ~positive & ~predicted).alias("tn"),
                  F.count_if(labeled & positive & ~predicted).alias("fn")))
    return conform(state, STATE_SCHEMA)


def merge_fairness(states: DataFrame, granularity: str) -> DataFrame:
    """Add hourly (or daily) states up into day ("1d") or ISO-week ("1w") windows."""
    check_granularity(granularity)
    window = window_column("window_start", granularity).alias("window_start")
    return conform(states.groupBy("model_id", window, "attribute", "group")
                   .agg(*[F.sum(c).alias(c) for c in COUNTS]), STATE_SCHEMA)


def fairness_metrics(states: DataFrame, min_group_size: int = 1) -> DataFrame:
    """`states` plus per-group rates and per-attribute disparities (see the module doc)."""
    keys = [c for c in ("model_id", "granularity", "window_start", "attribute")
            if c in states.columns]
    per_attribute = Window.partitionBy(*keys)
    rates = states.withColumns({
        "selection_rate": F.try_divide(F.col("n_pred_pos"), F.col("n_scored")),
        "tpr": F.try_divide(F.col("tp"), F.col("tp") + F.col("fn")),
        "fpr": F.try_divide(F.col("fp"), F.col("fp") + F.col("tn")),
    })
    counted = F.col("n_scored") >= min_group_size

    def over_groups(agg, value: str) -> Column:
        return agg(F.when(counted, F.col(value))).over(per_attribute)

    top = over_groups(F.max, "selection_rate")
    low = over_groups(F.min, "selection_rate")
    return rates.withColumns({
        "parity_difference": F.col("selection_rate") - top,
        "disparate_impact": F.try_divide(F.col("selection_rate"), F.nullif(top, F.lit(0.0))),
        "statistical_parity_difference": top - low,
        "disparate_impact_ratio": F.try_divide(low, F.nullif(top, F.lit(0.0))),
        "equalized_odds_difference": F.greatest(
            over_groups(F.max, "tpr") - over_groups(F.min, "tpr"),
            over_groups(F.max, "fpr") - over_groups(F.min, "fpr")),
        "groups": F.count(F.when(counted, F.lit(1))).over(per_attribute),
    })
