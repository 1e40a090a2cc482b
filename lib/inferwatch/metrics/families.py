"""The metric families and what their compact `metrics/` tables hold.

Each family's state lives in `state/<name>` (what rollups merge), its compact rows in
`metrics/<name>` (what people and dashboards read): no histograms, maps or sketches.
`docs/tables.md` documents every column; a test holds it to these lists.
"""
from __future__ import annotations

from pyspark.sql import DataFrame

from inferwatch.metrics import fairness as fair
from inferwatch.metrics import performance_state as perf
from inferwatch.metrics.estimation import ESTIMATE_COLUMNS, with_estimates
from inferwatch.metrics.performance import COUNT_COLUMNS, METRIC_COLUMNS, metrics
from inferwatch.metrics.profile_merge import merge_profile
from inferwatch.metrics.profile_metrics import profile_metrics
from inferwatch.metrics.windows import Family

PERFORMANCE_COLUMNS = ("model_id", "granularity", "window_start", "slice_key", "slice_value",
                       *COUNT_COLUMNS, *METRIC_COLUMNS, *ESTIMATE_COLUMNS)
FAIRNESS_COLUMNS = ("model_id", "granularity", "window_start", "attribute", "group",
                    *fair.COUNTS, "selection_rate", "tpr", "fpr", "parity_difference",
                    "disparate_impact", "statistical_parity_difference",
                    "disparate_impact_ratio", "equalized_odds_difference", "groups")


def performance(problem_type: str) -> Family:
    """The performance family of a model of `problem_type` (its metric formulas differ)."""

    def compact(states: DataFrame) -> DataFrame:
        rows = with_estimates(metrics(states, problem_type), problem_type)
        return rows.select(*PERFORMANCE_COLUMNS)

    return Family("performance", perf.merge_states, compact)


FAIRNESS = Family("fairness", fair.merge_fairness,
                  lambda states: fair.fairness_metrics(states).select(*FAIRNESS_COLUMNS))


PROFILE = Family("profile", merge_profile, profile_metrics)
