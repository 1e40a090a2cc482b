"""Commits per hourly run are a constant per output table, whatever the number of models:
the same rows as one model and as 20 models (copies of one description, the rows dealt
out among them) go through every job of `hourly` twice: the first run (which also builds
every model's baseline, once in its life) and, after the last hours' rows and labels
arrive, the next; each run commits to each table the same number of times for 1 model
as for 20. A model that breaks the joint plans fails alone, and the others, computed
alone, equal what their group's joint plan stored."""
from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable

from inferwatch import scenario
from inferwatch.context import open_context
from inferwatch.ingest import ingest_files
from inferwatch.jobs import PIPELINE, run_job
from inferwatch.lake.faults import count_commits
from inferwatch.runs import OK, PARTIAL

FLEET = 20
LATE_HOURS = 2  # the rows of the last hours arrive after the first run
# 12 baseline hours (the fewest that calibrate) and 6 live ones: 18 hours x 20 models
BASELINE = ("2026-03-02T12:00:00Z", "2026-03-03T00:00:00Z")
END = "2026-03-03T06:00:00Z"


def _fleet(root, n: int):
    """Seed 3's fraud rows of `BASELINE` (its baseline) and the hours up to `END` as `n`
    models: row i goes to model i mod n, its label with it. Returns the files of the two
    deliveries ({"inferences": [...], "labels": [...]} each) and the number of rows."""
    made = scenario.generate(seed=3, days=2, rows_per_hour=160)
    rows = made.inferences
    rows = (rows[(rows.model_id == "fraud") & (rows.ts >= pd.Timestamp(BASELINE[0]))
                 & (rows.ts < pd.Timestamp(END))]
            .drop_duplicates("inference_id").sort_values("ts").reset_index(drop=True))
    names = [f"fraud_{i:02d}" for i in range(n)]
    owner = dict(zip(rows.inference_id, [names[i % n] for i in range(len(rows))]))
    rows["model_id"] = rows.inference_id.map(owner)
    labels = made.labels[made.labels.inference_id.isin(owner)].copy()
    labels["model_id"] = labels.inference_id.map(owner)
    (root / "models").mkdir(parents=True)
    for name in names:
        desc = {**made.models["fraud"], "model_id": name, "baseline": {"window": list(BASELINE)}}
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
    """{number of models: ([{table: commits} of the first and the second hourly run],
    [their jobs' statuses], the lake root, rows)}."""
    out = {}
    for n in (1, FLEET):
        root = tmp_path_factory.mktemp(f"fleet{n}")
        deliveries, rows = _fleet(root, n)
        ctx = open_context("conf/local.yaml", lake=str(root / "lake"),
                           models_dir=root / "models", spark=spark)
        counted, statuses = [], []
        for files in deliveries:
            _ingest(ctx, files)
            with count_commits() as counter:
                statuses.append({job: run_job(ctx, job).status for job in PIPELINE})
            counted.append(dict(counter.tables))
        out[n] = (counted, statuses, ctx.lake.root, rows)
    return out


@pytest.mark.parametrize("run", [0, 1], ids=["first run", "next run"])
def test_every_table_gets_the_same_commits_for_1_and_20_models(commits, run):
    one, fleet = commits[1], commits[FLEET]
    assert one[3] == fleet[3]  # the same rows
    for n in (1, FLEET):
        assert set(commits[n][1][run].values()) == {"ok"}, (n, commits[n][1][run])
    counts = pd.DataFrame({"1 model": one[0][run], f"{FLEET} models": fleet[0][run]})
    counts = counts.fillna(0).astype(int)
    # the outbox is appended to only when a run queues events: the rows dealt among 20
    # models may queue some where one model queues none; once at most, either way
    varies = counts.index.isin(["alerts_outbox"])
    assert (counts[~varies].iloc[:, 0] == counts[~varies].iloc[:, 1]).all(), counts
    assert (counts[varies] <= 1).all().all(), counts
    # every output of the pipeline was written, once per job that writes it
    assert {"metrics/profile", "metrics/drift", "metrics/performance", "metrics/quality",
            "alerts", "job_runs"} <= set(fleet[0][run]), fleet[0][run]
    if run == 0:  # every model's baseline and its domain sample: one commit each
        assert fleet[0][0]["baselines"] == fleet[0][0]["baseline_samples"] == 1


def test_the_fleet_run_wrote_every_model(commits):
    root = commits[FLEET][2]
    for table in ("metrics/profile", "metrics/drift", "metrics/performance",
                  "metrics/quality"):
        models = set(DeltaTable(f"{root}/{table}").to_pandas(columns=["model_id"]).model_id)
        assert len(models) == FLEET, (table, sorted(models))


def _table(lake, name: str, keys: list[str]) -> pd.DataFrame:
    """A metric table's scalar columns, sorted; sketch-read ones left out (KLL quantiles
    and HLL distinct counts agree within their stated error from run to run, not exactly:
    docs/pipeline.md)."""
    rows = DeltaTable(f"{lake}/{name}").to_pandas().drop(columns=["distinct_count"],
                                                         errors="ignore")
    rows = rows[[c for c in rows.columns if rows[c].map(lambda v: not hasattr(v, "__len__")
                                                        or isinstance(v, str)).all()]]
    return rows.sort_values(keys).reset_index(drop=True)


def test_a_model_that_breaks_the_joint_plans_fails_alone_and_the_others_equal_alone(
        commits, spark, tmp_path):
    """One of 20 models alike gets a description that breaks its plans (a text column
    read as a number, a baseline file that is not there): profile and performance, rebuilt, fail it alone and write the
    others' very rows again; and a model rebuilt alone lands on the rows its group's
    joint plan stored (one aggregation keyed by model is each model's own)."""
    stored = Path(commits[FLEET][2])
    lake, models = tmp_path / "lake", tmp_path / "models"
    shutil.copytree(stored, lake)
    shutil.copytree(stored.parent / "models", models)
    broken = models / "fraud_07.yaml"
    desc = yaml.safe_load(broken.read_text())
    desc["features"]["categorical"].remove("country")
    desc["features"]["numeric"].append("country")  # profile: text read as a number
    desc["baseline"] = {"source": str(tmp_path / "gone.parquet")}  # performance: no file
    broken.write_text(yaml.safe_dump(desc))
    ctx = dataclasses.replace(open_context("conf/local.yaml", lake=str(lake),
                                           models_dir=models, spark=spark), rebuild=True)
    keys = ["model_id", "granularity", "window_start", "slice_key", "slice_value"]
    for job, table, by in (("profile", "metrics/profile", [*keys, "column"]),
                           ("performance", "metrics/performance", keys)):
        before = _table(lake, table, by)
        run = run_job(ctx, job)
        assert run.status == PARTIAL, (job, run.notes)
        assert {m for m, p in run.models.items() if p.status != OK} == {"fraud_07"}, job
        after = _table(lake, table, by)
        others = [frame[frame.model_id != "fraud_07"].reset_index(drop=True)
                  for frame in (before, after)]
        pd.testing.assert_frame_equal(others[1], others[0], check_exact=False, rtol=1e-9)
        assert run_job(dataclasses.replace(ctx, model="fraud_03"), job).status == OK
        alone = _table(lake, table, by)
        pd.testing.assert_frame_equal(alone[alone.model_id == "fraud_03"].reset_index(drop=True),
                                      before[before.model_id == "fraud_03"].reset_index(drop=True),
                                      check_exact=False, rtol=1e-9)


def test_suites_suggested_for_the_fleet_at_once_equal_each_suggested_alone(commits, spark):
    """The quality job's first model reads every model's suggested suite in one pass
    (`suggest.from_baseline` with `fleet`): each equals the suite suggested from that
    model's baseline alone, and the others are then remembered, not read again."""
    from inferwatch.quality import suggest
    from inferwatch.quality.suite import model_suite

    root = Path(commits[FLEET][2])
    ctx = open_context("conf/local.yaml", lake=str(root), models_dir=root.parent / "models",
                       spark=spark)
    models = ctx.selected_models()
    suggest._SUGGESTED.clear()
    model_suite(ctx.lake, models["fraud_19"], models)
    assert len(suggest._SUGGESTED) == FLEET  # the first call suggested all of them
    together = {m: model_suite(ctx.lake, models[m], models) for m in sorted(models)}
    for model_id in ("fraud_00", "fraud_13"):
        suggest._SUGGESTED.clear()
        alone = model_suite(ctx.lake, models[model_id])
        assert alone == together[model_id] and len(alone[1]) > 20, model_id
