"""The serving-side logger's counters, and why it dropped rows: one lock, any thread."""
from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping

log = logging.getLogger(__name__)
COUNTERS = ("logged", "flushed", "quarantined", "spilled", "dropped", "commits", "errors")
OTHER = "other reasons"  # once MAX_REASONS distinct reasons are kept
MAX_REASONS = 100  # reasons name producers' columns: they must not grow without bound


class Counts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._why: Counter[str] = Counter()

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                self._counts[name] += n

    def drop(self, why: Mapping[str, int]) -> None:
        """Count dropped rows by reason (reason -> rows); a reason is logged the first
        time only, so a serving process's log does not flood."""
        new = []
        with self._lock:
            for reason, rows in why.items():
                if reason not in self._why and len(self._why) >= MAX_REASONS:
                    reason = OTHER
                if reason not in self._why:
                    new.append(reason)
                self._why[reason] += rows
                self._counts["dropped"] += rows
        for reason in new:
            log.warning("inferwatch logger: rows dropped: %s", reason)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reasons(self) -> dict[str, int]:
        with self._lock:
            return dict(self._why)
