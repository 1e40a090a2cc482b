"""User mistakes: errors that the CLI and the spark-submit entry points print as one line.

Anything raised as a `UserError` (a bad config, an unknown model, job or table, an input
path that is missing or unreadable) ends a command with its message and exit code 2,
never a traceback. Every other exception is a bug and keeps its traceback.
"""
from __future__ import annotations


class UserError(ValueError):
    """Something the user typed or configured is wrong; the message says what was expected."""


class UnknownNameError(UserError):
    """A model, job or table name that does not exist."""

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...], where: str = ""):
        self.kind, self.name = kind, name
        place = f" in {where}" if where else ""
        super().__init__(f"unknown {kind} '{name}'{place}; expected one of: "
                         f"{', '.join(sorted(known)) or 'none'}")


def one_line(message: str) -> str:
    """A message as one line: its non-blank lines, stripped, joined by spaces (a YAML
    parser's message, for one, spans several lines with a caret under the column)."""
    return " ".join(line.strip() for line in str(message).splitlines() if line.strip())
