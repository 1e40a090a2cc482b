"""Every statistic a quality run's expectations need, for every model-hour, in one plan.

Most expectations of a suite are statements about one statistic of the hour's rows: a
row count, a column's non-null count, mean, sample standard deviation, median or distinct
count, the number of non-null values outside a range or a value set, the number of rows
sharing a compound key. `needs(specs)` names them; `hour_statistics` computes all of
them for every (model_id, hour) of the run in one grouped aggregation over the rows
(plus one per compound key), whatever the number of models and hours. The statistics
are Spark's own functions, the very ones Great Expectations' Spark engine runs for the
same expectation (`mean`, `stddev_samp`, `count(DISTINCT)` as the size of the set of
values, `>=`/`<=` and `isin` conditions on non-null values), so `quality.judge` reaches
GX's verdict from them.

The median is the exception: GX computes it exactly, which holds every distinct value
of the hour (an exact `percentile` over 21 columns was 15 s of a 1,000,000-row day,
against 1.7 s for a KLL sketch, and ran the driver out of a 1 GB heap). The pass reads
the values at ranks 0.5 - `MEDIAN_MARGIN`, 0.5 and 0.5 + `MEDIAN_MARGIN` off a KLL
sketch (k=200: a rank within 1.33% with 99% confidence; the margin is three times
that), and `settle_medians` computes the exact median, in one more grouped pass, of the
model-hours and columns whose expectation has a bound between the outer two: every
verdict is GX's, and an observed median is exact there and within 1.33% of rank 0.5
elsewhere. `count(DISTINCT)` of several columns expands every row once a column; the
set's size is the same number without it (12.1 -> 4.2 s for five columns there).

Bounds and value sets differ per model: they are columns of a small per-model settings
frame joined (broadcast) to the rows, so a range check is one aggregate per (column,
kind of check), not one per model.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.granularity import utc
from inferwatch.lake.sql_text import sql_ident

BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
NOT_NULL = "expect_column_values_to_not_be_null"
COMPOUND_UNIQUE = "expect_compound_columns_to_be_unique"
COLUMN_AGGREGATES = {"expect_column_mean_to_be_between": "mean",
                     "expect_column_median_to_be_between": "median",
                     "expect_column_stdev_to_be_between": "stdev",
                     "expect_column_unique_value_count_to_be_between": "distinct"}
SCHEMA_ONLY = ("expect_column_values_to_be_of_type", "expect_table_columns_to_match_set",
               "expect_table_row_count_to_be_between")
KNOWN = {BETWEEN, IN_SET, NOT_NULL, COMPOUND_UNIQUE, *COLUMN_AGGREGATES, *SCHEMA_ONLY}
MEDIAN = "expect_column_median_to_be_between"
MEDIAN_K = 200  # KLL: rank error 1.33% with 99% confidence
MEDIAN_MARGIN = 0.04  # the exact median lies between the sketch's values at 0.5 -/+ this


@dataclass(frozen=True)
class Slot:
    """One parametrised row check shared by every model that has it: a range check of a
    column (bounds per model), or a value-set check."""
    kind: str  # BETWEEN or IN_SET
    column: str
    strict_min: bool = False
    strict_max: bool = False

    @property
    def name(self) -> str:
        flags = f"{int(self.strict_min)}{int(self.strict_max)}"
        return f"__{'between' if self.kind == BETWEEN else 'in_set'}_{flags}"


def slot_of(spec: dict) -> Slot:
    kwargs = spec.get("kwargs") or {}
    return Slot(spec["type"], kwargs["column"], bool(kwargs.get("strict_min")),
                bool(kwargs.get("strict_max")))


def computable(spec: dict, schema: T.StructType) -> bool:
    """Whether the one-pass plan can judge `spec` (else GX validates it on the rows)."""
    kind, kwargs = spec["type"], spec.get("kwargs") or {}
    if kind not in KNOWN or set(kwargs) & {"condition_parser", "row_condition"}:
        return False
    column = kwargs.get("column")
    field = next((f for f in schema.fields if f.name == column), None)
    if kind == BETWEEN:
        bounds = [kwargs.get("min_value"), kwargs.get("max_value")]
        return (field is not None and isinstance(field.dataType, T.NumericType)
                and any(b is not None for b in bounds)
                and all(b is None or isinstance(b, (int, float)) and not isinstance(b, bool)
                        for b in bounds)
                and (None in bounds or bounds[0] <= bounds[1]))
    if kind == IN_SET:
        values = kwargs.get("value_set")
        return (field is not None and isinstance(field.dataType, T.StringType)
                and isinstance(values, list) and all(isinstance(v, str) for v in values))
    if kind in COLUMN_AGGREGATES and COLUMN_AGGREGATES[kind] != "distinct":
        return field is None or isinstance(field.dataType, T.NumericType)
    if kind == "expect_column_values_to_be_of_type":
        wanted = getattr(T, str(kwargs.get("type_")), None)
        return isinstance(wanted, type) and issubclass(wanted, T.DataType)
    if kind == COMPOUND_UNIQUE:
        return isinstance(kwargs.get("column_list"), list) and kwargs.get(
            "ignore_row_if", "all_values_are_missing") == "all_values_are_missing"
    return True


def slots(specs: Iterable[dict]) -> dict[int, Slot]:
    """{index of the spec in `specs`: its slot} for the range and value-set checks (a
    suite holds at most one of each type per column: `validate.build_suite` refuses
    two, as GX would merge them)."""
    return {i: slot_of(spec) for i, spec in enumerate(specs)
            if spec["type"] in (BETWEEN, IN_SET)}


def hour_statistics(spark: SparkSession, rows: DataFrame,
                    suites: Mapping[str, list[dict]]) -> dict[tuple[str, datetime], dict]:
    """{(model_id, hour): {statistic: value}} for every model-hour with rows in `rows`
    (`inferences` rows of the hours to validate, every model at once), the statistics
    the `suites` ({model_id: computable specs}) need, each keyed as `quality.judge`
    reads it."""
    columns = {f.name: f.dataType for f in rows.schema.fields}
    # as SQL text: a few JVM calls an aggregate, where a Column costs dozens (lake.sql_text)
    aggregates: dict[tuple, str] = {("rows",): "count(1)"}
    for name in columns:  # which columns an hour has: their non-null counts
        aggregates[("nonnull", name)] = f"count({sql_ident(name)})"
    params: dict[str, dict[str, tuple]] = {}
    keys: set[tuple[str, ...]] = set()
    for model_id, specs in suites.items():
        for i, slot in slots(specs).items():
            if slot.column not in columns:
                continue
            kwargs = specs[i].get("kwargs") or {}
            value = ((_float(kwargs.get("min_value")), _float(kwargs.get("max_value")))
                     if slot.kind == BETWEEN else (list(kwargs["value_set"]),))
            params.setdefault(slot.name + "_" + slot.column, {})[model_id] = value
            if ("unexpected", slot) not in aggregates:  # one aggregate a slot
                aggregates[("unexpected", slot)] = _unexpected(slot)
        for spec in specs:
            kwargs = spec.get("kwargs") or {}
            stat = COLUMN_AGGREGATES.get(spec["type"])
            if stat and kwargs.get("column") in columns and (stat, kwargs["column"]) \
                    not in aggregates:
                aggregates[(stat, kwargs["column"])] = _aggregate(stat, kwargs["column"])
            if spec["type"] == COMPOUND_UNIQUE and all(c in columns for c in kwargs["column_list"]):
                keys.add(tuple(kwargs["column_list"]))
    with_params = rows.join(F.broadcast(_settings(spark, params)), "model_id", "left") \
        if params else rows
    found: dict[tuple[str, datetime], dict] = {}
    names = list(aggregates)
    for row in with_params.groupBy("model_id", "hour").agg(
            *[F.expr(f"{a} AS s{i}") for i, a in enumerate(aggregates.values())]).collect():
        found[(row["model_id"], utc(row["hour"]))] = {
            key: row[f"s{i}"] for i, key in enumerate(names)}
    for key in sorted(keys):
        for row in _compound(rows, key).collect():
            stats = found.get((row["model_id"], utc(row["hour"])))
            if stats is not None:
                stats[("duplicated", key)] = row["duplicated"]
                stats[("considered", key)] = row["considered"]
    return found


def _float(value) -> float | None:
    return None if value is None else float(value)


def _settings(spark: SparkSession, params: dict[str, dict[str, tuple]]) -> DataFrame:
    """One row per model: each slot's bounds (`<slot>_lo`, `<slot>_hi`) or value set."""
    fields, models = [T.StructField("model_id", T.StringType())], sorted(
        {m for by_model in params.values() for m in by_model})
    for name, by_model in sorted(params.items()):
        if name.startswith("__between"):
            fields += [T.StructField(f"{name}_lo", T.DoubleType()),
                       T.StructField(f"{name}_hi", T.DoubleType())]
        else:
            fields.append(T.StructField(f"{name}_set", T.ArrayType(T.StringType())))
    data = []
    for model_id in models:
        row: list = [model_id]
        for name, by_model in sorted(params.items()):
            value = by_model.get(model_id)
            if name.startswith("__between"):
                row += list(value) if value else [None, None]
            else:
                row.append(value[0] if value else None)
        data.append(tuple(row))
    return spark.createDataFrame(data, T.StructType(fields))


def _unexpected(slot: Slot) -> str:
    """Non-null values of the slot's column failing its check (GX's Spark conditions),
    as SQL."""
    column, name = sql_ident(slot.column), f"{slot.name}_{slot.column}"
    if slot.kind == BETWEEN:
        low, high = sql_ident(f"{name}_lo"), sql_ident(f"{name}_hi")
        above = f"CASE WHEN {low} IS NULL THEN true ELSE {column} " \
                f"{'>' if slot.strict_min else '>='} {low} END"
        below = f"CASE WHEN {high} IS NULL THEN true ELSE {column} " \
                f"{'<' if slot.strict_max else '<='} {high} END"
        bad = f"(NOT ({above} AND {below})) AND ({low} IS NOT NULL OR {high} IS NOT NULL)"
    else:
        values = sql_ident(f"{name}_set")
        bad = f"{values} IS NOT NULL AND NOT array_contains({values}, {column})"
    return f"count(CASE WHEN {column} IS NOT NULL AND ({bad}) THEN true END)"


def _aggregate(stat: str, name: str) -> str:
    column = sql_ident(name)
    if stat == "mean":
        return f"avg({column})"
    if stat == "stdev":
        return f"stddev_samp({column})"
    if stat == "median":  # a band [low, middle, high]: settle_medians decides
        # The sketch skips NaN, which the exact median sorts above every number: an
        # hour with a NaN gets a band with no middle, which always goes to the exact pass
        ranks = ", ".join(f"{r!r}D" for r in (0.5 - MEDIAN_MARGIN, 0.5, 0.5 + MEDIAN_MARGIN))
        value = f"CAST({column} AS DOUBLE)"
        return (f"CASE WHEN count({column}) = 0 THEN NULL "
                f"WHEN count_if(isnan({value})) > 0 "
                "THEN array(double('-inf'), double('NaN'), double('inf')) "
                f"ELSE kll_sketch_get_quantile_double(kll_sketch_agg_double({value}, "
                f"{MEDIAN_K}), array({ranks})) END")
    return f"size(collect_set({column}))"


def settle_medians(read: Callable[[list[dict]], DataFrame],
                   stats: dict[tuple[str, datetime], dict],
                   specs: Mapping[tuple[str, datetime], list[dict]]) -> int:
    """Turn each median band of `stats` into one value: the exact median (one grouped
    pass over `read(partitions)`, the model-hours that need it) where a bound of the
    hour's median expectation (`specs`: {(model_id, hour): specs}) lies within the band
    or the hour holds a NaN (a band without a middle), the band's middle elsewhere.
    Returns the number of exact medians computed."""
    undecided: dict[tuple[str, datetime], set[str]] = {}
    for key, hour_specs in specs.items():
        found = stats.get(key, {})
        for spec in hour_specs:
            kwargs = spec.get("kwargs") or {}
            band = found.get(("median", kwargs.get("column")))
            if spec["type"] != MEDIAN or band is None:
                continue
            bounds = [kwargs.get(k) for k in ("min_value", "max_value")]
            if math.isnan(band[1]) or any(b is not None and band[0] <= b <= band[2]
                                          for b in bounds):
                undecided.setdefault(key, set()).add(kwargs["column"])
    exact: dict[tuple, float] = {}
    columns = sorted({c for cs in undecided.values() for c in cs})
    if undecided:
        rows = read([{"model_id": m, "hour": h} for m, h in sorted(undecided)])
        medians = rows.groupBy("model_id", "hour").agg(*[
            F.expr(f"percentile({sql_ident(c)}, 0.5D) AS m{i}") for i, c in enumerate(columns)])
        for row in medians.collect():
            key = (row["model_id"], utc(row["hour"]))
            for i, c in enumerate(columns):
                if c in undecided.get(key, ()):
                    exact[(key, c)] = row[f"m{i}"]
    for key, found in stats.items():
        for name in [n for n in found if n[0] == "median"]:
            band = found[name]
            found[name] = exact.get((key, name[1]), None if band is None else band[1])
    return len(exact)


def _compound(rows: DataFrame, key: tuple[str, ...]) -> DataFrame:
    """Per model-hour: rows whose `key` values are shared with another row (rows missing
    every value of the key are ignored, GX's default), and rows considered."""
    cols = [F.col(f"`{c}`") for c in key]
    considered = rows.where(F.greatest(*[c.isNotNull() for c in cols]) if len(cols) > 1
                            else cols[0].isNotNull())
    counted = considered.groupBy("model_id", "hour", *cols).agg(F.count(F.lit(1)).alias("n"))
    return counted.groupBy("model_id", "hour").agg(
        F.sum(F.when(F.col("n") > 1, F.col("n")).otherwise(0)).alias("duplicated"),
        F.sum("n").alias("considered"))
