"""The input the remote-Spark tests share, and its local-mode run to compare with: the
scenario small enough that no sketch compacts (about 150 rows a model: a KLL sketch
holds its first 200 values exactly), so sketches compare without a tolerance."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SEED, DAYS, PER_HOUR = 11, 2, 3
# every run of it, local or remote: a shuffle partition a core of the two here (the
# tasks of ~300 rows cost their scheduling, not their rows)
SHUFFLE_PARTITIONS = 2


README_CONF = "inferwatch.yaml"  # the environment file README's remote lines name


@pytest.fixture()
def remote_lake(cluster_input, tmp_path) -> tuple[Path, Path]:
    """(a copy of the ingested lake for a remote run, the environment file naming it,
    at `tmp_path / README_CONF`)."""
    lake, models = cluster_input
    target = tmp_path / "lake"
    shutil.copytree(lake, target)
    conf = tmp_path / README_CONF
    conf.write_text(f"lake: {target}\nmodels_dir: {models}\n"
                    f"spark:\n  shuffle_partitions: {SHUFFLE_PARTITIONS}\n")
    return target, conf


@pytest.fixture(scope="session")
def cluster_input(tmp_path_factory) -> tuple[Path, Path]:
    """(a lake with the scenario's files ingested, its models folder)."""
    from inferwatch import scenario
    from inferwatch.context import open_context
    from inferwatch.ingest import ingest_files

    root = tmp_path_factory.mktemp("cluster-input")
    files = scenario.write(scenario.generate(seed=SEED, days=DAYS, rows_per_hour=PER_HOUR),
                           root / "input")
    ctx = open_context("conf/local.yaml", lake=str(root / "lake"),
                       models_dir=root / "input" / "models")
    for table in ("inferences", "labels"):
        ingest_files(ctx.lake, table, files[table], ctx.models)
    return root / "lake", root / "input" / "models"


@pytest.fixture(scope="session")
def local_reference(spark, cluster_input, tmp_path_factory) -> Path:
    """The ingested lake after `run hourly` in the suite's local-mode session."""
    from inferwatch.context import open_context
    from inferwatch.jobs.hourly import run as run_hourly
    from inferwatch.scoped_conf import scoped

    lake, models = cluster_input
    target = tmp_path_factory.mktemp("local") / "lake"
    shutil.copytree(lake, target)
    with scoped(spark, {"spark.sql.shuffle.partitions": str(SHUFFLE_PARTITIONS)}):
        runs = run_hourly(open_context("conf/local.yaml", lake=str(target), models_dir=models,
                                       spark=spark))
    assert {r.status for r in runs} == {"ok"}, [(r.job, r.status, r.error) for r in runs]
    return target
