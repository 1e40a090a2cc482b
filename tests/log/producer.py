"""A serving process for the logger tests: `python -m tests.log.producer LAKE NAME ROWS
THREADS SPILL`. Each thread logs ROWS inferences (ids NAME-thread-i, in two hours) over
about 15 s, and a label for every tenth; the process cannot import pyspark, py4j or GX, as if they were not
installed (so it has no JVM), and prints its logger's counters as JSON."""
from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

BLOCKED = ("pyspark", "py4j", "great_expectations")
PACE_SECONDS = 15.0
T0 = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)


class _Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None


def main(lake: str, name: str, rows: int, threads: int, spill: str) -> None:
    sys.meta_path.insert(0, _Refuse())
    from inferwatch.log import InferenceLogger

    logger = InferenceLogger(lake, model_id="fraud", models_dir="conf/models", spill_dir=spill,
                             flush_rows=300, flush_seconds=0.2)

    def serve(thread: int) -> None:
        for i in range(rows):
            ident = f"{name}-{thread}-{i}"
            ts = T0 + timedelta(seconds=(i * 7200) // rows)
            logger.log(ident, ts=ts, prediction=(i % 100) / 100,
                       features={"amount": float(i % 500), "country": "DE"}, model_version="v1")
            if i % 10 == 0:
                logger.log_label(ident, i % 2, label_ts=ts + timedelta(hours=1))
            time.sleep(PACE_SECONDS / rows)

    workers = [threading.Thread(target=serve, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    logger.close()
    print(json.dumps({**logger.stats(), "pyspark": any(m.split(".")[0] in BLOCKED
                                                       for m in sys.modules)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
