"""`InferenceLogger`: buffer in memory, commit from a background thread, never raise.

`log()` only appends a dict to a list under a lock (microseconds); a background thread
flushes every `flush_seconds` or `flush_rows` rows as one Delta commit per table. Bounded:
at most `max_buffer_rows` rows wait in memory (more are dropped and counted), at most
`max_spill_bytes` on disk while the lake is unreachable. Counters (`stats()`): logged,
flushed, quarantined, spilled, dropped, commits, errors.
"""
from __future__ import annotations

import atexit
import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from inferwatch.ingest.contract import records as as_records
from inferwatch.ingest.contract import text_rows
from inferwatch.log.spill import Spill
from inferwatch.log.writer import LakeWriter

log = logging.getLogger(__name__)
COUNTERS = ("logged", "flushed", "quarantined", "spilled", "dropped", "commits", "errors")


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
        self._done = threading.Condition()
        self._wake = threading.Event()
        self._requested = self._completed = 0
        self._seq = 0
        self._closed = False
        self.last_error: str | None = None
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._thread = threading.Thread(target=self._run, name="inferwatch-logger", daemon=True)
        self._thread.start()
        atexit.register(self.close)

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
            self._counts["errors"] += 1

    def log_batch(self, records: Any) -> None:
        """Buffer many inferences: dicts (a `features` mapping is flattened), a pandas
        DataFrame (NaN = missing, as `inferwatch ingest` reads records) or an Arrow table."""
        try:
            self._put("inferences", [self._flat(r) for r in as_records(records)])
        except Exception:  # noqa: BLE001
            self._counts["errors"] += 1

    def log_label(self, inference_id: Any, label: Any, *, label_ts: Any = None,
                  model_id: Any = None, inference_ts: Any = None) -> None:
        """Buffer one ground-truth label (`label_ts` defaults to now)."""
        try:
            self._put("labels", [{
                "inference_id": inference_id, "label": label,
                "label_ts": label_ts if label_ts is not None else datetime.now(timezone.utc),
                "model_id": model_id or self.model_id, "inference_ts": inference_ts}])
        except Exception:  # noqa: BLE001
            self._counts["errors"] += 1

    def flush(self, timeout: float | None = 60.0) -> bool:
        """Hand every buffered row to the lake (or the spill); True when nothing waits on
        disk for the lake afterwards."""
        with self._done:
            self._requested += 1
            target = self._requested
        self._wake.set()
        with self._done:
            self._done.wait_for(lambda: self._completed >= target or not self._thread.is_alive(),
                                timeout)
        return not self._spill.pending()

    def close(self, timeout: float | None = 60.0) -> None:
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        self._writer.close()
        self._spill.close()
        atexit.unregister(self.close)

    def stats(self) -> dict[str, int]:
        with self._lock:
            buffered = sum(len(b) for b in self._buffers.values())
        return {**self._counts, "buffered": buffered,
                "spill_pending": len(self._spill.pending())}

    def __enter__(self) -> InferenceLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _put(self, kind: str, rows: list[dict]) -> None:
        with self._lock:
            buffer = self._buffers[kind]
            room = 0 if self._closed else max(self.max_buffer_rows - len(buffer), 0)
            buffer.extend(rows[:room])
            self._counts["logged"] += min(room, len(rows))
            self._counts["dropped"] += max(len(rows) - room, 0)
            full = len(buffer) >= self.flush_rows
        if full:
            self._wake.set()

    def _flat(self, record: Mapping[str, Any]) -> dict:
        row = dict(record)
        features = row.pop("features", None)
        if isinstance(features, Mapping):
            row = {**features, **row}
        row.setdefault("model_id", self.model_id)
        return row

    # -- the background thread ----------------------------------------------------------
    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            with self._done:
                target = self._requested
            try:
                self._pass()
            except Exception as exc:  # noqa: BLE001 - keep the thread alive
                self._counts["errors"] += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("inferwatch logger: %s", self.last_error)
            with self._done:
                self._completed = target
                self._done.notify_all()
            if self._closed:
                return

    def _pass(self) -> None:
        with self._lock:
            taken = {k: b for k, b in self._buffers.items() if b}
            self._buffers = {k: ([] if k in taken else b) for k, b in self._buffers.items()}
        for kind, rows in taken.items():
            self._seq += 1
            if self._spill.pending() or not self._commit(kind, rows, self._seq, None):
                if self._spill.put(kind, self._seq, text_rows(rows)):
                    self._counts["spilled"] += len(rows)
                else:
                    self._counts["dropped"] += len(rows)
        self._drain()

    def _drain(self) -> None:
        for file, app, kind, seq in self._spill.pending():
            if not self._commit(kind, Spill.load(file), seq, app):
                return  # the lake is still away: the rest waits, in order
            self._spill.done(file)

    def _commit(self, kind: str, rows: list[dict], seq: int, app: str | None) -> bool:
        try:
            flushed, quarantined = self._writer.commit(kind, rows, seq, app)
        except Exception as exc:  # noqa: BLE001 - storage trouble: spill and retry
            self._counts["errors"] += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("inferwatch logger: commit failed, rows kept: %s", self.last_error)
            time.sleep(0)  # yield to the serving threads
            return False
        self._counts["flushed"] += flushed
        self._counts["quarantined"] += quarantined
        self._counts["commits"] += 1
        return True


def _models(models_dir: str | Path | None) -> dict:
    """The model descriptions (to type numeric features as the batch path does)."""
    from inferwatch.model_config import load_models

    folder = models_dir or os.environ.get("INFERWATCH_MODELS") or "conf/models"
    return load_models(folder) if Path(folder).is_dir() else {}
