"""What every command and job gets: config, the range asked for, and the lake and Spark
session, started on first use."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from inferwatch.config import EnvConfig, load_env
from inferwatch.errors import UnknownNameError
from inferwatch.model_config import ModelConfig, load_models

if TYPE_CHECKING:  # pyspark only once a command touches the lake (show, report need none)
    from pyspark.sql import SparkSession

    from inferwatch.lake.tables import Lake

log = logging.getLogger(__name__)


@dataclass
class Context:
    """Everything a job needs. `start`/`end` bound the hours a job recomputes; `model`
    picks one model; `rebuild` recomputes the range whether or not its input changed.

    `spark` and `lake` start on first use, from `env`, so a command that reads the lake
    with delta-rs (or refuses its input) never starts a JVM; `session` is a session given
    instead (tests share one). Copies made with `dataclasses.replace` share what was
    started before the copy."""

    env: EnvConfig
    models: dict[str, ModelConfig]
    start: datetime | None = None
    end: datetime | None = None
    model: str | None = None
    rebuild: bool = False
    quiet: bool = False
    session: SparkSession | None = None
    opened: Lake | None = field(default=None, repr=False)

    @property
    def spark(self) -> SparkSession:
        if self.session is None:
            from inferwatch.session import get_spark

            self.session = get_spark(self.env, quiet=self.quiet)
        return self.session

    @property
    def lake(self) -> Lake:
        if self.opened is None:
            from inferwatch.lake.tables import Lake

            self.opened = Lake(self.spark, self.env.lake, self.env.storage)
        return self.opened

    def selected_models(self) -> dict[str, ModelConfig]:
        if self.model is None:
            return self.models
        if self.model not in self.models:
            raise UnknownNameError("model", self.model, list(self.models),
                                   f"{self.env.models_dir}")
        return {self.model: self.models[self.model]}

    def one_model(self) -> ModelConfig:
        """The model a one-model command (baseline, suggest, tune) is about: `model`."""
        if self.model is None:
            raise ValueError("this command is about one model: build the Context with model=")
        return self.selected_models()[self.model]

    def in_range(self, hour: datetime) -> bool:
        return (self.start is None or hour >= self.start) and (self.end is None or hour < self.end)

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None


def open_context(conf: str | Path = "conf/local.yaml", lake: str | None = None,
                 models_dir: str | Path | None = None, quiet: bool = False,
                 spark: SparkSession | None = None, model: str | None = None,
                 start: datetime | None = None, end: datetime | None = None,
                 rebuild: bool = False, read_models: bool = True) -> Context:
    """Load config once and check the model asked for: a config mistake is reported
    before a JVM starts (Spark starts when a job first touches `ctx.spark` or `ctx.lake`,
    or is `spark` when given). `read_models=False` leaves the model descriptions unread
    (`models` empty) for commands that read only the lake (show, report, check-runs)."""
    env = load_env(conf, lake=lake, models_dir=models_dir)
    models = load_models(env.models_dir) if read_models else {}
    if read_models and model is not None and model not in models:
        raise UnknownNameError("model", model, list(models), str(env.models_dir))
    log.info("config %s: lake=%s models=%s", env.path, env.lake, sorted(models))
    return Context(env=env, models=models, start=start, end=end, model=model,
                   rebuild=rebuild, quiet=quiet, session=spark)
