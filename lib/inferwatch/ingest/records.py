"""Micro-batches of records from a process with Spark at hand (a notebook, a batch job).

A serving process uses `inferwatch.log.InferenceLogger` instead: no Spark, no JVM.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from inferwatch.ingest.batch import ingest_records
from inferwatch.runs import Run


def log_inferences(records: Iterable[Mapping[str, Any]] | Any, conf: str = "conf/local.yaml",
                   lake: str | None = None) -> Run:
    """Log a micro-batch of inferences from a process (starts or joins a Spark session)."""
    return _log("inferences", records, conf, lake)


def log_labels(records: Iterable[Mapping[str, Any]] | Any, conf: str = "conf/local.yaml",
               lake: str | None = None) -> Run:
    """Log a micro-batch of ground-truth labels (`inference_id`, `label`, `label_ts`)."""
    return _log("labels", records, conf, lake)


def _log(kind: str, records, conf: str, lake_root: str | None) -> Run:
    from inferwatch.config import load_env
    from inferwatch.model_config import load_models
    from inferwatch.lake.tables import Lake
    from inferwatch.session import get_spark

    env = load_env(conf, lake=lake_root)
    models = load_models(env.models_dir) if env.models_dir.is_dir() else {}
    return ingest_records(Lake(get_spark(env), env.lake, env.storage), kind, records, models)
