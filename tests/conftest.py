"""One Spark session for the whole suite: JVM start-up costs ~10 s."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from inferwatch.config import EnvConfig, SparkSettings


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from inferwatch.session import get_spark

    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    warehouse = tmp_path_factory.mktemp("warehouse")
    env = EnvConfig(
        path=Path("tests"),
        lake=str(warehouse / "lake"),
        models_dir=Path("conf/models"),
        spark=SparkSettings(
            master="local[2]",
            app_name="inferwatch-tests",
            shuffle_partitions=4,
            conf={
                "spark.sql.warehouse.dir": str(warehouse),
                "spark.driver.memory": "2g",
                "spark.sql.adaptive.coalescePartitions.enabled": "true",
            },
        ),
    )
    session = get_spark(env, quiet=True)
    yield session
    session.stop()


@pytest.fixture()
def lake_dir(tmp_path) -> Path:
    return tmp_path / "lake"


@pytest.fixture(scope="session")
def scenario_lake(spark, tmp_path_factory) -> Path:
    """4 days x ~100 rows/hour of both scenario models through the hourly pipeline, with
    every label ingested; returns the lake root."""
    from inferwatch import scenario
    from inferwatch.ingest import ingest_files
    from inferwatch.context import open_context
    from inferwatch.jobs.hourly import run as run_hourly

    root = tmp_path_factory.mktemp("scenario")
    files = scenario.write(scenario.generate(seed=11, days=4, rows_per_hour=100), root / "input")
    ctx = open_context("conf/local.yaml", lake=str(root / "lake"),
                       models_dir=root / "input" / "models", spark=spark)
    ingest_files(ctx.lake, "inferences", files["inferences"], ctx.models)
    ingest_files(ctx.lake, "labels", files["labels"], ctx.models)
    run_hourly(ctx)
    return root / "lake"
