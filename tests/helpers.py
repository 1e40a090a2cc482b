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


def three_inferences_lake(spark, tmp_path, fraud: dict, features: dict | None = None):
    """(lake, models folder) under `tmp_path`: the repository's models with `fraud` set in
    fraud.yaml, and three inferences (two of fraud, one of eta) of three hours ago, with
    the feature columns `features` (name -> three values), ingested."""
    import shutil
    from datetime import datetime, timedelta, timezone

    import yaml

    from inferwatch.ingest import ingest_files

    models_dir = tmp_path / "models"
    shutil.copytree("conf/models", models_dir)
    spec = yaml.safe_load((models_dir / "fraud.yaml").read_text())
    (models_dir / "fraud.yaml").write_text(yaml.safe_dump({**spec, **fraud}, sort_keys=False))
    lake = tmp_path / "lake"
    hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    source = tmp_path / "inferences.csv"
    pd.DataFrame({"inference_id": ["a1", "a2", "a3"], "model_id": ["fraud", "fraud", "eta"],
                  "ts": [(hour - timedelta(hours=3, minutes=-m)).isoformat()
                         for m in (5, 10, 15)],
                  "prediction": [0.9, 0.1, 12.5], **(features or {})}).to_csv(source, index=False)
    ctx = context(spark, lake, load_models(str(models_dir)))
    ingest_files(ctx.lake, "inferences", [str(source)], ctx.models)
    return lake, models_dir


def spark_jobs(spark, group: str, run):
    """(what `run()` returns, the number of Spark jobs it ran), counted by job group."""
    spark.sparkContext.setJobGroup(group, group)
    try:
        out = run()
    finally:
        spark.sparkContext.setJobGroup("", "")
    return out, len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))
