"""The parse tree of a slice expression, and the allow-lists the grammar checks against."""
from __future__ import annotations

from dataclasses import dataclass

# Deterministic built-in scalar functions: no I/O, no JVM calls, no randomness, and an
# output no bigger than their inputs (so no lpad or repeat: a slice must not blow up memory).
FUNCTIONS = frozenset({
    # strings
    "lower", "upper", "lcase", "ucase", "trim", "ltrim", "rtrim", "length", "char_length",
    "substring", "substr", "left", "right", "concat", "concat_ws", "replace", "initcap",
    "startswith", "endswith", "contains", "instr",
    # missing values and conditions
    "coalesce", "nullif", "nvl", "ifnull", "if", "isnull", "isnotnull", "isnan", "nanvl",
    # numbers
    "abs", "round", "bround", "floor", "ceil", "ceiling", "sign", "signum", "least",
    "greatest", "pmod", "sqrt", "ln", "log10", "log2", "exp", "pow", "power", "hash",
    # dates and times
    "date_trunc", "trunc", "to_date", "date_format", "year", "quarter", "month",
    "weekofyear", "dayofmonth", "dayofweek", "dayofyear", "weekday", "hour", "minute",
})
# what CAST(x AS name) may name, and the Spark type it means
CAST_TYPES = {"string": "string", "boolean": "boolean", "tinyint": "tinyint",
              "byte": "tinyint", "smallint": "smallint", "short": "smallint", "int": "int",
              "integer": "int", "bigint": "bigint", "long": "bigint", "float": "float",
              "real": "float", "double": "double", "date": "date", "timestamp": "timestamp",
              "timestamp_ntz": "timestamp_ntz", "timestamp_ltz": "timestamp_ltz",
              "decimal": "decimal", "dec": "decimal", "numeric": "decimal"}


class SliceExprError(ValueError):
    """An expression outside the slice grammar; the message says what was refused."""


@dataclass(frozen=True)
class Col:
    """A column of the rows, by its exact name."""

    name: str


@dataclass(frozen=True)
class Lit:
    value: object  # int, Decimal, float, str, bool or None
    type: str      # the Spark SQL type of the literal as written: int, bigint, decimal, ...


@dataclass(frozen=True)
class Op:
    op: str  # a comparison or arithmetic symbol, "||", "and", "or", "not", "neg"
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Call:
    name: str  # lower case, one of FUNCTIONS
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Cast:
    arg: Node
    type: str   # a CAST_TYPES value, or "decimal(10,2)"
    safe: bool  # TRY_CAST: null instead of an error


@dataclass(frozen=True)
class Case:
    subject: Node | None  # CASE x WHEN v ...: each WHEN compares x = v
    whens: tuple[tuple[Node, Node], ...]
    otherwise: Node | None


@dataclass(frozen=True)
class Test:
    """`arg IS NULL`, `BETWEEN`, `IN`, `LIKE` or `ILIKE` its operands (NOT: `negated`)."""

    kind: str  # "null", "between", "in", "like", "ilike"
    arg: Node
    operands: tuple[Node, ...]
    negated: bool


Node = Col | Lit | Op | Call | Cast | Case | Test
