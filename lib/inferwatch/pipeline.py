"""Jobs by name, and the hourly pipeline that runs them all in one Spark session."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pyspark.sql import SparkSession

from inferwatch.config import EnvConfig, ModelConfig, load_env, load_models
from inferwatch.runs import Run
from inferwatch.tables import Lake

log = logging.getLogger(__name__)


@dataclass
class Context:
    """Everything a job needs: config, the lake, the session and the window asked for."""

    env: EnvConfig
    models: dict[str, ModelConfig]
    spark: SparkSession
    lake: Lake
    start: datetime | None = None
    end: datetime | None = None
    model: str | None = None

    def selected_models(self) -> dict[str, ModelConfig]:
        if self.model is None:
            return self.models
        if self.model not in self.models:
            raise ValueError(f"--model {self.model}: no such model in {self.env.models_dir} "
                             f"(known: {', '.join(sorted(self.models)) or 'none'})")
        return {self.model: self.models[self.model]}


def open_context(conf: str | Path = "conf/local.yaml", lake: str | None = None,
                 models_dir: str | Path | None = None, quiet: bool = False,
                 spark: SparkSession | None = None) -> Context:
    """Load config once, start (or join) Spark and open the lake."""
    from inferwatch.session import get_spark

    env = load_env(conf, lake=lake, models_dir=models_dir)
    models = load_models(env.models_dir)
    log.info("config %s: lake=%s models=%s", env.path, env.lake, sorted(models))
    spark = spark or get_spark(env, quiet=quiet)
    return Context(env=env, models=models, spark=spark, lake=Lake(spark, env.lake))


def _partition(ctx: Context) -> Run:
    from inferwatch.partition import run_partition

    return run_partition(ctx.lake, ctx.env)


def _join_labels(ctx: Context) -> Run:
    from inferwatch.join_labels import run_join_labels

    return run_join_labels(ctx.lake)


def _performance(ctx: Context) -> Run:
    from inferwatch.performance import run_performance

    return run_performance(ctx.lake, ctx.selected_models(), ctx.start, ctx.end)


# Pipeline order; later stages register here as they are built.
JOBS: dict[str, Callable[[Context], Run]] = {
    "partition": _partition, "join-labels": _join_labels, "performance": _performance,
}


def run_job(ctx: Context, name: str) -> Run:
    if name not in JOBS:
        raise ValueError(f"unknown job '{name}'; expected one of {', '.join(JOBS)} or hourly")
    t0 = time.monotonic()
    print(f"[{name}] running ...", flush=True)
    run = JOBS[name](ctx)
    extra = f" ({'; '.join(run.notes)})" if run.notes else ""
    print(f"[{name}] done in {time.monotonic() - t0:.1f}s: {run.summary()}{extra}", flush=True)
    return run


def run_hourly(ctx: Context) -> list[Run]:
    """Every job, in pipeline order, each incrementally, in this one session."""
    return [run_job(ctx, name) for name in JOBS]
