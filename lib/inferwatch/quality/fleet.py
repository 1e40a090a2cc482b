"""Every model-hour of a quality run validated at once: one pass over the rows.

`validate_fleet` reads the rows of every model's hours in one scan, computes the
statistics every computable expectation needs (`quality.statistics`, one grouped
aggregation) and judges each expectation of each model-hour by GX's rules
(`quality.judge`), so a run costs a fixed number of Spark jobs, not about 20 per
model-hour as one GX validation each did. An expectation the plan cannot judge (a type
outside `statistics.KNOWN`, a row condition, a regex) is still validated by GX itself on
its model-hour's rows (`quality.hour.validate_hour`), only for the hours of the models
whose suites have one. Hours without a row are judged on their row count alone
(`judge.empty_rows`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import types as T

from inferwatch.model_config import ModelConfig
from inferwatch.quality import signals
from inferwatch.quality.hour import validate_hour
from inferwatch.quality.judge import ROW_COUNT, empty_rows, judge
from inferwatch.quality.statistics import (
    computable, hour_statistics, settle_medians, slots,
)
from inferwatch.quality.suggest import for_hour
from inferwatch.quality.validate import result_row, stored_kwargs


@dataclass
class Work:
    """One model's part of a quality run."""
    model: ModelConfig
    suite: str
    specs: list[dict]
    hours: set[datetime] = field(default_factory=set)  # hours whose rows changed
    empty: set[datetime] = field(default_factory=set)  # hours the model has no row in


def validate_fleet(lake, work: dict[str, Work], version: int
                   ) -> dict[str, tuple[list[tuple], int]]:
    """{model_id: (QUALITY_SCHEMA rows, rows validated)} for every hour of `work`, read
    from `inferences` at `version`."""
    wanted = [{"model_id": m, "hour": h} for m, w in sorted(work.items()) for h in sorted(w.hours)]
    stats: dict = {}
    schema = T.StructType([])
    if wanted:
        rows = lake.table("inferences").read(version, partitions=wanted)
        schema = rows.schema
        judged = {m: [s for s in w.specs if computable(s, schema)] for m, w in work.items()}
        stats = hour_statistics(lake.spark, rows, judged)
        settle_medians(lambda parts: lake.table("inferences").read(version, partitions=parts),
                       stats, {(m, h): for_hour(judged[m], h.hour)
                               for m, w in work.items() for h in w.hours})
    others = [f.name for f in schema.fields if f.name not in signals.CONTRACT]
    out = {}
    for model_id, w in work.items():
        found, n = [], 0
        stored = stored_kwargs(w.suite, w.specs)
        texts: dict = {}  # the kwargs' and meta's JSON, once per expectation of the model
        for hour in sorted(w.empty):
            found += empty_rows(w.model, w.suite, w.specs, hour)
        for hour in sorted(w.hours):
            hour_stats = stats.get((model_id, hour))
            if hour_stats is None:  # every row of the hour was quarantined
                found += empty_rows(w.model, w.suite, w.specs, hour)
                continue
            n += hour_stats[("rows",)]
            specs = for_hour(w.specs, hour.hour)
            columns = signals.has_columns(
                others, {c: hour_stats[("nonnull", c)] for c in others}, w.model, w.specs)
            can = [computable(s, schema) for s in specs]
            rest = [s for s, ok in zip(specs, can) if not ok]
            mine = [(s, k) for s, k, ok in zip(specs, stored, can) if ok]
            placed = slots([s for s, _k in mine])
            found += [result_row(judge(s, hour_stats, columns, schema, placed.get(i),
                                       s["kwargs"] if s["type"] == ROW_COUNT else k),
                                 w.suite, model_id, hour, texts)
                       for i, (s, k) in enumerate(mine)]
            if rest:  # GX on the rows, for what the one pass cannot judge
                found += validate_hour(lake, w.model, w.suite, w.specs, hour, version,
                                       only=rest)[0]
        out[model_id] = (found, n)
    return out
