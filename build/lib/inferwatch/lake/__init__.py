"""The lake layer: Delta tables read and written by Spark, logged by delta-rs.

Names are imported on first use, so that Spark-free readers (`inferwatch.read`,
`lake.storage`, `lake.files`) never import pyspark.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"ConcurrentWriteError": "inferwatch.lake.commit", "DataFile": "inferwatch.lake.files",
            "SchemaMismatchError": "inferwatch.lake.schema", "Table": "inferwatch.lake.table"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'inferwatch.lake' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
