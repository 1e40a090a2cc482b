"""Row validation as data: each rule is a named predicate with a reason.

A rejected row keeps all the reasons it failed, so a quarantine row says everything that
was wrong with it; the accepted rows come out typed.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.config import MODEL_ID_PATTERN

REASON = "_reason"


@dataclass(frozen=True)
class Rule:
    bad: Column  # true where the row breaks the rule (never null)
    reason: Column  # string saying why


def parsed(column: str, kind: T.DataType) -> Column:
    """The column cast to `kind`, null where it does not parse (never an exception)."""
    return F.expr(f"try_cast(`{column}` as {kind.simpleString()})")


def required(column: str) -> Rule:
    missing = F.col(column).isNull() | (F.trim(F.col(column).cast("string")) == F.lit(""))
    return Rule(F.coalesce(missing, F.lit(True)), F.lit(f"missing {column}"))


def parses(column: str, kind: T.DataType, what: str) -> Rule:
    """Present but not a valid `kind`: a value we must not silently turn into null."""
    bad = F.col(column).isNotNull() & parsed(column, kind).isNull()
    text = F.substring(F.col(column).cast("string"), 1, 60)
    return Rule(F.coalesce(bad, F.lit(False)),
                F.concat(F.lit(f"{column} '"), text, F.lit(f"' is not {what}")))


def model_id_is_safe(column: str = "model_id") -> Rule:
    pattern = MODEL_ID_PATTERN.pattern
    bad = F.col(column).isNotNull() & ~F.col(column).rlike(pattern)
    return Rule(F.coalesce(bad, F.lit(False)),
                F.concat(F.lit(f"{column} '"), F.substring(F.col(column), 1, 60),
                         F.lit(f"' does not match {pattern}")))


def not_after(column: str, limit: Column, what: str) -> Rule:
    bad = parsed(column, T.TimestampType()) > limit
    return Rule(F.coalesce(bad, F.lit(False)),
                F.concat(F.lit(f"{column} "), F.col(column).cast("string"), F.lit(f" is {what}")))


def with_reasons(df: DataFrame, rules: Sequence[Rule]) -> DataFrame:
    """Add `_reason`: all broken rules joined by '; ', null for a valid row."""
    parts = [F.when(rule.bad, rule.reason) for rule in rules]
    joined = F.concat_ws("; ", *parts) if parts else F.lit("")
    return df.withColumn(REASON, F.when(joined != F.lit(""), joined))


def typed(df: DataFrame, kinds: Iterable[tuple[str, T.DataType]]) -> DataFrame:
    """Cast the named columns (rows that fail a cast must already be rejected)."""
    kinds = dict(kinds)
    return df.select(*[
        parsed(c, kinds[c]).alias(c) if c in kinds else F.col(c) for c in df.columns
    ])


def quarantine_rows(rejected: DataFrame, table: str, job: str, run_id: str,
                    originals: Sequence[str]) -> DataFrame:
    """Quarantine rows: the original row as JSON and why it was rejected."""
    return rejected.select(
        F.to_json(F.struct(*[F.col(c) for c in originals])).alias("row"),
        F.col(REASON).alias("reason"),
        F.lit(job).alias("job"),
        F.lit(run_id).alias("run_id"),
        F.current_timestamp().alias("quarantined_at"),
        F.lit(table).alias("table"),
        F.current_date().alias("ingest_date"),
    )
