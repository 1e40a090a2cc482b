"""Scenario lakes built once per test session and shared by the modules that read them.

A lake is built in minutes (ingest, then Spark jobs), a copy of its folder in about a
second: `seed_lakes(seed)` builds a seed's lake the first time any test asks for it and
hands out the same folder after that. A test that runs more jobs on a lake, ingests into
it or compacts it works on `copy_lake(...)`, so the shared one stays as built."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

# the seeds' lakes: three days of both models, ingested, partitioned, labels joined and
# performance run. Seed 5's is built file by file as an hourly schedule leaves a lake
# (several small files per index bucket, raw partition and quarantine partition), which
# the maintain test compacts; any other seed's (drift's other seeds read rows, not files)
# in one shot: every file ingested at once, then each job once
DAYS = 3
ROWS_PER_HOUR = 100
START = datetime(2026, 3, 2, tzinfo=timezone.utc)
# partition runs a month after the data (the index's older files get sorted by id);
# join-labels at the data's end, so no label is old enough to expire before maintain's
LATER = START + timedelta(days=DAYS + 30)
JOINED_AT = START + timedelta(days=DAYS)
FILE_BY_FILE = {5}


def build_seed_lake(spark, root: Path, seed: int) -> Path:
    """`scenario.generate(seed, DAYS, ROWS_PER_HOUR)` written under `root/input` and
    ingested, then partition (after the inferences), join-labels (after the labels) and
    performance; a seed of FILE_BY_FILE has every file ingested alone and followed by its
    job. Returns the lake root."""
    from inferwatch import scenario
    from inferwatch.context import open_context
    from inferwatch.ingest import ingest_files
    from inferwatch.jobs import join_labels, partition, performance

    files = scenario.write(scenario.generate(seed=seed, days=DAYS,
                                             rows_per_hour=ROWS_PER_HOUR), root / "input")
    ctx = open_context("conf/local.yaml", lake=str(root / "lake"),
                       models_dir=root / "input" / "models", spark=spark)
    days = sorted(p for p in files["inferences"] if p.suffix == ".parquet")
    extra = [p for p in files["inferences"] if p.suffix != ".parquet"]
    one_by_one = seed in FILE_BY_FILE
    for paths in _deliveries([*days, *extra], one_by_one):
        ingest_files(ctx.lake, "inferences", paths, ctx.models)
        assert partition.run(ctx, now=LATER).status == "ok", paths
    for paths in _deliveries(files["labels"], one_by_one):
        ingest_files(ctx.lake, "labels", paths, ctx.models)
        assert join_labels.run(ctx, now=JOINED_AT).status == "ok", paths
    assert performance.run(ctx).status == "ok"
    return root / "lake"


def _deliveries(paths: list[Path], one_by_one: bool) -> list[list[Path]]:
    return [[path] for path in paths] if one_by_one else [list(paths)]


def copy_lake(lake: Path, to: Path) -> Path:
    """A copy of `lake` and its scenario's `input` folder under `to`; returns the copy's
    lake root (its `../input` holds the manifest and model descriptions, as built)."""
    shutil.copytree(lake.parent / "input", to / "input")
    shutil.copytree(lake, to / "lake")
    return to / "lake"


def seed_lakes(spark, tmp_path_factory):
    """`get(seed)`: the seed's shared lake (`build_seed_lake`), built on first use."""
    built: dict[int, Path] = {}

    def get(seed: int) -> Path:
        if seed not in built:
            built[seed] = build_seed_lake(spark, tmp_path_factory.mktemp(f"seed{seed}"), seed)
        return built[seed]

    return get
