"""Great Expectations' verdict on one model-hour, reached from its statistics.

`judge(...)` turns each computable expectation of a suite, with the hour's statistics
(`quality.statistics`), into the result dict GX's Spark engine returns for it
(`success`, `result` with `observed_value` or the map counts, `exception_info`), by
GX's own rules: inclusive bounds unless `strict_*`; `mostly` as the share of non-null
values (of all rows for the not-null check) that pass, an hour with none passing
vacuously; a mean, median or stddev that is null fails; a column the hour does not have
raises, as it does in GX. `quality.validate.result_row` files it like a GX result, so the
rows of `metrics/quality` do not say which path judged them, and
`tests/quality/test_one_pass.py` holds both paths equal on the scenario's seeds.
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pyspark.sql import types as T

from inferwatch.model_config import ModelConfig
from inferwatch.quality.statistics import (
    BETWEEN, COLUMN_AGGREGATES, COMPOUND_UNIQUE, IN_SET, NOT_NULL, Slot,
)
from inferwatch.quality.suggest import for_hour
from inferwatch.quality.validate import QUALITY_SCHEMA, result_row

TYPE = "expect_column_values_to_be_of_type"
COLUMN_SET = "expect_table_columns_to_match_set"
ROW_COUNT = "expect_table_row_count_to_be_between"
MESSAGE = len(QUALITY_SCHEMA.fields) - 1


def judge(spec: dict, stats: dict, columns: list[str], schema: T.StructType,
          slot: Slot | None, stored: dict | None = None) -> dict:
    """GX's result dict for `spec` on an hour with `stats`, having `columns`; `stored`:
    the kwargs as GX reports them (`validate.stored_kwargs`), default the spec's."""
    kind, kwargs = spec["type"], dict(spec.get("kwargs") or {})
    config = {"type": kind, "kwargs": kwargs if stored is None else stored,
              "meta": spec.get("meta") or {},
              "severity": spec.get("severity", "critical")}
    column = kwargs.get("column")
    if column is not None and column not in columns:
        return _raised(config, f'Error: The column "{column}" in BatchData does not exist.')
    if kind == COMPOUND_UNIQUE and any(c not in columns for c in kwargs["column_list"]):
        missing = next(c for c in kwargs["column_list"] if c not in columns)
        return _raised(config, f'Error: The column "{missing}" in BatchData does not exist.')
    n = stats.get(("rows",), 0)
    if kind == ROW_COUNT:
        return _done(config, *_between(n, kwargs))
    if kind == COLUMN_SET:
        return _column_set(config, kwargs, columns)
    if kind == TYPE:
        field = next(f for f in schema.fields if f.name == column)
        wanted = getattr(T, kwargs["type_"])
        return _done(config, isinstance(field.dataType, wanted), type(field.dataType).__name__)
    if kind in COLUMN_AGGREGATES:
        value = stats.get((COLUMN_AGGREGATES[kind], column))
        return _done(config, *_between(_plain(value), kwargs))
    if kind == NOT_NULL:
        unexpected = n - stats[("nonnull", column)]
        success = n == 0 or (n - unexpected) / n >= kwargs.get("mostly", 1.0)
        return _map(config, success, n, unexpected, None)
    if kind in (BETWEEN, IN_SET):
        nonnull = stats[("nonnull", column)]
        return _map(config, _mostly(nonnull, stats[("unexpected", slot)], kwargs), n,
                    stats[("unexpected", slot)], nonnull)
    key = tuple(kwargs["column_list"])
    considered, unexpected = stats[("considered", key)], stats[("duplicated", key)]
    return _map(config, _mostly(considered, unexpected, kwargs), n, unexpected, considered)


def _plain(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _between(value: Any, kwargs: dict) -> tuple[bool, Any]:
    if value is None:
        return False, None
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    above = low is None or (value > low if kwargs.get("strict_min") else value >= low)
    below = high is None or (value < high if kwargs.get("strict_max") else value <= high)
    return bool(above and below), value


def _mostly(considered: int, unexpected: int, kwargs: dict) -> bool:
    if considered == 0:
        return True
    return (considered - unexpected) / considered >= kwargs.get("mostly", 1.0)


def _column_set(config: dict, kwargs: dict, columns: list[str]) -> dict:
    expected, actual = set(kwargs.get("column_set") or []), set(columns)
    result: dict[str, Any] = {"observed_value": sorted(actual)}
    mismatched = {k: v for k, v in (("unexpected", sorted(actual - expected)),
                                    ("missing", sorted(expected - actual))) if v}
    if mismatched:
        result["details"] = {"mismatched": mismatched}
    exact = kwargs.get("exact_match", True)
    success = not mismatched or (not exact and not (expected - actual))
    return {"success": success, "result": result, "expectation_config": config,
            "exception_info": {}}


def _done(config: dict, success: bool, observed: Any) -> dict:
    return {"success": success, "result": {"observed_value": observed},
            "expectation_config": config, "exception_info": {}}


def _map(config: dict, success: bool, n: int, unexpected: int, nonnull: int | None) -> dict:
    """GX's map-expectation counts: percent of non-missing rows (of all, for not-null)."""
    base = n if nonnull is None else nonnull
    percent = unexpected / base * 100 if n > 0 and base > 0 else None
    return {"success": success, "expectation_config": config, "exception_info": {},
            "result": {"element_count": n, "unexpected_count": unexpected,
                       "unexpected_percent": percent}}


def _raised(config: dict, message: str) -> dict:
    return {"success": False, "result": {}, "expectation_config": config,
            "exception_info": {"raised_exception": True, "exception_message": message}}


def empty_rows(model: ModelConfig, suite: str, specs: list[dict], hour: datetime) -> list[tuple]:
    """An hour with no row: the suite's row-count expectation (at least one row if it has
    none), judged on zero rows."""
    volume = [s for s in for_hour(specs, hour.hour) if s["type"] == ROW_COUNT] or [
        {"type": ROW_COUNT, "kwargs": {"min_value": 1},
         "meta": {"statistic": "freshness", "value": "rows expected in every hour"}}]
    low = volume[0]["kwargs"].get("min_value")
    why = (f"no rows for model {model.model_id} in this hour while other rows arrived for "
           f"it (feed stopped?); expected at least {low}")
    found = [result_row(judge(s, {("rows",): 0}, [], T.StructType([]), None), suite,
                        model.model_id, hour) for s in volume]
    return [r[:MESSAGE] + (None if r[7] else why,) for r in found]
