"""Ingest: files or in-process records into `raw/inferences` and `raw/labels`.

    >>> ingest_files(lake, "inferences", ["logs/2026-03-02.parquet"], models)
    >>> log_inferences([{"inference_id": "a1", "model_id": "fraud", "ts": now,
    ...                  "prediction": 0.7}])

Names are imported on first use, so that the Spark-free rules (`ingest.contract`,
`ingest.check`) used by the serving-side logger (`inferwatch.log`) never import pyspark.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"KINDS": "inferwatch.ingest.contract", "IngestError": "inferwatch.ingest.sources",
            "ingest_files": "inferwatch.ingest.batch", "ingest_records": "inferwatch.ingest.batch",
            "read_source": "inferwatch.ingest.sources",
            "log_inferences": "inferwatch.ingest.records", "log_labels": "inferwatch.ingest.records"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'inferwatch.ingest' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
