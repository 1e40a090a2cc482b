"""A Great Expectations suite suggested from a model's baseline (`inferwatch suggest`).

Every expectation comes from one statistic of the baseline (`baselines`, whole model,
`scope` = all, and its `1h` rows for volume) and a margin; its `meta` records both, so a
reviewer sees why each bound is where it is:

- the hour has exactly the lake's contract columns and the model's features (one
  `expect_table_columns_to_match_set`, exact; see `quality.signals` for what "has"
  means), each feature with its lake type;
- `(model_version, inference_id)` is unique within the hour (shadow and challenger rows
  share a request id: the identity includes the version);
- null-rate ceiling: `mostly` = 1 - max(`NULL_FACTOR` x baseline null rate,
  baseline null rate + `NULL_SLACK`);
- numeric range: the baseline's p0.1 and p99.9 widened by `RANGE_PAD` of their span,
  `mostly` = `RANGE_MOSTLY` (a unit change moves most rows out; a tail does not);
- numeric median within the baseline's p10..p90 band, and mean within the range of the
  baseline's hourly means (hours of at least `MIN_HOUR_ROWS` values) widened by
  `MEAN_PAD` of it (a baseline of one such hour: `ONE_HOUR_MEAN_SE` standard errors of
  that hour's mean): a unit change of a few tens of percent moves the mean out;
- categorical value set: the baseline's categories (the capped top values), `mostly` =
  `NEW_VALUES_MOSTLY`: rare new values pass, a new vocabulary does not;
- not constant: for a numeric column that varies in the baseline, stddev at least
  `STD_FLOOR` x its baseline stddev; for a categorical one, at least 2 distinct values;
- rows per hour between `VOLUME_LOW` x and `VOLUME_HIGH` x the baseline's hour of the
  same hour of day (the table row count's `meta.by_hour_of_day`, filled in per hour by
  the quality job; hours of day the baseline lacks use its median hour).
"""
from __future__ import annotations

import copy
import statistics
from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.model_config import ModelConfig
from inferwatch.metrics.profile import NUMERIC, OTHER
from inferwatch.quality.signals import CONTRACT

NULL_FACTOR = 3.0
NULL_SLACK = 0.02
RANGE_PAD = 0.5
RANGE_MOSTLY = 0.95
NEW_VALUES_MOSTLY = 0.98
STD_FLOOR = 0.1
MEAN_PAD = 0.25
# a baseline of one hour: its mean +- 4 standard errors of an hour's mean (a normal mean
# leaves that band in ~1 of 16,000 hours of the same distribution)
ONE_HOUR_MEAN_SE = 4.0
MIN_HOUR_ROWS = 30
VOLUME_LOW, VOLUME_HIGH = 0.2, 5.0
LAKE_TYPES = {NUMERIC: "DoubleType", "categorical": "StringType"}


def suggest(model: ModelConfig, baseline: DataFrame, baseline_name: str) -> list[dict]:
    """The suite's expectation specs (GX JSON shape) from the baseline's rows."""
    return suggest_fleet({model.model_id: (model, baseline_name)}, baseline)[model.model_id]


def suggest_fleet(wanted: dict[str, tuple[ModelConfig, str]], baselines: DataFrame
                  ) -> dict[str, list[dict] | None]:
    """{model_id: its suite's specs, or None without baseline rows} for every model of
    `wanted` ({model_id: (model, baseline name)}) from `baselines` (their rows, keyed by
    `model_id`): three Spark jobs whatever the number of models."""
    whole = baselines.where((F.col("slice_key") == "*") & (F.col("scope") == "all"))
    quantiles = F.array(*[F.lit(q) for q in (0.001, 0.1, 0.5, 0.9, 0.999)])
    rows = _by_model(whole.select(
        "model_id", "column", "kind", "count", "num_nulls", "n_finite", "mean", "m2",
        "categories", "version",
        F.when((F.col("kind") == NUMERIC) & (F.col("n_finite") > 0),
               F.kll_sketch_get_quantile_double("sketch", quantiles)).alias("q"),
    ).collect())
    hourly = baselines.where((F.col("slice_key") == "*") & (F.col("scope") == "1h"))
    hours = _by_model(hourly.groupBy("model_id", "window_start").agg(
        F.max("count").alias("n")).collect())
    means = _by_model(hourly.where(
        (F.col("kind") == NUMERIC) & (F.col("n_finite") >= MIN_HOUR_ROWS)).groupBy(
        "model_id", "column").agg(
        F.min("mean").alias("low"), F.max("mean").alias("high"),
        F.count(F.lit(1)).alias("hours"), F.min("n_finite").alias("rows")).collect())
    return {model_id: _specs(model, name, rows.get(model_id, []), hours.get(model_id, []),
                             {r["column"]: (r["low"], r["high"], r["hours"], r["rows"])
                              for r in means.get(model_id, [])})
            if model_id in rows else None
            for model_id, (model, name) in wanted.items()}


def _by_model(rows: list) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in rows:
        out.setdefault(r["model_id"], []).append(r)
    return out


def _specs(model: ModelConfig, baseline_name: str, rows: list, hours: list,
           means: dict[str, tuple[float, float, int, int]]) -> list[dict]:
    source = {"baseline": baseline_name, "version": rows[0]["version"] if rows else None}
    present = sorted({*CONTRACT, *model.features})
    specs = [_spec("expect_table_columns_to_match_set",
                   {"column_set": present, "exact_match": True}, source,
                   "the lake's columns and the model's features", len(present), None),
             _spec("expect_compound_columns_to_be_unique",
                   {"column_list": ["model_version", "inference_id"]},
                   source, "identity", "1 row per (model_version, inference_id)", None)]
    for row in sorted(rows, key=lambda r: r["column"]):
        specs += _column(model, row, source, means.get(row["column"]))
    if hours:
        specs.append(_volume(hours, source))
    return specs


def _spec(kind: str, kwargs: dict, source: dict, statistic: str, value, margin) -> dict:
    return {"type": kind, "kwargs": kwargs,
            "meta": {**source, "statistic": statistic, "value": value, "margin": margin}}


def _column(model: ModelConfig, row, source: dict,
            hourly_means: tuple[float, float, int, int] | None) -> list[dict]:
    column, kind = row["column"], row["kind"]
    if column == "label" or column not in (*model.features, "prediction"):
        return []  # labels arrive late: their null rate is coverage, not quality
    out = [_spec("expect_column_values_to_be_of_type",
                 {"column": column, "type_": LAKE_TYPES[kind]}, source, "kind", kind, None)]
    null_rate = row["num_nulls"] / row["count"] if row["count"] else 0.0
    ceiling = min(1.0, max(NULL_FACTOR * null_rate, null_rate + NULL_SLACK))
    out.append(_spec("expect_column_values_to_not_be_null",
                     {"column": column, "mostly": round(1.0 - ceiling, 6)}, source,
                     "null_rate", null_rate, f"max({NULL_FACTOR}x, +{NULL_SLACK})"))
    if kind == NUMERIC and row["q"]:
        low, p10, _p50, p90, high = row["q"]
        pad = RANGE_PAD * (high - low)
        out.append(_spec("expect_column_values_to_be_between",
                         {"column": column, "min_value": low - pad, "max_value": high + pad,
                          "mostly": RANGE_MOSTLY},
                         source, "p0.1..p99.9", [low, high], f"{RANGE_PAD} x span"))
        out.append(_spec("expect_column_median_to_be_between",
                         {"column": column, "min_value": p10, "max_value": p90},
                         source, "p10..p90", [p10, p90], None))
        n = row["n_finite"] or 0
        std = (row["m2"] / (n - 1)) ** 0.5 if n > 1 and row["m2"] else 0.0
        if hourly_means is not None:
            low_mean, high_mean, hours, hour_rows = hourly_means
            pad, margin = MEAN_PAD * (high_mean - low_mean), f"{MEAN_PAD} x range"
            if hours < 2:  # one hour's mean is no range: its own hour would fail by rounding
                pad = ONE_HOUR_MEAN_SE * std / hour_rows ** 0.5
                margin = f"{ONE_HOUR_MEAN_SE} standard errors of an hour's mean"
            out.append(_spec("expect_column_mean_to_be_between",
                             {"column": column, "min_value": low_mean - pad,
                              "max_value": high_mean + pad},
                             source, "hourly mean range", [low_mean, high_mean], margin))
        if std > 0:
            out.append(_spec("expect_column_stdev_to_be_between",
                             {"column": column, "min_value": STD_FLOOR * std},
                             source, "stddev", std, f"{STD_FLOOR} x"))
    elif row["categories"]:
        values = sorted(v for v in row["categories"] if v != OTHER)
        out.append(_spec("expect_column_values_to_be_in_set",
                         {"column": column, "value_set": values, "mostly": NEW_VALUES_MOSTLY},
                         source, "categories", len(values), f"mostly {NEW_VALUES_MOSTLY}"))
        if len(values) > 1:
            out.append(_spec("expect_column_unique_value_count_to_be_between",
                             {"column": column, "min_value": 2}, source, "distinct",
                             len(values), None))
    return out


def _volume(hours, source: dict) -> dict:
    by_hour: dict[int, list[int]] = {}
    for r in hours:
        by_hour.setdefault(r["window_start"].hour, []).append(r["n"])
    typical = {str(h): statistics.median(v) for h, v in sorted(by_hour.items())}
    default = statistics.median(typical.values())
    bounds = {str(h): [VOLUME_LOW * typical.get(str(h), default),
                       VOLUME_HIGH * typical.get(str(h), default)] for h in range(24)}
    spec = _spec("expect_table_row_count_to_be_between",
                 {"min_value": int(VOLUME_LOW * default), "max_value": int(VOLUME_HIGH * default)},
                 source, "rows per hour of day (median)", typical,
                 f"{VOLUME_LOW}x..{VOLUME_HIGH}x")
    spec["meta"]["by_hour_of_day"] = bounds
    return spec


def for_hour(specs: list[dict], hour: int) -> list[dict]:
    """The specs with the row-count bounds of hour of day `hour` filled in."""
    out = []
    for spec in specs:
        bounds = (spec.get("meta") or {}).get("by_hour_of_day")
        if spec["type"] == "expect_table_row_count_to_be_between" and bounds:
            low, high = bounds[str(hour)]
            spec = {**spec, "kwargs": {**spec["kwargs"], "min_value": int(low),
                                       "max_value": int(high) + 1}}
        out.append(spec)
    return out


def from_baseline(lake, model: ModelConfig, name: str = "default",
                  fleet: Mapping[str, tuple[ModelConfig, str]] | None = None
                  ) -> list[dict] | None:
    """The suite suggested from baseline `name` of `model`; None without that baseline.
    Remembered for the process per version of the baselines table (a suggestion reads
    the baseline with Spark jobs; every quality run asks for it). With `fleet` ({model_id:
    (model, baseline name)}: the other models a run will ask for), a model not yet
    remembered is suggested together with every such one, in the same three jobs."""
    from inferwatch.metrics import baseline as bl

    table = lake.table(bl.TABLE)
    if not table.exists():
        return None
    version = table.version()

    def key(m: ModelConfig, n: str) -> tuple:
        return table.uri, version, m.model_id, n, tuple(m.features)

    if key(model, name) not in _SUGGESTED:
        wanted = {m_id: (m, n) for m_id, (m, n) in (fleet or {}).items()
                  if key(m, n) not in _SUGGESTED}
        wanted[model.model_id] = (model, name)
        if len(_SUGGESTED) + len(wanted) > 4096:
            _SUGGESTED.clear()
        try:
            found = _suggested(table, version, wanted)
        except Exception:  # noqa: BLE001 - another model's baseline: this one alone
            found = _suggested(table, version, {model.model_id: (model, name)})
        for m_id, specs in found.items():
            _SUGGESTED[key(*wanted[m_id])] = specs
    return copy.deepcopy(_SUGGESTED[key(model, name)])


def _suggested(table, version: int, wanted: dict[str, tuple[ModelConfig, str]]
               ) -> dict[str, list[dict] | None]:
    rows = table.read(version=version, partitions=[{"model_id": m_id, "name": n}
                                                   for m_id, (_m, n) in wanted.items()])
    return suggest_fleet(wanted, rows)


_SUGGESTED: dict[tuple, list[dict] | None] = {}
