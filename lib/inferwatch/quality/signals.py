"""Quality signals Great Expectations does not see on its own in one model-hour's rows.

- Schema: the `inferences` table holds the union of every model's columns, so what a
  model-hour "has" is its non-null columns. `for_validation` hands GX the contract
  columns, the model's features, and any other column set in the hour; a feature null in
  every row of the hour (while the suite allows it at most `MISSING_IF_NULL_UP_TO` nulls)
  is left out, so `expect_table_columns_to_match_set` reports it missing and a renamed
  feature shows as one missing and one unexpected column.
- Deliveries: the partition job's per-model-hour counts (`state/deliveries`) give the
  hour's duplicate and quarantine rates; each is a row with the `inferwatch_` prefix
  (not a GX type) against the model's `quality.max_duplicate_rate` /
  `max_quarantine_rate`, with one quarantine reason of the hour in its message.
- Freshness: an hour of the lake's clock (some model's rows arrived for it) in which a
  live model has no row at all is validated, with GX, as an empty batch against the
  suite's row-count expectation, so a stopped feed fails in the hours it should have
  had rows, before the model sends anything again.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.model_config import ModelConfig
from inferwatch.lake.tables import INFERENCES
from inferwatch.granularity import utc

CONTRACT = tuple(f.name for f in INFERENCES.fields)
MISSING_IF_NULL_UP_TO = 0.5
DELIVERY_SUITE = "deliveries"


def allowed_null_rate(specs: Iterable[dict], column: str) -> float:
    for spec in specs:
        kwargs = spec.get("kwargs") or {}
        if spec["type"] == "expect_column_values_to_not_be_null" and kwargs.get("column") == column:
            return 1.0 - float(kwargs.get("mostly", 1.0))
    return 1.0


def has_columns(columns: Iterable[str], nonnull: dict[str, int], model: ModelConfig,
                specs: list[dict]) -> list[str]:
    """The columns an hour has: the contract's, and any other with a value in the hour
    (`nonnull`: non-null counts), or a feature the suite allows to be mostly null."""
    return [*CONTRACT, *[c for c in columns if c not in CONTRACT and (
        nonnull[c] > 0 or (c in model.features
                           and allowed_null_rate(specs, c) > MISSING_IF_NULL_UP_TO))]]


def for_validation(rows: DataFrame, model: ModelConfig, specs: list[dict]) -> DataFrame:
    """The hour's rows with the columns it really has (one aggregation counts them)."""
    others = [c for c in rows.columns if c not in CONTRACT]
    if not others:  # a model logging no feature columns: nothing to count
        return rows.select(*CONTRACT)
    counts = rows.agg(*[F.count(F.col(f"`{c}`")).alias(c) for c in others]).first()
    keep = has_columns(others, counts.asDict(), model, specs)[len(CONTRACT):]
    return rows.select(*CONTRACT, *[F.col(f"`{c}`") for c in keep])


def delivery_rows(model: ModelConfig, hour: datetime, counts: dict | None,
                  limits: dict[str, float]) -> list[tuple]:
    """Duplicate and quarantine rate rows (QUALITY_SCHEMA) of one model-hour."""
    if not counts:
        return []
    delivered = counts["rows_new"] + counts["rows_duplicate"] + counts["rows_quarantined"]
    out = []
    for kind, key, limit in (("duplicate", "rows_duplicate", limits["max_duplicate_rate"]),
                             ("quarantine", "rows_quarantined", limits["max_quarantine_rate"])):
        n = counts[key]
        rate = n / delivered if delivered else 0.0
        ok = rate <= limit
        why = None if ok else (
            f"{rate:.1%} of {delivered} rows delivered for the hour were {kind}s "
            f"(allowed {limit:.1%})"
            + (f", e.g. {counts['example_reason']}" if kind == "quarantine"
               and counts.get("example_reason") else ""))
        out.append((model.model_id, "1h", hour, f"{model.model_id}.{DELIVERY_SUITE}",
                    f"inferwatch_{kind}_rate_to_be_below", None,
                    json.dumps({"max_value": limit}), ok, json.dumps(rate), delivered, n,
                    100.0 * rate, "critical", None,
                    json.dumps({"source": "state/deliveries", "statistic": f"{kind} rate"}),
                    why))
    return out


def deliveries(lake, hours: dict[str, Iterable[datetime]]) -> dict[tuple[str, datetime], dict]:
    """Per (model_id, hour) of `hours` ({model_id: hours}), the delivery counts summed over
    every partition run: one read for every model, of its files from its first wanted
    hour on (the table is partitioned by model; older lakes also by hour, read alike)."""
    wanted = {m: sorted(utc(h) for h in hs) for m, hs in hours.items() if hs}
    if not wanted:
        return {}
    table = lake.table("state/deliveries")
    first = F.create_map(*[x for m, hs in sorted(wanted.items())
                           for x in (F.lit(m), F.lit(hs[0]))])
    rows = (table.read(where=lambda p: p["model_id"] in wanted)
            .where(F.col("hour") >= first[F.col("model_id")])
            .groupBy("model_id", "hour").agg(
                *[F.sum(c).alias(c) for c in ("rows_new", "rows_duplicate", "rows_quarantined")],
                F.max("example_reason").alias("example_reason")).collect())
    keep = {(m, h) for m, hs in wanted.items() for h in hs}
    return {key: r.asDict() for r in rows if (key := (r["model_id"], utc(r["hour"]))) in keep}


def empty_hours(lake, since: dict[str, int | None], version: int) -> dict[str, set[datetime]]:
    """{model_id: hours some model's rows arrived for since version `since[model_id]` in
    which that model, live since its first hour, has no row}: one listing of the table,
    one file diff per distinct cursor."""
    table = lake.table("inferences")
    mine: dict[str, set[datetime]] = {}
    for p in table.partitions(version):
        mine.setdefault(p["model_id"], set()).add(utc(p["hour"]))
    arrived: dict[int | None, set[datetime]] = {}
    out = {}
    for model_id, cursor in since.items():
        if not mine.get(model_id):
            out[model_id] = set()
            continue
        if cursor not in arrived:
            arrived[cursor] = {utc(p["hour"]) for p in table.changed_partitions(cursor, version)}
        first = min(mine[model_id])
        out[model_id] = {h for h in arrived[cursor] if h > first and h not in mine[model_id]}
    return out
