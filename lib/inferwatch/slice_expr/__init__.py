"""Slice expressions: the small part of Spark SQL a model's `slices` may use, as data.

A model file is configuration, not code. Its slice expressions are tokenized and parsed
here once, at config load, by a grammar that knows only what a slice needs; the jobs
build Spark columns from the parse tree (`inferwatch.metrics.slices.slice_column`), so
the text never reaches Spark's own SQL parser and nothing a tokenizer might read
differently from Spark's can slip through. Anything outside the grammar (`reflect`,
`java_method`, subqueries, file or table reads, lambdas, UDFs, window, aggregate or
generator functions, unknown functions) is a `SliceExprError` saying what was refused.

The grammar, loosest first, with Spark's precedence::

    expr      := and (OR and)*
    and       := not (AND not)*
    not       := NOT* predicate
    predicate := compare [IS [NOT] NULL | [NOT] BETWEEN sum AND sum
                          | [NOT] IN (literal, ...) | [NOT] LIKE|ILIKE 'pattern']
    compare   := sum ((= | == | <=> | != | <> | < | <= | > | >=) sum)*
    sum       := product ((+ | - | '||') product)*
    product   := unary ((* | / | %) unary)*
    unary     := (- | +)* primary
    primary   := literal | column | `column` | ( expr ) | function(expr, ...)
               | CAST|TRY_CAST(expr AS type) | CASE [expr] (WHEN expr THEN expr)+ [ELSE expr] END
    literal   := number | 'string' | "string" | TRUE | FALSE | NULL

`function` is one of `FUNCTIONS`, `type` one of `CAST_TYPES` (`decimal(p, s)` too).
Keywords and function names are case-insensitive; a column named like a keyword, or
with a dot or a space in its name, is written in backticks. Literals are typed as Spark
SQL types them (1 int, 3000000000 bigint, 1.5 decimal(2,1), 1e3 double, 10L bigint;
'it''s' and 'it\\'s' are the same string).

Example::

    parse("amount > 1000")  # Op(">", (Col("amount"), Lit(1000, "int")))
"""
from __future__ import annotations

from inferwatch.slice_expr.nodes import (CAST_TYPES, FUNCTIONS, Call, Case, Cast, Col, Lit,
                                         Node, Op, SliceExprError, Test)
from inferwatch.slice_expr.parser import column_name, parse

__all__ = ["CAST_TYPES", "FUNCTIONS", "Call", "Case", "Cast", "Col", "Lit", "Node", "Op",
           "SliceExprError", "Test", "column_name", "parse"]
