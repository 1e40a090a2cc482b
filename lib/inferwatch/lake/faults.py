"""Fault injection: make the lake layer fail right after its Nth commit, as a kill would.

Crash-safety tests run a job with a failure after each of its commits in turn, then run
it again and compare the tables with a clean run. Arm it in-process with
``with fail_after_commit(3): ...`` or, for a whole process (spark-submit, Airflow), with
the environment variable ``INFERWATCH_FAIL_AFTER_COMMIT=3``, read at the first commit.
`InjectedFault` derives from BaseException so that no job's "failures are values"
handler records it as an ordinary error: it stops the process like a kill.
"""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

ENV_VAR = "INFERWATCH_FAIL_AFTER_COMMIT"


class InjectedFault(BaseException):
    """Raised by the lake layer right after the armed commit has landed."""


class _Injector:
    def __init__(self) -> None:
        self.armed_at: int | None = None
        self.commits = 0
        self.tables: Counter[str] = Counter()  # commits per table, for the counting tests
        self.from_env_checked = False

    def after_commit(self, table: str, version: int) -> None:
        if not self.from_env_checked:
            self.from_env_checked = True
            value = os.environ.get(ENV_VAR)
            if value and self.armed_at is None:
                self.armed_at = int(value)
        self.commits += 1
        self.tables[table] += 1
        if self.armed_at is not None and self.commits == self.armed_at:
            self.armed_at = None  # once: what follows (a failed-run record) may commit
            raise InjectedFault(f"injected failure after commit {self.commits} "
                                f"({table} version {version})")


_INJECTOR = _Injector()


def after_commit(table: str, version: int) -> None:
    """Called by the lake layer after every commit it makes."""
    _INJECTOR.after_commit(table, version)


@contextmanager
def fail_after_commit(n: int) -> Iterator[_Injector]:
    """Within the block, fail right after the block's `n`th commit (1-based)."""
    _INJECTOR.from_env_checked = True
    _INJECTOR.commits, _INJECTOR.armed_at = 0, n
    try:
        yield _INJECTOR
    finally:
        _INJECTOR.armed_at = None


@contextmanager
def count_commits() -> Iterator[_Injector]:
    """Count the block's commits (`.commits`; `.tables`: per table), without failing."""
    _INJECTOR.from_env_checked = True
    _INJECTOR.commits, _INJECTOR.armed_at, _INJECTOR.tables = 0, None, Counter()
    yield _INJECTOR
