"""What every job gets: config, the lake, the Spark session and the range asked for."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pyspark.sql import SparkSession

from inferwatch.config import EnvConfig, load_env
from inferwatch.model_config import ModelConfig, load_models
from inferwatch.errors import UnknownNameError
from inferwatch.lake.tables import Lake

log = logging.getLogger(__name__)


@dataclass
class Context:
    """Everything a job needs. `start`/`end` bound the hours a job recomputes; `model`
    picks one model; `rebuild` recomputes the range whether or not its input changed."""

    env: EnvConfig
    models: dict[str, ModelConfig]
    spark: SparkSession
    lake: Lake
    start: datetime | None = None
    end: datetime | None = None
    model: str | None = None
    rebuild: bool = False

    def selected_models(self) -> dict[str, ModelConfig]:
        if self.model is None:
            return self.models
        if self.model not in self.models:
            raise UnknownNameError("model", self.model, list(self.models),
                                   f"{self.env.models_dir}")
        return {self.model: self.models[self.model]}

    def in_range(self, hour: datetime) -> bool:
        return (self.start is None or hour >= self.start) and (self.end is None or hour < self.end)

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None


def open_context(conf: str | Path = "conf/local.yaml", lake: str | None = None,
                 models_dir: str | Path | None = None, quiet: bool = False,
                 spark: SparkSession | None = None, model: str | None = None) -> Context:
    """Load config once, check the model asked for, then start (or join) Spark and open
    the lake: a config mistake is reported before a JVM starts."""
    from inferwatch.session import get_spark

    env = load_env(conf, lake=lake, models_dir=models_dir)
    models = load_models(env.models_dir)
    if model is not None and model not in models:
        raise UnknownNameError("model", model, list(models), str(env.models_dir))
    log.info("config %s: lake=%s models=%s", env.path, env.lake, sorted(models))
    spark = spark or get_spark(env, quiet=quiet)
    return Context(env=env, models=models, spark=spark, lake=Lake(spark, env.lake, env.storage), model=model)
