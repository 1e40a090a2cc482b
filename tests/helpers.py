"""Shared test helpers: a lake per test and frames to compare."""
from __future__ import annotations

import pandas as pd
from deltalake import DeltaTable

from inferwatch.model_config import load_models


def models():
    return load_models("conf/models")


def delta_frame(path: str, columns: list[str] | None = None) -> pd.DataFrame:
    """What delta-rs (no Spark) reads from a table, sorted for comparison."""
    frame = DeltaTable(path).to_pandas(columns=columns)
    scalar = [c for c in frame.columns
              if frame[c].dtype != object
              or not frame[c].map(lambda v: isinstance(v, list | dict | bytes)
                                  or hasattr(v, "__array__")).any()]
    return frame.sort_values(scalar).reset_index(drop=True)


def context(spark, lake_dir, models_=None, **options):
    """A job context over `lake_dir` with the repository's models (or `models_`)."""
    from inferwatch.config import load_env
    from inferwatch.context import Context

    env = load_env("conf/local.yaml", lake=str(lake_dir))
    return Context(env=env, models=models() if models_ is None else models_, session=spark,
                   **options)


def with_models(ctx, models_):
    """The same context with other models."""
    import dataclasses

    return dataclasses.replace(ctx, models=models_)
