"""Every job converges after a kill between any two of its commits.

For each job: count the commits of a clean run, then for every n, start from the same
lake, fail right after the job's nth commit (`lake.faults`), run the job again, and
compare every table it writes with the clean run's: no row lost, none doubled.
"""
from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from deltalake import DeltaTable

from inferwatch.ingest import ingest_files
from inferwatch.jobs import join_labels, maintain, partition, performance, rollup
from inferwatch.lake.faults import InjectedFault, count_commits, fail_after_commit
from tests.helpers import context, delta_frame, models

UTC = timezone.utc
NOW = datetime(2026, 11, 1, tzinfo=UTC)
T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
# columns that say when or in which run a row was written, not what it holds
VOLATILE = {"run_id", "quarantined_at", "ingested_at", "ingest_date", "first_seen",
            "delay_sketch"}
FRAUD = {"fraud": models()["fraud"]}


def _inputs(folder) -> dict[str, list]:
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["inference_id,model_id,model_version,ts,prediction,amount,gender"]
    for i in range(40):
        ts = T0 + timedelta(minutes=3 * i)
        rows.append(f"c{i},fraud,v{i % 2},{ts.isoformat()},{(i * 37 % 100) / 100},{i * 50},"
                    f"{'FM'[i % 2]}")
    rows += ["c1,fraud,v1,2026-03-02T10:03:00+00:00,0.37,50,M",  # a duplicate
             ",fraud,v1,2026-03-02T10:03:00+00:00,0.5,1,F",      # no id: quarantined
             "c99,fraud,v1,yesterday,0.5,1,F"]                   # no time: quarantined
    (folder / "inferences.csv").write_text("\n".join(rows) + "\n")
    labels = ["inference_id,label,label_ts,model_id"]
    labels += [f"c{i},{i % 3 % 2},{(T0 + timedelta(hours=5 + i)).isoformat()},fraud"
               for i in range(0, 40, 2)]
    labels += ["c3,fraudulent,2026-03-03T00:00:00+00:00,fraud",  # not a number: quarantined
               "c7,,2026-03-03T00:00:00+00:00,",                  # no label: quarantined
               "zz,1,2026-03-03T00:00:00+00:00,"]                 # unknown id: pending
    (folder / "labels.csv").write_text("\n".join(labels) + "\n")
    return {"inferences": [folder / "inferences.csv"], "labels": [folder / "labels.csv"]}


def _ingest(ctx, files):
    ingest_files(ctx.lake, "inferences", files["inferences"], ctx.models)
    return ingest_files(ctx.lake, "labels", files["labels"], ctx.models)


JOBS = {  # job → (run it, the tables it writes)
    "ingest": (_ingest, ("raw/inferences", "raw/labels", "quarantine")),
    "partition": (lambda ctx, _: partition.run(ctx, now=NOW),
                  ("inferences", "inference_index", "quarantine", "state/deliveries")),
    "join-labels": (lambda ctx, _: join_labels.run(ctx, now=NOW),
                    ("labels", "labels_pending", "quarantine")),
    "performance": (lambda ctx, _: performance.run(ctx),
                    ("state/performance", "metrics/performance", "state/fairness",
                     "metrics/fairness")),
    "rollup": (lambda ctx, _: rollup.run(dataclasses.replace(
        ctx, start=T0 - timedelta(days=1), end=T0 + timedelta(days=2))),
        ("state/performance", "metrics/performance", "state/fairness", "metrics/fairness")),
    # compactions change no row of any table, whenever the job is killed
    "maintain": (lambda ctx, _: maintain.run(ctx, now=NOW),
                 ("raw/inferences", "raw/labels", "inferences", "inference_index", "labels",
                  "labels_pending", "quarantine", "state/deliveries", "state/performance",
                  "metrics/performance", "state/fairness", "metrics/fairness")),
}


@pytest.fixture(scope="module")
def stages(spark, tmp_path_factory):
    """The lake before each job (each a folder to copy), and the input files."""
    root = tmp_path_factory.mktemp("crash")
    files = _inputs(root / "input")
    lake_dir = root / "work"
    ctx = context(spark, lake_dir, FRAUD)
    before = {}
    for name, (job, _) in JOBS.items():
        before[name] = root / f"before-{name}"
        if lake_dir.exists():
            shutil.copytree(lake_dir, before[name])
        else:
            before[name].mkdir()
        job(ctx, files)
    return before, files


def _snapshot(lake_dir, tables) -> dict[str, pd.DataFrame]:
    out = {}
    for name in tables:
        path = f"{lake_dir}/{name}"
        if not DeltaTable.is_deltatable(path):
            out[name] = pd.DataFrame()
            continue
        columns = [f.name for f in DeltaTable(path).schema().fields if f.name not in VOLATILE]
        out[name] = delta_frame(path, columns)
    return out


def _fresh(spark, stage, target):
    shutil.copytree(stage, target)
    return context(spark, target, FRAUD)


@pytest.mark.parametrize("name", list(JOBS))
def test_a_kill_after_any_commit_then_a_rerun_equals_a_clean_run(spark, stages, tmp_path,
                                                                 name):
    before, files = stages
    job, tables = JOBS[name]
    clean = _fresh(spark, before[name], tmp_path / "clean")
    with count_commits() as counter:
        job(clean, files)
    commits = counter.commits
    assert commits >= 3, commits  # every job writes data, then job_runs
    want = _snapshot(tmp_path / "clean", tables)
    assert sum(len(f) for f in want.values()) > 0
    for n in range(1, commits + 1):
        ctx = _fresh(spark, before[name], tmp_path / f"killed-{n}")
        with fail_after_commit(n), pytest.raises(InjectedFault):
            job(ctx, files)
        job(ctx, files)
        got = _snapshot(tmp_path / f"killed-{n}", tables)
        for table, frame in want.items():
            pd.testing.assert_frame_equal(got[table], frame, obj=f"{name}, killed after "
                                                                 f"commit {n}: {table}")
