"""The recursive-descent parser of slice expressions (the grammar: `inferwatch.slice_expr`).

One method per grammar rule, loosest first; function names are checked against
`FUNCTIONS` as they are read, so a refused call is named even inside a larger
expression. Unary signs and NOTs are read in loops and nesting is bounded, so no
expression can exhaust the stack.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import NoReturn

from inferwatch.slice_expr.nodes import (CAST_TYPES, FUNCTIONS, Call, Case, Cast, Col, Lit,
                                         Node, Op, SliceExprError, Test)
from inferwatch.slice_expr.tokens import Token, tokenize

KEYWORDS = frozenset({"AND", "OR", "NOT", "IS", "NULL", "TRUE", "FALSE", "BETWEEN", "IN",
                      "LIKE", "ILIKE", "CASE", "WHEN", "THEN", "ELSE", "END", "CAST",
                      "TRY_CAST", "AS"})
QUERY_WORDS = frozenset({"SELECT", "FROM", "WITH", "TABLE", "VALUES"})
COMPARISONS = ("=", "==", "<=>", "!=", "<>", "<", "<=", ">", ">=")
MAX_LENGTH, MAX_DEPTH = 2000, 32


def parse(text: str) -> Node:
    """The parse tree of one slice expression; `SliceExprError` if it is outside the
    grammar. Example: ``parse("amount > 1000")`` is
    ``Op(">", (Col("amount"), Lit(1000, "int")))``."""
    if len(text) > MAX_LENGTH:
        raise SliceExprError(f"longer than {MAX_LENGTH} characters")
    return _Parser(tokenize(text)).parse()


def column_name(text: str) -> str:
    """The column `text` names (plain or in backticks); `SliceExprError` otherwise."""
    node = parse(text)
    if not isinstance(node, Col):
        raise SliceExprError("a column name, plain or in backticks, not an expression")
    return node.name


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens, self.i, self.depth = tokens, 0, 0

    def parse(self) -> Node:
        node = self.expr()
        if self.peek.kind != "end":
            self.fail(f"unexpected {self.peek.text!r}")
        return node

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def fail(self, message: str) -> NoReturn:
        raise SliceExprError(f"{message} at character {self.peek.at}")

    def next(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def word(self, *words: str) -> bool:
        """The next token is one of these keywords (consumed if so)."""
        if self.peek.kind == "name" and self.peek.text.upper() in words:
            self.i += 1
            return True
        return False

    def op(self, *ops: str) -> str | None:
        if self.peek.kind == "op" and self.peek.text in ops:
            return self.next().text
        return None

    def expect_word(self, word: str) -> None:
        if not self.word(word):
            self.fail(f"expected {word}")

    def expect_op(self, op: str) -> None:
        if not self.op(op):
            self.fail(f"expected {op!r}")

    def expr(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"nested deeper than {MAX_DEPTH}")
        node = self.and_()
        while self.word("OR"):
            node = Op("or", (node, self.and_()))
        self.depth -= 1
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.word("AND"):
            node = Op("and", (node, self.not_()))
        return node

    def not_(self) -> Node:
        nots = 0
        while self.word("NOT"):
            nots += 1
        node = self.predicate()
        for _ in range(nots):
            node = Op("not", (node,))
        return node

    def predicate(self) -> Node:
        node = self.compare()
        if self.word("IS"):
            negated = self.word("NOT")
            self.expect_word("NULL")
            return Test("null", node, (), negated)
        negated = self.word("NOT")
        if self.word("BETWEEN"):
            low = self.sum()
            self.expect_word("AND")
            return Test("between", node, (low, self.sum()), negated)
        if self.word("IN"):
            self.expect_op("(")
            values = [self.literal()]
            while self.op(","):
                values.append(self.literal())
            self.expect_op(")")
            return Test("in", node, tuple(values), negated)
        if self.word("LIKE", "ILIKE"):
            kind = self.tokens[self.i - 1].text.lower()
            if self.peek.kind != "string":
                self.fail(f"{kind.upper()} takes a 'pattern' string")
            return Test(kind, node, (Lit(self.next().text, "string"),), negated)
        if negated:
            self.fail("expected BETWEEN, IN, LIKE or ILIKE after NOT")
        return node

    def compare(self) -> Node:
        node = self.sum()
        while op := self.op(*COMPARISONS):
            node = Op(op, (node, self.sum()))
        return node

    def sum(self) -> Node:
        node = self.product()
        while op := self.op("+", "-", "||"):
            node = Op(op, (node, self.product()))
        return node

    def product(self) -> Node:
        node = self.unary()
        while op := self.op("*", "/", "%"):
            node = Op(op, (node, self.unary()))
        return node

    def unary(self) -> Node:
        signs = []
        while op := self.op("-", "+"):
            signs.append(op)
        node = self.primary()
        for sign in reversed(signs):
            node = Op("neg", (node,)) if sign == "-" else node
        return node

    def literal(self) -> Node:
        """A literal, or a signed number (for IN lists)."""
        negative = self.op("-")
        token = self.peek
        node = self.primary()
        if not isinstance(node, Lit) or (negative and token.kind != "number"):
            raise SliceExprError(f"IN takes a list of literals (at character {token.at})")
        return Op("neg", (node,)) if negative else node

    def primary(self) -> Node:
        token = self.next()
        if token.kind == "number":
            return _number(token.text)
        if token.kind == "string":
            return Lit(token.text, "string")
        if token.kind == "quoted":
            return self.column(token)
        if token.kind == "op" and token.text == "(":
            node = self.expr()
            self.expect_op(")")
            return node
        if token.kind != "name":
            self.i -= 1
            self.fail(f"unexpected {token.text!r}" if token.text else "unexpected end")
        word = token.text.upper()
        if word in ("TRUE", "FALSE"):
            return Lit(word == "TRUE", "boolean")
        if word == "NULL":
            return Lit(None, "null")
        if word in ("CAST", "TRY_CAST"):
            return self.cast(word == "TRY_CAST")
        if word == "CASE":
            return self.case()
        if word in QUERY_WORDS:
            raise SliceExprError(f"subqueries and table reads are not allowed ({token.text} "
                                 f"at character {token.at})")
        if word in KEYWORDS:
            self.i -= 1
            self.fail(f"unexpected {token.text}")
        if self.op("("):
            return self.call(token)
        return self.column(token)

    def column(self, name: Token) -> Node:
        if self.peek.text == "." and self.peek.kind == "op":
            # `text.`/path``, `db.table`, struct fields: a slice reads its own row only
            self.fail("qualified names (a.b) are not allowed; a column whose name has a "
                      "dot is written in backticks")
        return Col(name.text)

    def call(self, name: Token) -> Node:
        function = name.text.lower()
        if function not in FUNCTIONS:
            raise SliceExprError(f"function {name.text}() is not allowed")
        args: list[Node] = []
        if not self.op(")"):
            args.append(self.expr())
            while self.op(","):
                args.append(self.expr())
            self.expect_op(")")
        return Call(function, tuple(args))

    def cast(self, safe: bool) -> Node:
        self.expect_op("(")
        arg = self.expr()
        self.expect_word("AS")
        name = self.next()
        kind = CAST_TYPES.get(name.text.lower()) if name.kind == "name" else None
        if kind is None:
            raise SliceExprError(f"cast to {name.text!r} (at character {name.at}): expected one of "
                                 + ", ".join(sorted(set(CAST_TYPES.values()))))
        if kind == "decimal" and self.op("("):
            digits = [self.next()]
            if self.op(","):
                digits.append(self.next())
            if not all(d.kind == "number" and d.text.isdigit() for d in digits):
                self.fail("decimal takes (precision[, scale])")
            self.expect_op(")")
            kind = f"decimal({','.join(d.text for d in digits)})"
        self.expect_op(")")
        return Cast(arg, kind, safe)

    def case(self) -> Node:
        subject = None if self.peek.kind == "name" and self.peek.text.upper() == "WHEN" \
            else self.expr()
        whens = []
        while self.word("WHEN"):
            condition = self.expr()
            self.expect_word("THEN")
            whens.append((condition, self.expr()))
        if not whens:
            self.fail("expected WHEN")
        otherwise = self.expr() if self.word("ELSE") else None
        self.expect_word("END")
        return Case(subject, tuple(whens), otherwise)


def _number(text: str) -> Lit:
    """A numeric literal typed as Spark SQL types it."""
    body, suffix = re.match(r"(.*?)(BD|[LSYDF])?$", text, re.I).groups()
    suffix = (suffix or "").upper()
    if suffix in ("D", "F") or (not suffix and "e" in body.lower()):
        return Lit(float(body), "float" if suffix == "F" else "double")
    if suffix == "BD" or (not suffix and "." in body):
        return Lit(Decimal(body), "decimal")
    if "." in body or "e" in body.lower():
        raise SliceExprError(f"{text!r}: an integer suffix on a number with a fraction")
    value = int(body)
    if suffix:
        return Lit(value, {"L": "bigint", "S": "smallint", "Y": "tinyint"}[suffix])
    if value < 2**31:
        return Lit(value, "int")
    return Lit(value, "bigint") if value < 2**63 else Lit(Decimal(value), "decimal")
