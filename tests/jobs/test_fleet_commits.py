"""Commits per hourly run are a constant per output table, whatever the number of models:
the same rows as one model and as 20 models (copies of one description, the rows dealt
out among them) go through every job of `hourly`; after a first run (which builds each
model's baseline, once in its life), the last hours' rows and labels arrive and the next
hourly run commits to each table the same number of times for 1 model as for 20."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable

from datetime import timedelta

from inferwatch import scenario
from inferwatch.context import open_context
from inferwatch.ingest import ingest_files
from inferwatch.jobs import PIPELINE, run_job
from inferwatch.lake.faults import count_commits

FLEET = 20
LATE_HOURS = 2  # the rows of the last hours arrive after the first run


def _fleet(root, n: int):
    """Seed 3's fraud rows (two days, the first its baseline) as `n` models: row i goes
    to model i mod n, its label with it. Returns the context and the files of the two
    deliveries ({"inferences": [...], "labels": [...]} each)."""
    made = scenario.generate(seed=3, days=2, rows_per_hour=160)
    rows = (made.inferences[made.inferences.model_id == "fraud"]
            .drop_duplicates("inference_id").sort_values("ts").reset_index(drop=True))
    names = [f"fraud_{i:02d}" for i in range(n)]
    owner = dict(zip(rows.inference_id, [names[i % n] for i in range(len(rows))]))
    rows["model_id"] = rows.inference_id.map(owner)
    labels = made.labels[made.labels.inference_id.isin(owner)].copy()
    labels["model_id"] = labels.inference_id.map(owner)
    (root / "models").mkdir(parents=True)
    for name in names:
        desc = {**made.models["fraud"], "model_id": name}
        (root / "models" / f"{name}.yaml").write_text(yaml.safe_dump(desc, sort_keys=False))
    cut = rows.ts.max().floor("h") - timedelta(hours=LATE_HOURS - 1)
    deliveries = []
    for name, kept in (("first", rows.ts < cut), ("late", rows.ts >= cut)):
        ids = set(rows.inference_id[kept])
        files = {"inferences": root / f"{name}_inferences.parquet",
                 "labels": root / f"{name}_labels.parquet"}
        rows[kept].to_parquet(files["inferences"])
        labels[labels.inference_id.isin(ids)].to_parquet(files["labels"])
        deliveries.append(files)
    return deliveries, len(rows)


def _ingest(ctx, files) -> None:
    for table in ("inferences", "labels"):
        ingest_files(ctx.lake, table, [files[table]], ctx.models)


@pytest.fixture(scope="module")
def commits(spark, tmp_path_factory) -> dict[int, dict]:
    """{number of models: ({table: commits of the hourly run}, its jobs' statuses,
    the lake root, rows)}."""
    out = {}
    for n in (1, FLEET):
        root = tmp_path_factory.mktemp(f"fleet{n}")
        (first, late), rows = _fleet(root, n)
        ctx = open_context("conf/local.yaml", lake=str(root / "lake"),
                           models_dir=root / "models", spark=spark)
        _ingest(ctx, first)
        for job in PIPELINE:
            assert run_job(ctx, job).status == "ok", (n, job)
        _ingest(ctx, late)
        with count_commits() as counter:
            statuses = {job: run_job(ctx, job).status for job in PIPELINE}
        out[n] = (dict(counter.tables), statuses, ctx.lake.root, rows)
    return out


def test_every_table_gets_the_same_commits_for_1_and_20_models(commits):
    one, fleet = commits[1], commits[FLEET]
    assert one[3] == fleet[3]  # the same rows
    for n in (1, FLEET):
        assert set(commits[n][1].values()) == {"ok"}, (n, commits[n][1])
    assert fleet[0] == one[0], pd.DataFrame({"1 model": one[0], f"{FLEET} models": fleet[0]})
    # every output of the pipeline was written, once per job that writes it
    assert {"metrics/profile", "metrics/drift", "metrics/performance", "metrics/quality",
            "alerts", "job_runs"} <= set(fleet[0]), fleet[0]


def test_the_fleet_run_wrote_every_model(commits):
    root = commits[FLEET][2]
    for table in ("metrics/profile", "metrics/drift", "metrics/performance",
                  "metrics/quality"):
        models = set(DeltaTable(f"{root}/{table}").to_pandas(columns=["model_id"]).model_id)
        assert len(models) == FLEET, (table, sorted(models))
