"""Ingest: files or in-process records into `raw/inferences` and `raw/labels`.

    >>> ingest_files(lake, "inferences", ["logs/2026-03-02.parquet"], models)
    >>> log_inferences([{"inference_id": "a1", "model_id": "fraud", "ts": now,
    ...                  "prediction": 0.7}])
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from inferwatch.ingest.batch import KINDS, ingest_files, ingest_records
from inferwatch.ingest.sources import IngestError, read_source
from inferwatch.jobs.runs import Run

__all__ = ["KINDS", "IngestError", "ingest_files", "ingest_records", "log_inferences",
           "log_labels", "read_source"]


def log_inferences(records: Iterable[Mapping[str, Any]] | Any, conf: str = "conf/local.yaml",
                   lake: str | None = None) -> Run:
    """Log a micro-batch of inferences from a process (starts or joins a Spark session)."""
    return _log("inferences", records, conf, lake)


def log_labels(records: Iterable[Mapping[str, Any]] | Any, conf: str = "conf/local.yaml",
               lake: str | None = None) -> Run:
    """Log a micro-batch of ground-truth labels (`inference_id`, `label`, `label_ts`)."""
    return _log("labels", records, conf, lake)


def _log(kind: str, records, conf: str, lake_root: str | None) -> Run:
    from inferwatch.config import load_env, load_models
    from inferwatch.lake.tables import Lake
    from inferwatch.session import get_spark

    env = load_env(conf, lake=lake_root)
    models = load_models(env.models_dir) if env.models_dir.is_dir() else {}
    return ingest_records(Lake(get_spark(env), env.lake, env.storage), kind, records, models)
