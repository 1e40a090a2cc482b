"""Row validation as data: each rule is a named predicate with a reason.

A rejected row keeps all the reasons it failed, so a quarantine row says everything that
was wrong with it; the accepted rows come out typed.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.model_config import MODEL_ID_PATTERN, ModelConfig
from inferwatch.ingest import contract
from inferwatch.lake.scan import column as by_name

REASON = "__iw_reason"  # internal: no producer column is named so
MAX_ID_LENGTH = 512
EARLIEST_TS = "2000-01-01 00:00:00"  # before it, a timestamp is an unset clock, not data


@dataclass(frozen=True)
class Rule:
    bad: Column  # true where the row breaks the rule (never null)
    reason: Column  # string saying why


def parsed(column: str, kind: T.DataType) -> Column:
    """The column cast to `kind`, null where it does not parse (never an exception).

    A timestamp must fall in the years 1-9999 (Spark parses '+10000-01-01', which Python
    and so the lake's file statistics cannot hold) and start with its date (Spark reads
    '10:15:00' as today at 10:15)."""
    quoted = column.replace("`", "``")
    value = F.expr(f"try_cast(`{quoted}` as {kind.simpleString()})")
    if isinstance(kind, T.TimestampType):
        dated = by_name(column).cast("string").rlike(r"^\s*[+-]?[0-9]{4}")
        value = F.when(F.year(value).between(1, 9999) & dated, value)
    return value


def required(column: str) -> Rule:
    missing = by_name(column).isNull() | (F.trim(by_name(column).cast("string")) == F.lit(""))
    return Rule(F.coalesce(missing, F.lit(True)), F.lit(contract.missing(column)))


def _reason(template: str, value: Column) -> Column:
    """A reason from its contract wording, with `value` where the template has VALUE."""
    before, after = contract.split_reason(template)
    return F.concat(F.lit(before), value, F.lit(after))


def parses(column: str, kind: T.DataType) -> Rule:
    """Present but not a valid `kind`: a value we must not silently turn into null."""
    bad = by_name(column).isNotNull() & parsed(column, kind).isNull()
    text = F.substring(by_name(column).cast("string"), 1, contract.SHOWN_CHARS)
    return Rule(F.coalesce(bad, F.lit(False)),
                _reason(contract.not_parsed(column, contract.VALUE, kind.typeName()), text))


def model_id_is_safe(column: str = "model_id") -> Rule:
    pattern = MODEL_ID_PATTERN.pattern
    bad = by_name(column).isNotNull() & ~by_name(column).rlike(pattern)
    return Rule(F.coalesce(bad, F.lit(False)),
                F.concat(F.lit(f"{column} '"), F.substring(by_name(column), 1, 60),
                         F.lit(f"' does not match {pattern}")))


def finite(column: str) -> Rule:
    """A number that parses but is NaN or infinite."""
    value = parsed(column, T.DoubleType())
    bad = value.isNotNull() & (F.isnan(value) | (F.abs(value) == float("inf")))
    return Rule(F.coalesce(bad, F.lit(False)),
                _reason(contract.not_finite(column, contract.VALUE),
                        by_name(column).cast("string")))


def not_longer(column: str, limit: int) -> Rule:
    bad = F.length(by_name(column).cast("string")) > limit
    return Rule(F.coalesce(bad, F.lit(False)),
                F.lit(f"{column} is longer than {limit} characters"))


def not_after(column: str, limit: Column, what: str) -> Rule:
    bad = parsed(column, T.TimestampType()) > limit
    return Rule(F.coalesce(bad, F.lit(False)),
                F.concat(F.lit(f"{column} "), by_name(column).cast("string"), F.lit(f" is {what}")))


def not_before(column: str, limit: str, what: str) -> Rule:
    bad = parsed(column, T.TimestampType()) < F.lit(limit).cast("timestamp")
    return Rule(F.coalesce(bad, F.lit(False)),
                F.concat(F.lit(f"{column} "), by_name(column).cast("string"), F.lit(f" is {what}")))


def inference_rules(now: datetime, future_tolerance_hours: float) -> list[Rule]:
    """What an inference must satisfy to enter `inferences` (the partition job's check)."""
    limit = F.lit(now + timedelta(hours=future_tolerance_hours)).cast("timestamp")
    return [
        required("inference_id"),
        required("model_id"),
        required("ts"),
        not_longer("inference_id", MAX_ID_LENGTH),
        model_id_is_safe("model_id"),
        parses("ts", T.TimestampType()),
        parses("prediction", T.DoubleType()),
        finite("prediction"),
        not_after("ts", limit, f"more than {future_tolerance_hours:g}h in the future"),
        not_before("ts", EARLIEST_TS, f"before {EARLIEST_TS[:10]} (an unset clock?)"),
    ]


def feature_rules(models: Mapping[str, ModelConfig], columns: Sequence[str]) -> list[Rule]:
    """Each model's numeric features must parse as numbers, on that model's rows only."""
    rules = []
    for column, owners in contract.numeric_owners(models, columns).items():
        rule = parses(column, T.DoubleType())
        rules.append(Rule(rule.bad & F.coalesce(F.col("model_id").isin(owners), F.lit(False)),
                          F.concat(rule.reason, F.lit(contract.numeric_feature(owners)))))
    return rules


def with_reasons(df: DataFrame, rules: Sequence[Rule]) -> DataFrame:
    """Add REASON: all broken rules joined by '; ', null for a valid row."""
    parts = [F.when(rule.bad, rule.reason) for rule in rules]
    joined = F.concat_ws("; ", *parts) if parts else F.lit("")
    return df.withColumn(REASON, F.when(joined != F.lit(""), joined))


def typed(df: DataFrame, kinds: Iterable[tuple[str, T.DataType]]) -> DataFrame:
    """Cast the named columns (rows that fail a cast must already be rejected)."""
    kinds = dict(kinds)
    return df.select(*[
        parsed(c, kinds[c]).alias(c) if c in kinds else by_name(c) for c in df.columns
    ])


def quarantine_rows(rejected: DataFrame, table: str, job: str, run_id: str,
                    originals: Sequence[str]) -> DataFrame:
    """Quarantine rows: the original row as JSON and why it was rejected."""
    return rejected.select(
        F.to_json(F.struct(*[by_name(c) for c in originals])).alias("row"),
        F.col(REASON).alias("reason"),
        F.lit(job).alias("job"),
        F.lit(run_id).alias("run_id"),
        F.current_timestamp().alias("quarantined_at"),
        F.lit(table).alias("table"),
        F.current_date().alias("ingest_date"),
    )
