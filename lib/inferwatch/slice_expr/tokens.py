"""The tokenizer of slice expressions: names, backticked names, numbers, strings, operators.

Strings and backticked names are read as Spark's lexer reads them (backslash escapes, a
doubled quote is one quote), so a value means what it would mean in Spark SQL; any
character that is none of these (`;`, `{`, `->`, comments...) is an error.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from inferwatch.slice_expr.nodes import SliceExprError


@dataclass(frozen=True)
class Token:
    kind: str  # "name", "quoted" (backticks), "number", "string", "op", "end"
    text: str  # as written; for "string" and "quoted", the decoded value
    at: int    # 1-based character position, for messages


_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?(BD|[LSYDF])?(?![A-Za-z0-9_])", re.I)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = re.compile(r"\s+")
_OPS = ("<=>", "==", "<=", ">=", "<>", "!=", "||", "=", "<", ">", "+", "-", "*", "/", "%",
        "(", ")", ",", ".")
_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a",
            "%": "\\%", "_": "\\_"}  # as Spark's unescapeSQLString; any other \c is c


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`, ending with an "end" token."""
    tokens, i = [], 0
    while i < len(text):
        if space := _SPACE.match(text, i):
            i = space.end()
        elif text[i] in "'\"`":
            token, i = _quoted(text, i)
            tokens.append(token)
        elif number := _NUMBER.match(text, i):
            tokens.append(Token("number", number.group(), i + 1))
            i = number.end()
        elif name := _NAME.match(text, i):
            tokens.append(Token("name", name.group(), i + 1))
            i = name.end()
        else:
            op = next((o for o in _OPS if text.startswith(o, i)), None)
            if op is None:
                raise SliceExprError(f"unexpected character {text[i]!r} at character {i + 1}")
            tokens.append(Token("op", op, i + 1))
            i += len(op)
    return [*tokens, Token("end", "", len(text) + 1)]


def _quoted(text: str, start: int) -> tuple[Token, int]:
    """A string ('...' or "...") or a backticked name (no escapes but ``)."""
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        c = text[i]
        if c == quote and text.startswith(quote * 2, i):
            out.append(quote)
            i += 2
        elif c == quote:
            kind = "quoted" if quote == "`" else "string"
            return Token(kind, "".join(out), start + 1), i + 1
        elif c == "\\" and quote != "`" and i + 1 < len(text):
            char, i = _escape(text, i)
            out.append(char)
        else:
            out.append(c)
            i += 1
    raise SliceExprError(f"unterminated {quote} from character {start + 1}")


def _escape(text: str, i: int) -> tuple[str, int]:
    """The character a backslash escape at `i` stands for, and where the text goes on."""
    code = text[i + 1]
    if code == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2:i + 6]):
        return chr(int(text[i + 2:i + 6], 16)), i + 6
    if re.fullmatch(r"[01][0-7]{2}", text[i + 1:i + 4]):
        return chr(int(text[i + 1:i + 4], 8)), i + 4
    return _ESCAPES.get(code, code), i + 2
