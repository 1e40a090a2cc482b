"""The metric families and what their compact `metrics/` tables hold.

Each family's state lives in `state/<name>` (what rollups merge), its compact rows in
`metrics/<name>` (what people and dashboards read): no histograms, maps or sketches.
`docs/tables.md` documents every column; a test holds it to these lists.
"""
from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame

from inferwatch.lake.sql_text import sql_in
from inferwatch.metrics import fairness as fair
from inferwatch.metrics import performance_state as perf
from inferwatch.metrics.estimation import ESTIMATE_COLUMNS, with_estimates
from inferwatch.metrics.performance import COUNT_COLUMNS, METRIC_COLUMNS, metrics
from inferwatch.metrics.profile_merge import merge_profile
from inferwatch.metrics.profile_metrics import profile_metrics
from inferwatch.metrics.windows import Family, union

PERFORMANCE_COLUMNS = ("model_id", "granularity", "window_start", "slice_key", "slice_value",
                       *COUNT_COLUMNS, *METRIC_COLUMNS, *ESTIMATE_COLUMNS)
FAIRNESS_COLUMNS = ("model_id", "granularity", "window_start", "attribute", "group",
                    *fair.COUNTS, "selection_rate", "tpr", "fpr", "parity_difference",
                    "disparate_impact", "statistical_parity_difference",
                    "disparate_impact_ratio", "equalized_odds_difference", "groups")


def performance(problem_types: str | Mapping[str, str]) -> Family:
    """The performance family of models of one problem type, or of several models
    ({model_id: problem_type}): the metric formulas differ by type, so each type's
    models' states get their own, and their rows are one frame."""

    def of_type(states: DataFrame, problem_type: str) -> DataFrame:
        rows = with_estimates(metrics(states, problem_type), problem_type)
        return rows.select(*PERFORMANCE_COLUMNS)

    if isinstance(problem_types, str):
        return Family("performance", perf.merge_states,
                      lambda states: of_type(states, problem_types))
    by_type: dict[str, list[str]] = {}
    for model_id, problem_type in sorted(problem_types.items()):
        by_type.setdefault(problem_type, []).append(model_id)

    def compact(states: DataFrame) -> DataFrame:
        if len(by_type) == 1:
            return of_type(states, next(iter(by_type)))
        return union([of_type(states.where(sql_in("model_id", models)), problem_type)
                      for problem_type, models in sorted(by_type.items())])

    return Family("performance", perf.merge_states, compact)


FAIRNESS = Family("fairness", fair.merge_fairness,
                  lambda states: fair.fairness_metrics(states).select(*FAIRNESS_COLUMNS))


PROFILE = Family("profile", merge_profile, profile_metrics)
