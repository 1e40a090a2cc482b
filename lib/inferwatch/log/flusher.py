"""The serving-side logger's other half: buffered rows to the lake, or to disk meanwhile.

A background thread passes every `flush_seconds`, or when woken: each kind's buffered
rows become one flush with the next sequence number, committed (or spilled while an
earlier flush waits on disk, so flushes commit in order); then the spilled flushes are
delivered, oldest first, and every `ADOPT_SECONDS` the folders of loggers that died since
are taken. `stop()` ends the thread after the pass it may be in and makes the last pass
itself, in the calling thread (at interpreter exit, the exit hook's): no second thread is
ever in delta-rs beside the first, and none is left in it when Python exits (unless a
commit outlasts `close()`'s timeout; what is buffered then is spilled, not committed).
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable

from inferwatch.ingest.contract import text_rows
from inferwatch.log.counts import Counts
from inferwatch.log.spill import Spill
from inferwatch.log.writer import LakeWriter

log = logging.getLogger(__name__)
NOT_KEPT = "not committed, and the spill folder is full (max_spill_bytes) or unwritable"
ADOPT_SECONDS = 60.0


class Flusher:
    def __init__(self, writer: LakeWriter, spill: Spill, counts: Counts,
                 take: Callable[[], dict[str, list[dict]]], flush_seconds: float):
        self._writer, self._spill, self._counts = writer, spill, counts
        self._take = take  # every buffered row, by kind, out of the buffers
        self.flush_seconds = flush_seconds
        self._done = threading.Condition()
        self._wake = threading.Event()
        self._requested = self._completed = 0
        self._seqs = itertools.count(1)
        self._stopping = self._stopped = False
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="inferwatch-logger",
                                        daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def flush(self, timeout: float | None) -> None:
        """Wait for a pass begun after this call (made here when there is no thread)."""
        if self._thread is None:
            self._pass()
            return
        with self._done:
            self._requested += 1
            target = self._requested
        self._wake.set()
        with self._done:
            self._done.wait_for(lambda: self._completed >= target or self._stopped, timeout)

    def stop(self, timeout: float | None) -> None:
        """End the thread, then pass a last time here; if the thread is still in a commit
        after `timeout`, what is buffered is spilled rather than committed beside it."""
        if self._thread is not None:
            self._stopping = True
            self._wake.set()
            self._thread.join(timeout)
        if self._thread is None or not self._thread.is_alive():
            self._pass()
            return
        taken = self._take()
        for kind, rows in taken.items():
            self._keep(kind, next(self._seqs), rows)
        log.warning("inferwatch logger: a commit was still running after %ss; %d rows kept "
                    "on disk", timeout, sum(len(r) for r in taken.values()))

    def _run(self) -> None:
        adopt_at = time.monotonic() + ADOPT_SECONDS
        while True:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            if self._stopping:
                break
            with self._done:
                target = self._requested
            try:
                self._pass()
                if time.monotonic() >= adopt_at:
                    self._spill.adopt_orphans()
                    adopt_at = time.monotonic() + ADOPT_SECONDS
            except Exception as exc:  # noqa: BLE001 - keep the thread alive
                self._counts.add(errors=1)
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("inferwatch logger: %s", self.last_error)
            with self._done:
                self._completed = target
                self._done.notify_all()
        with self._done:
            self._stopped = True
            self._done.notify_all()

    def _pass(self) -> None:
        for kind, rows in self._take().items():
            seq = next(self._seqs)
            if self._spill.pending():  # an earlier flush waits on disk: this one after it
                self._keep(kind, seq, rows)
            elif not self._commit(kind, rows, seq, None):
                log.warning("inferwatch logger: a commit of %d rows raised %s; %s",
                            len(rows), self.last_error,
                            "they are kept on disk and retried"
                            if self._keep(kind, seq, rows) else "they are dropped")
        self._drain()

    def _keep(self, kind: str, seq: int, rows: list[dict]) -> bool:
        """Spill one flush; False when it is dropped instead."""
        if self._spill.put(kind, seq, text_rows(rows)):
            self._counts.add(spilled=len(rows))
            return True
        self._counts.drop({NOT_KEPT: len(rows)})
        return False

    def _drain(self) -> None:
        for file, app, kind, seq in self._spill.pending():
            if not self._commit(kind, Spill.load(file), seq, app):
                log.warning("inferwatch logger: delivering spilled rows raised %s; they "
                            "stay on disk", self.last_error)
                return  # the lake is still away: the rest waits, in order
            self._spill.done(file)

    def _commit(self, kind: str, rows: list[dict], seq: int, app: str | None) -> bool:
        try:
            flushed, quarantined = self._writer.commit(kind, rows, seq, app)
        except Exception as exc:  # noqa: BLE001 - storage trouble: spill and retry
            self._counts.add(errors=1)
            self.last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0)  # yield to the serving threads
            return False
        self._counts.add(flushed=flushed, quarantined=quarantined, commits=1)
        return True
