"""Frames computed once and read several times.

`materialized(frame)` computes a frame now and hands back one whose plan is a leaf over
the stored rows (`localCheckpoint`), where `persist()` would keep the whole plan that
built them. A metric state's plan is large (a profile's: hundreds of aggregates, slices
exploded, categories capped: its plan string is 600 kB), and every query over a
persisted frame carries that plan: Spark plans each of them again and looks every
fragment up among the cached plans. On the demo, the baseline's calibration read its
cached hourly states in 14-16 s and the same states as a leaf in 3.5-5 s; profile and drift
ran 25.9 s and 41.5 s, then 15.2 s and 21.1 s.

The rows are kept by the block manager (memory, then disk) until `release(frame)`
(`unpersist()` does nothing to such a frame), or else until the frame is garbage
collected (Spark's context cleaner; over Spark Connect, the server's).
"""
from __future__ import annotations

import re

from pyspark.sql import DataFrame


def materialized(frame: DataFrame) -> DataFrame:
    """`frame` computed now (its errors raised here, with nothing left stored), as a
    frame over its stored rows."""
    before = _stored(frame)
    try:
        return frame.localCheckpoint(eager=True)
    except Exception:
        if before is not None:  # the checkpoint's RDD stays registered when its job fails
            stored = frame.sparkSession.sparkContext._jsc.getPersistentRDDs()
            for rdd_id in _stored(frame) - before:
                stored.get(rdd_id).unpersist(False)
        raise


def release(frame: DataFrame) -> None:
    """Drop the stored rows of a `materialized` (or persisted) frame now."""
    frame.unpersist()
    jdf = getattr(frame, "_jdf", None)  # classic Spark; Connect frees them on collection
    if jdf is None:
        return
    plan = jdf.queryExecution().logical()
    if plan.getClass().getSimpleName() == "LogicalRDD":
        plan.rdd().unpersist(False)


def _stored(frame: DataFrame) -> set[int] | None:
    """The ids of the session's persisted RDDs (classic Spark), else None. Read as the
    key set's text: iterating a Java set from Python costs two JVM round trips a key, and
    a long session (the test suite) holds hundreds."""
    if getattr(frame, "_jdf", None) is None:
        return None
    keys = frame.sparkSession.sparkContext._jsc.getPersistentRDDs().keySet().toString()
    return {int(k) for k in re.findall(r"\d+", keys)}

