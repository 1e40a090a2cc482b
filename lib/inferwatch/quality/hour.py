"""One model-hour validated by Great Expectations itself, on its rows: what the one-pass
plan (`quality.fleet`) cannot judge, and the reference `tests/quality/test_one_pass.py`
holds the plan equal to."""
from __future__ import annotations

from datetime import datetime

from inferwatch.model_config import ModelConfig
from inferwatch.quality import signals
from inferwatch.quality.judge import empty_rows
from inferwatch.quality.suggest import for_hour
from inferwatch.quality.validate import build_suite, validate


def validate_hour(lake, model: ModelConfig, name: str, specs: list[dict], hour: datetime,
                  version: int, only: list[dict] | None = None) -> tuple[list[tuple], int]:
    """(QUALITY_SCHEMA rows, rows in the hour) of the hour's `inferences` at `version`,
    cached for the one validation: every expectation of `specs`, or those of `only`
    (already filled in for the hour; `specs` still decide which columns the hour has)."""
    rows = lake.table("inferences").read(
        version, partitions=[{"model_id": model.model_id, "hour": hour}]).persist()
    try:
        n = rows.count()
        if n == 0:  # every row of the hour was quarantined
            return empty_rows(model, name, specs, hour), 0
        if not specs:
            return [], n
        checked = signals.for_validation(rows, model, specs)
        wanted = for_hour(specs, hour.hour) if only is None else only
        return validate(checked, build_suite(name, wanted), model.model_id, hour), n
    finally:
        rows.unpersist()
