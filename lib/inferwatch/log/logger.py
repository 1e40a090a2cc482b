"""`InferenceLogger`: buffer in memory, commit from a background thread, never raise.

`log()` only appends a dict to a list under a lock (microseconds); a background thread
(`log.flusher`) flushes every `flush_seconds` or `flush_rows` rows as one Delta commit per
table. Bounded: at most `max_buffer_rows` rows wait in memory, at most `max_spill_bytes`
on disk while the lake is unreachable. Counters (`stats()`): logged, flushed, quarantined,
spilled, dropped, commits, errors. A row is dropped, counted and its reason kept
(`dropped_reasons()`) when one of its column names is one no raw table may hold
(`ingest.contract.unsafe_names`, which `inferwatch ingest` refuses alike), when the buffer
is full, when the logger is closed, or when its flush neither commits nor fits on disk.

`close()`, or at interpreter exit the hook registered at the start, stops the thread and
flushes what is left in the calling thread; a logger made while Python finalizes starts
no thread and registers nothing (its `flush()` and `close()` do the work).
"""
from __future__ import annotations

import atexit
import logging
import os
import socket
import sys
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from inferwatch.ingest.contract import records as as_records
from inferwatch.ingest.contract import unsafe_names, unsafe_names_refused
from inferwatch.log.counts import COUNTERS, Counts
from inferwatch.log.flusher import Flusher
from inferwatch.log.spill import Spill
from inferwatch.log.writer import LakeWriter

__all__ = ["COUNTERS", "InferenceLogger"]
log = logging.getLogger(__name__)
BUFFER_FULL = "the buffer is full (max_buffer_rows)"
CLOSED = "the logger is closed"


class InferenceLogger:
    """Log inferences and labels from a serving process to a lake, with no Spark.

        with InferenceLogger("lake", model_id="fraud") as logger:
            logger.log(inference_id="a1", features={"amount": 12.5}, prediction=0.93)
    """

    def __init__(self, lake: str, model_id: str | None = None, *,
                 models_dir: str | Path | None = None, flush_rows: int = 5_000,
                 flush_seconds: float = 5.0, max_buffer_rows: int = 500_000,
                 spill_dir: str | Path | None = None, max_spill_bytes: int = 512 << 20,
                 storage: Any = None):
        if flush_rows < 1 or flush_seconds <= 0 or max_buffer_rows < flush_rows:
            raise ValueError("expected flush_rows >= 1, flush_seconds > 0 and "
                             f"max_buffer_rows >= flush_rows; got {flush_rows}, "
                             f"{flush_seconds}, {max_buffer_rows}")
        self.model_id = model_id
        self.app_id = f"inferwatch-logger-{uuid.uuid4().hex}"
        self.flush_rows, self.flush_seconds = flush_rows, flush_seconds
        self.max_buffer_rows = max_buffer_rows
        source = f"logger:{socket.gethostname()}:{os.getpid()}"
        self._writer = LakeWriter(str(lake), _models(models_dir), self.app_id, source, storage)
        spill_root = Path(spill_dir or Path(tempfile.gettempdir()) / "inferwatch-spill")
        self._spill = Spill(spill_root, self.app_id, max_spill_bytes)
        self._spill.adopt_orphans()
        self._buffers: dict[str, list[dict]] = {"inferences": [], "labels": []}
        self._lock = threading.Lock()
        self._closed = False
        self._counts = Counts()
        self._flusher = Flusher(self._writer, self._spill, self._counts, self._take,
                                flush_seconds)
        self._hooked = not sys.is_finalizing()  # no thread nor exit hook can start then
        if self._hooked:
            self._flusher.start()
            atexit.register(self.close)

    @property
    def last_error(self) -> str | None:
        """The last storage error, as `Type: message`."""
        return self._flusher.last_error

    # -- the serving side: never raises for data or storage problems --------------------
    def log(self, inference_id: Any, *, ts: Any = None, features: Mapping[str, Any] | None = None,
            prediction: Any = None, model_version: Any = None, model_id: Any = None,
            prediction_label: Any = None) -> None:
        """Buffer one inference (`ts` defaults to now, `model_id` to the logger's)."""
        try:
            row = dict(features) if features else {}
            row.update(inference_id=inference_id, model_id=model_id or self.model_id,
                       ts=ts if ts is not None else datetime.now(timezone.utc),
                       prediction=prediction, model_version=model_version,
                       prediction_label=prediction_label)
            self._put("inferences", [row])
        except Exception:  # noqa: BLE001 - a serving process must never see our errors
            self._counts.add(errors=1)

    def log_batch(self, records: Any) -> None:
        """Buffer many inferences: dicts (a `features` mapping is flattened), a pandas
        DataFrame (NaN = missing, as `inferwatch ingest` reads records) or an Arrow table."""
        try:
            self._put("inferences", [self._flat(r) for r in as_records(records)])
        except Exception:  # noqa: BLE001
            self._counts.add(errors=1)

    def log_label(self, inference_id: Any, label: Any, *, label_ts: Any = None,
                  model_id: Any = None, inference_ts: Any = None) -> None:
        """Buffer one ground-truth label (`label_ts` defaults to now)."""
        try:
            self._put("labels", [{
                "inference_id": inference_id, "label": label,
                "label_ts": label_ts if label_ts is not None else datetime.now(timezone.utc),
                "model_id": model_id or self.model_id, "inference_ts": inference_ts}])
        except Exception:  # noqa: BLE001
            self._counts.add(errors=1)

    def flush(self, timeout: float | None = 60.0) -> bool:
        """Hand every buffered row to the lake (or the spill); True when nothing waits on
        disk for the lake afterwards."""
        if not self._closed:
            self._flusher.flush(timeout)
        return not self._spill.pending()

    def close(self, timeout: float | None = 60.0) -> None:
        """Commit (or spill, for the next logger) what is buffered and stop; rows logged
        afterwards are dropped and counted. Called at interpreter exit if not before."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._flusher.stop(timeout)
        self._writer.close()
        kept = self._spill.close()
        if kept:
            log.warning("inferwatch logger: %d flushes wait in %s for the next logger",
                        kept, self._spill.root)
        if self._hooked:
            atexit.unregister(self.close)

    def stats(self) -> dict[str, int]:
        with self._lock:
            buffered = sum(len(b) for b in self._buffers.values())
        return {**self._counts.counts(), "buffered": buffered,
                "spill_pending": len(self._spill.pending())}

    def dropped_reasons(self) -> dict[str, int]:
        """Why rows were dropped: reason -> rows (they add up to `stats()["dropped"]`)."""
        return self._counts.reasons()

    def __enter__(self) -> InferenceLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _put(self, kind: str, rows: list[dict]) -> None:
        fit = [row for row in rows if not unsafe_names(row)]
        with self._lock:
            buffer = self._buffers[kind]
            room = 0 if self._closed else max(self.max_buffer_rows - len(buffer), 0)
            buffer.extend(fit[:room])
            logged, beyond = min(room, len(fit)), max(len(fit) - room, 0)
            why = CLOSED if self._closed else BUFFER_FULL
            full = len(buffer) >= self.flush_rows
        self._counts.add(logged=logged)
        if len(fit) < len(rows):
            self._counts.drop(Counter(unsafe_names_refused(unsafe_names(row)) for row in rows
                                      if unsafe_names(row)))
        if beyond:
            self._counts.drop({why: beyond})
        if full:
            self._flusher.wake()

    def _take(self) -> dict[str, list[dict]]:
        """Every buffered row, by kind (kinds with none left out), out of the buffers."""
        with self._lock:
            taken = {k: b for k, b in self._buffers.items() if b}
            self._buffers = {k: ([] if k in taken else b) for k, b in self._buffers.items()}
        return taken

    def _flat(self, record: Mapping[str, Any]) -> dict:
        row = dict(record)
        features = row.pop("features", None)
        if isinstance(features, Mapping):
            row = {**features, **row}
        row.setdefault("model_id", self.model_id)
        return row


def _models(models_dir: str | Path | None) -> dict:
    """The model descriptions (to type numeric features as the batch path does)."""
    from inferwatch.model_config import load_models

    folder = models_dir or os.environ.get("INFERWATCH_MODELS") or "conf/models"
    return load_models(folder) if Path(folder).is_dir() else {}
