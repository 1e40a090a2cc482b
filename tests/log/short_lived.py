"""A short-lived serving process for the logger tests:
`python -m tests.log.short_lived LAKE SPILL NAME ROWS HOW`. It logs ROWS inferences (ids
NAME-i) with pyspark blocked, as `tests.log.producer` does, and then, by HOW:

- `close`: closes its logger and exits;
- `exit`: exits without closing it (the logger's exit hook must flush);
- `die`: flushes, prints its logger's counters as one JSON line and is killed (SIGKILL:
  no exit hook, no clean-up);
- `wait`: flushes, prints the counters, waits for a line on stdin and exits without
  closing its logger.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime, timedelta, timezone

from tests.log.producer import _Refuse

T0 = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)


def main(lake: str, spill: str, name: str, rows: int, how: str) -> None:
    sys.meta_path.insert(0, _Refuse())
    from inferwatch.log import InferenceLogger, flusher

    flusher.ADOPT_SECONDS = 3600.0  # folders are taken at the start only: the tests say when

    logger = InferenceLogger(lake, model_id="fraud", models_dir="conf/models", spill_dir=spill)
    for i in range(rows):
        logger.log(f"{name}-{i}", ts=T0 + timedelta(seconds=i), prediction=(i % 100) / 100,
                   features={"amount": float(i), "country": "DE"})
    if how == "close":  # the rows are committed by close() (or at exit, by the hook)
        logger.close()
    elif how in ("die", "wait"):
        logger.flush()
        print(json.dumps(logger.stats()), flush=True)
        if how == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        sys.stdin.readline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
