"""Slices: the whole model (`'*'`), each `slices` expression of the model, `model_version`.

A row belongs to one slice per key; a missing value is the null slice value (not the
string "null"). Each expression's value is a Spark column built from the parse tree
the model's config load checked (`inferwatch.slice_expr`), never from its text: what
runs is exactly what the grammar allowed, with no second reading of the text by Spark's
SQL parser. One bad slice never stops a model's metrics: an expression that does not
analyse against the rows is skipped, and one that fails only at execution (an ANSI cast
of a malformed value) is dropped for the run; each with a note and, in `details`, the
reason (`slices_dropped`, recorded with the run in `job_runs`).
"""
from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from inferwatch.model_config import ModelConfig
from inferwatch.slice_expr import Call, Case, Cast, Col, Lit, Node, Op, Test

T = TypeVar("T")
_BINARY: dict[str, Callable[[Column, Column], Column]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "%": operator.mod, "=": operator.eq, "==": operator.eq, "!=": operator.ne,
    "<>": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge, "<=>": Column.eqNullSafe, "||": F.concat, "and": operator.and_,
    "or": operator.or_,
}
_RETYPED = ("bigint", "smallint", "tinyint", "float")  # literals F.lit would type otherwise


def slice_column(node: Node) -> Column:
    """The Spark column of a parsed slice expression, with Spark SQL's semantics for the
    same text (literals typed alike, `BETWEEN`, `IN`, `LIKE`, `CASE` as Spark reads them).

    Example: ``slice_column(parse("lower(country) = 'de'"))``."""
    if isinstance(node, Col):
        return F.col("`" + node.name.replace("`", "``") + "`")
    if isinstance(node, Lit):
        value = F.lit(node.value)
        return value.cast(node.type) if node.type in _RETYPED else value
    if isinstance(node, Op):
        args = [slice_column(a) for a in node.args]
        if node.op == "not":
            return ~args[0]
        return -args[0] if node.op == "neg" else _BINARY[node.op](*args)
    if isinstance(node, Call):
        return F.call_function(node.name, *[slice_column(a) for a in node.args])
    if isinstance(node, Cast):
        arg = slice_column(node.arg)
        return arg.try_cast(node.type) if node.safe else arg.cast(node.type)
    if isinstance(node, Case):
        return _case(node)
    if isinstance(node, Test):
        return _test(node)
    raise TypeError(f"not a slice expression node: {node!r}")


def _case(node: Case) -> Column:
    subject = None if node.subject is None else slice_column(node.subject)
    out = None
    for when, then in node.whens:
        condition = slice_column(when) if subject is None else subject == slice_column(when)
        out = (F.when if out is None else out.when)(condition, slice_column(then))
    return out if node.otherwise is None else out.otherwise(slice_column(node.otherwise))


def _test(node: Test) -> Column:
    arg, operands = slice_column(node.arg), [slice_column(o) for o in node.operands]
    if node.kind == "null":
        return arg.isNotNull() if node.negated else arg.isNull()
    if node.kind == "between":
        test = arg.between(*operands)
    elif node.kind == "in":
        test = arg.isin(*operands)
    else:  # like, ilike: the pattern is a string literal
        pattern = node.operands[0].value
        test = arg.ilike(pattern) if node.kind == "ilike" else arg.like(pattern)
    return ~test if node.negated else test


def slice_specs(rows: DataFrame, model: ModelConfig, notes: list[str],
                dropped: dict[str, str] | None = None) -> list[tuple[str, Column]]:
    """(slice_key, value column) pairs of `model` over `rows`; an expression that does not
    analyse against them is left out, noted, and its reason put in `dropped`."""
    specs = [("*", F.lit("*"))]
    have = {c.lower() for c in rows.columns}  # Spark resolves names case-insensitively
    for text, node in model.expressions.items():
        # a column the rows lack is named here: Spark's analysis error for it costs a
        # round of analysis and logs a plan-sized ERROR line before it is caught
        missing = sorted(c for c in _columns(node) if c.lower() not in have)
        try:
            if missing:
                raise LookupError(f"no column {', '.join(missing)} in the rows")
            value = slice_column(node)
            rows.select(value).schema  # analysis only, no Spark job
        except Exception as err:  # noqa: BLE001 - a bad slice must not stop the others
            notes.append(f"slice '{text}' skipped: {_reason(err)}")
            if dropped is not None:
                dropped[text] = _reason(err)
            continue
        specs.append((text, value.cast("string")))
    specs.append(("model_version", F.col("model_version")))
    return specs


def _columns(node: Any) -> set[str]:
    """The names of the columns a parsed slice expression reads."""
    if isinstance(node, Col):
        return {node.name}
    if isinstance(node, list | tuple):
        return set().union(*map(_columns, node))
    if dataclasses.is_dataclass(node):
        return _columns([getattr(node, f.name) for f in dataclasses.fields(node)])
    return set()


def sliced(rows: DataFrame, model: ModelConfig, notes: list[str],
           extra: Sequence[str] = (), details: dict[str, Any] | None = None) -> DataFrame:
    """One row per (inference, slice it belongs to), with `window_start` = its hour,
    carrying the prediction and label columns and the `extra` columns asked for; the
    slices skipped go in `details["slices_dropped"]`. Nothing runs: a plan of several
    models unions these, and `compute_sliced` isolates a slice that fails."""
    dropped: dict[str, str] = {}
    out = _exploded(rows, slice_specs(rows, model, notes, dropped), extra)
    if dropped and details is not None:
        details.setdefault("slices_dropped", {}).update(dropped)
    return out


def compute_sliced(rows: DataFrame, model: ModelConfig, notes: list[str],
                   compute: Callable[[DataFrame], T], extra: Sequence[str] = (),
                   details: dict[str, Any] | None = None) -> T:
    """`compute(sliced rows)`, `compute` running the Spark job(s) that evaluate them.

    Slices cost nothing more while they work: the plan runs once. Only if it fails is
    each slice expression evaluated alone on `rows` (a small job each); those that fail
    are dropped with a note, and `compute` runs again without them. A failure that no
    slice explains is raised as it was. `details["slices_dropped"]` gets {text: reason}
    of every slice skipped or dropped."""
    dropped: dict[str, str] = {}
    specs = slice_specs(rows, model, notes, dropped)
    try:
        return compute(_exploded(rows, specs, extra))
    except Exception:
        failing = _failing(rows, specs[1:-1])  # not '*' nor model_version: no expressions
        if not failing:
            raise
        for text, reason in failing.items():
            notes.append(f"slice '{text}' dropped for this run: it fails on the rows: {reason}")
        dropped.update(failing)
        return compute(_exploded(rows, [s for s in specs if s[0] not in failing], extra))
    finally:
        if dropped and details is not None:
            details.setdefault("slices_dropped", {}).update(dropped)


def _failing(rows: DataFrame, specs: list[tuple[str, Column]]) -> dict[str, str]:
    """{text: error} of the slice expressions that fail when evaluated on every row."""
    failing = {}
    for text, value in specs:
        try:  # max() needs every value: the expression cannot be optimized away
            rows.agg(F.max(value)).collect()
        except Exception as err:  # noqa: BLE001 - any error at all drops the slice
            failing[text] = _reason(err)
    return failing


def _reason(err: BaseException) -> str:
    """An error's first line, short enough for a note (Spark appends plans and stacks)."""
    lines = str(err).strip().splitlines() or [type(err).__name__]
    return lines[0][:200]


def _exploded(rows: DataFrame, specs: list[tuple[str, Column]],
              extra: Sequence[str]) -> DataFrame:
    pairs = F.array(*[
        F.struct(F.lit(key).alias("slice_key"), value.cast("string").alias("slice_value"))
        for key, value in specs
    ])
    carried = [c for c in ("prediction", "prediction_label", "label", "label_class", "delay_s",
                           *extra) if c in rows.columns]
    carried = list(dict.fromkeys(carried))
    expected = [c for c in rows.columns if c == "_q" or c.startswith("_e_")]
    return (rows.withColumn("_slice", F.explode(pairs))
            .select("model_id", F.col("hour").alias("window_start"), "_slice.slice_key",
                    "_slice.slice_value", *carried, *expected))
