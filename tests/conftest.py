"""One Spark session for the whole suite: JVM start-up costs ~10 s."""
from __future__ import annotations

import dataclasses
import functools
import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from inferwatch.config import EnvConfig, SparkSettings

QUALITY_INCIDENTS = ("null_spike", "unit_change", "stale_feature")
# The JVMs the tests start in subprocesses (`inferwatch` commands, spark-submit, Airflow's
# tasks) each run seconds of Spark work: the quick (C1) JIT alone costs them less CPU
# than the tiered one, and two test processes keep both cores busy. C1 alone reserves a
# 48 MB code cache, which one process running every job (`run hourly`, the Connect
# server) filled with Spark's generated classes: "CodeCache is full. Compiler has been
# disabled", and the rest ran interpreted. It gets the tiered JIT's 240 MB. The suite's own
# sessions run for its whole length, for which C2's code pays off: `test_session` leaves
# the option out.
CHILD_JVM_OPTIONS = ("SPARK_SUBMIT_OPTS", "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m")
os.environ.setdefault(*CHILD_JVM_OPTIONS)


def test_session(warehouse: Path):
    """The suite's Spark session (also for `make soak`, outside pytest)."""
    from inferwatch.session import get_spark

    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
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
    options = os.environ.pop(CHILD_JVM_OPTIONS[0], None)
    try:
        return get_spark(env, quiet=True)
    finally:
        if options is not None:
            os.environ[CHILD_JVM_OPTIONS[0]] = options


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    session = test_session(tmp_path_factory.mktemp("warehouse"))
    yield session
    session.stop()


@pytest.fixture()
def lake_dir(tmp_path) -> Path:
    return tmp_path / "lake"


@pytest.fixture(scope="session")
def scenario_lake(spark, tmp_path_factory) -> Path:
    """4 days x ~100 rows/hour of both scenario models through the hourly pipeline, with
    every label ingested; returns the lake root. The quality job (GX: seconds per
    model-hour) runs only on the hour before each data incident's onset, the onset hour and
    the next (a quality alert needs two failing hours); alerts run last."""
    from inferwatch import scenario
    from inferwatch.ingest import ingest_files
    from inferwatch.context import open_context
    from inferwatch.jobs import PIPELINE, run_job

    root = tmp_path_factory.mktemp("scenario")
    files = scenario.write(scenario.generate(seed=11, days=4, rows_per_hour=100), root / "input")
    ctx = open_context("conf/local.yaml", lake=str(root / "lake"),
                       models_dir=root / "input" / "models", spark=spark)
    ingest_files(ctx.lake, "inferences", files["inferences"], ctx.models)
    ingest_files(ctx.lake, "labels", files["labels"], ctx.models)
    for name in PIPELINE:
        if name not in ("quality", "alerts"):
            run_job(ctx, name)
    for onset in quality_onsets(root / "input" / "manifest.json"):
        run_job(dataclasses.replace(ctx, start=onset - timedelta(hours=1),
                                    end=onset + timedelta(hours=2)), "quality")
    run_job(ctx, "alerts")
    return root / "lake"


@pytest.fixture(scope="session")
def seed_lake(spark, tmp_path_factory):
    """`seed_lake(seed)`: that seed's lake (tests/scenarios.py), built once per session
    for every module that reads it; a test that changes it works on `copy_lake`."""
    from tests.scenarios import seed_lakes

    return seed_lakes(spark, tmp_path_factory)


@pytest.fixture(scope="session")
def walkthrough(tmp_path_factory):
    """README's walk-through run once as written (tests/walkthrough.py): (its folder,
    {command: its completed process}), every command exited 0. The README test checks
    what it left, the console test what `inferwatch run hourly` printed."""
    from tests.walkthrough import run

    folder = tmp_path_factory.mktemp("walkthrough")
    return folder, run(folder)


def quality_onsets(manifest: Path) -> list:
    """Onsets (UTC hours) of the scenario's data incidents, which quality must catch."""
    incidents = json.loads(manifest.read_text())["incidents"]
    return sorted({datetime.fromisoformat(i["onset"].replace("Z", "+00:00"))
                   for i in incidents if i["kind"] in QUALITY_INCIDENTS})


# `make test` runs on two pytest-xdist workers (pyproject's addopts), each with its own
# Spark session: most of a test's time is single-threaded driver work, so two processes
# keep both cores busy. Work is handed out a module at a time (its module-scoped fixtures
# are built once), and every module that reads a lake built once per session goes to the
# same worker, so each such lake is still built once.
SHARED_LAKES = {"scenario_lake": "lakes", "seed_lake": "lakes", "walkthrough": "walkthrough",
                "local_reference": "remote spark"}


@pytest.hookimpl(optionalhook=True)  # `-p no:xdist` runs the suite in one process
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    root = Path(str(config.rootpath))

    class SharedLakes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(root, nodeid.split("::")[0])

    return SharedLakes(config, log)


@functools.cache
def _work_unit(root: Path, module: str) -> str:
    """The group of the modules that read a shared lake (by the fixture names their text
    uses; the notebooks' `lake` is scenario_lake), else the module itself."""
    if module.startswith("tests/notebooks/"):
        return "lakes"
    path = root / module
    text = path.read_text() if path.is_file() else ""
    return next((group for name, group in SHARED_LAKES.items() if name in text), module)
