"""One model-hour validated with a suite, as the quality job and `inferwatch tune` do it."""
from __future__ import annotations

from datetime import datetime

from pyspark.sql import SparkSession

from inferwatch.model_config import ModelConfig
from inferwatch.lake.tables import INFERENCES
from inferwatch.quality import signals
from inferwatch.quality.suggest import for_hour
from inferwatch.quality.validate import QUALITY_SCHEMA, build_suite, validate

ROW_COUNT = "expect_table_row_count_to_be_between"
MESSAGE = len(QUALITY_SCHEMA.fields) - 1


def validate_hour(lake, model: ModelConfig, name: str, specs: list[dict], hour: datetime,
                  version: int) -> tuple[list[tuple], int]:
    """(QUALITY_SCHEMA rows, rows in the hour) of the hour's `inferences` at `version`,
    cached for the one validation."""
    rows = lake.table("inferences").read(
        version, partitions=[{"model_id": model.model_id, "hour": hour}]).persist()
    try:
        n = rows.count()
        if n == 0:  # every row of the hour was quarantined
            return validate_empty(lake.spark, model, name, specs, hour), 0
        if not specs:
            return [], n
        checked = signals.for_validation(rows, model, specs)
        return validate(checked, build_suite(name, for_hour(specs, hour.hour)),
                        model.model_id, hour), n
    finally:
        rows.unpersist()


def validate_empty(spark: SparkSession, model: ModelConfig, name: str, specs: list[dict],
                   hour: datetime) -> list[tuple]:
    """An hour with no row: the suite's row-count expectation (at least one row if it has
    none) on an empty batch."""
    volume = [s for s in for_hour(specs, hour.hour) if s["type"] == ROW_COUNT] or [
        {"type": ROW_COUNT, "kwargs": {"min_value": 1},
         "meta": {"statistic": "freshness", "value": "rows expected in every hour"}}]
    found = validate(spark.createDataFrame([], INFERENCES), build_suite(name, volume),
                     model.model_id, hour)
    low = volume[0]["kwargs"].get("min_value")
    why = (f"no rows for model {model.model_id} in this hour while other rows arrived for "
           f"it (feed stopped?); expected at least {low}")
    return [r[:MESSAGE] + (None if r[7] else why,) for r in found]
