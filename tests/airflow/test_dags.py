"""The DAGs of airflow_dags/ with real Airflow 3 and its Spark provider: the folder
imports cleanly, the hourly DAG's tasks are the pipeline in order then `check_runs`, each
task's spark-submit command is what a user would type, and one real `dag.test()` of the
hourly DAG runs every job with spark-submit on a small lake where one model is broken:
the other model's tables are complete, only `check_runs` fails, and it names the broken
model.

Airflow runs in subprocesses (it configures itself, logging included, on import) with
a temporary AIRFLOW_HOME and SQLite metadata (`airflow db migrate`)."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable

from inferwatch import scenario
from inferwatch.context import open_context
from inferwatch.ingest import ingest_files
from inferwatch.jobs import DAILY, PIPELINE
from inferwatch.jobs.failures import failures
from inferwatch.session import CLASS_ARCHIVE_OPTIONS
from inferwatch.scenario.incidents import iso

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("probe.py")
HOUR = scenario.DEFAULT_START + timedelta(days=1, hours=10)
BASELINE_HOURS = 3


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow_home")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "AIRFLOW_HOME": str(home),
           "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "airflow_dags"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
           "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps(
               {"conn_type": "spark", "host": "local[2]", "extra": {"deploy-mode": "client"}}),
           "AIRFLOW_VAR_INFERWATCH_HOME": str(REPO),
           "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",  # the venv's spark-submit
           # every task's driver runs C1 alone, as every JVM the tests start (conftest)
           "PYSPARK_PYTHON": sys.executable}
    migrate = subprocess.run([f"{bin_dir}/airflow", "db", "migrate"], env=env,
                             capture_output=True, text=True, timeout=600)
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
    return env


def _probe(env: dict[str, str], *args: str, timeout: int = 600) -> dict:
    done = subprocess.run([sys.executable, str(PROBE), *args], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert done.returncode == 0 and lines, done.stdout[-4000:] + done.stderr[-4000:]
    return {**json.loads(lines[-1][len("PROBE "):]), "output": done.stdout + done.stderr}


def _state(value: str) -> str:
    return value.rsplit(".", 1)[-1].lower()  # "TaskInstanceState.SUCCESS" or "success"


def test_dags_import_and_tasks_follow_the_pipeline(airflow_env):
    found = _probe(airflow_env, "describe")
    assert found["import_errors"] == {}
    dags = found["dags"]
    assert set(dags) == {"inferwatch_hourly", "inferwatch_daily", "inferwatch_backfill"}
    pipeline = [job.replace("-", "_") for job in PIPELINE]
    assert [t["task_id"] for t in dags["inferwatch_hourly"]["tasks"]] == [*pipeline, "check_runs"]
    assert [t["task_id"] for t in dags["inferwatch_backfill"]["tasks"]] == [*pipeline, "check_runs"]
    assert [t["task_id"] for t in dags["inferwatch_daily"]["tasks"]] == [
        "catch_up", *DAILY, "check_runs"]
    hourly = dags["inferwatch_hourly"]
    assert hourly["catchup"] is False and hourly["max_active_runs"] == 1
    assert all(t["retries"] == 3 for t in hourly["tasks"][:-1])
    # a job runs when the one before exited 0 (a partial run does); the check is not retried
    assert {t["trigger_rule"] for t in hourly["tasks"]} == {"all_success"}
    check = hourly["tasks"][-1]
    assert check["retries"] == 0 and check["callable"] == "check_runs"
    assert check["kwargs"] == {"jobs": list(PIPELINE), "conf": f"{REPO}/conf/local.yaml",
                               "lake": "", "since": "2026-03-03T11:02:00+00:00"}
    assert dags["inferwatch_daily"]["tasks"][-1]["kwargs"]["jobs"] == [*PIPELINE, *DAILY]

    first = hourly["tasks"][0]["command"]
    log4j2 = f"{REPO}/lib/inferwatch/log4j2.properties"  # quiet from the JVM's first line
    assert Path(log4j2).is_file()
    assert first == ["spark-submit", "--master", "local[2]",
                     "--conf", f"spark.driver.extraJavaOptions=-Dlog4j2.configurationFile=file:{log4j2} "
                     + CLASS_ARCHIVE_OPTIONS.format(f"{REPO}/lib/inferwatch/jvm/spark-classes.jsa"),
                     "--conf", f"spark.driver.extraClassPath={REPO}/lib/inferwatch/jvm/inferwatch-fs.jar",
                     "--name", "inferwatch-partition",
                     "--deploy-mode", "client", f"{REPO}/jobs/submit.py", "partition",
                     "--conf", f"{REPO}/conf/local.yaml", "--start", "2026-03-03T10:00:00+00:00", "--end", "2026-03-03T11:00:00+00:00"]
    assert hourly["tasks"][0]["env"] == {"INFERWATCH_LAKE": "", "INFERWATCH_MODELS": ""}
    for job, task in zip(PIPELINE, hourly["tasks"][:-1]):  # one entry file, the job after it
        at = task["command"].index(f"{REPO}/jobs/submit.py")
        assert task["command"][at + 1] == job
    assert Path(f"{REPO}/jobs/submit.py").is_file()
    backfill = dags["inferwatch_backfill"]["tasks"][-2]["command"]
    assert backfill[-5:] == ["--start", "2026-03-02T00:00:00+00:00",
                             "--end", "2026-03-03T00:00:00+00:00", "--rebuild"]


def _few_hours() -> scenario.Scenario:
    """Seed 3's rows of BASELINE_HOURS (fraud's baseline window), then of the DAG run's data
    interval (the hour ending at HOUR) and the hour after: the test is about orchestration
    (tasks, exit codes, the broken model, check_runs), and on a few hours of rows every
    job's Spark work stays small."""
    first = HOUR - timedelta(hours=1 + BASELINE_HOURS)
    made = scenario.generate(seed=3, days=1, rows_per_hour=60, start=first)
    kept = made.inferences[made.inferences.ts < HOUR + timedelta(hours=1)]
    labels = made.labels[made.labels.inference_id.isin(kept.inference_id)]
    # write() spreads its jsonl rows over the first `inferences_unique` rows
    counts = {**made.manifest["counts"], "inferences_unique": kept.inference_id.nunique()}
    window = [iso(first), iso(HOUR - timedelta(hours=1))]
    fraud = {**made.models["fraud"], "baseline": {"window": window}}
    return dataclasses.replace(made, inferences=kept.reset_index(drop=True), labels=labels,
                               manifest={**made.manifest, "counts": counts},
                               models={**made.models, "fraud": fraud})


def test_hourly_dag_runs_every_job_and_only_the_check_fails_for_a_broken_model(
        spark, airflow_env, tmp_path):
    files = scenario.write(_few_hours(), tmp_path / "input")
    models_dir = tmp_path / "input" / "models"
    eta = yaml.safe_load((models_dir / "eta.yaml").read_text())  # eta's baseline is gone
    eta["baseline"] = {"source": str(tmp_path / "no_such_baseline.parquet")}
    (models_dir / "eta.yaml").write_text(yaml.safe_dump(eta, sort_keys=False))
    lake = tmp_path / "lake"
    ctx = open_context("conf/local.yaml", lake=str(lake), models_dir=models_dir, spark=spark)
    ingest_files(ctx.lake, "inferences", files["inferences"], ctx.models)
    ingest_files(ctx.lake, "labels", files["labels"], ctx.models)
    env = {**airflow_env, "AIRFLOW_VAR_INFERWATCH_LAKE": str(lake),
           "AIRFLOW_VAR_INFERWATCH_MODELS": str(models_dir)}

    result = _probe(env, "test", "inferwatch_hourly", HOUR.isoformat(), timeout=1500)

    # every job ran (a partial run exits 0); the DAG run fails at its check alone
    assert _state(result["state"]) == "failed", result["state"]
    states = {task: _state(state) for task, state in result["tasks"].items()}
    assert states == {**{job.replace("-", "_"): "success" for job in PIPELINE},
                      "check_runs": "failed"}, states
    runs = DeltaTable(str(lake / "job_runs")).to_pandas()
    done = runs[runs.model_id.isna() & runs.job.isin(PIPELINE)].sort_values("started_at")
    assert done.job.tolist() == list(PIPELINE), done
    eta_failed = set(runs[(runs.model_id == "eta") & (runs.status == "failed")].job)
    assert "performance" in eta_failed, runs[runs.model_id == "eta"]
    assert (runs[runs.model_id == "fraud"].status == "ok").all()
    assert dict(zip(done.job, done.status)) == {
        job: "partial" if job in eta_failed else "ok" for job in PIPELINE}
    # what the check read: the rows of this DAG run, eta's failures and nothing else
    since = pd.Timestamp(result["start_date"]).to_pydatetime()
    count, failed = failures(str(lake), since, PIPELINE)
    assert count == len(runs) - 2  # every row but the two ingests', before the run
    assert failed and {tuple(f.split()[1:3]) for f in failed} <= {
        ("eta", "failed:"), ("run", "partial:")}, failed
    assert failed[0] in result["output"]  # the check's log lists them
    # the task logs hold each job's own lines, not its driver's Spark INFO start-up log
    assert "[partition] ok in " in result["output"], result["output"][-4000:]
    assert "INFO SparkContext" not in result["output"], result["output"][-4000:]

    params = json.loads(done[done.job == "profile"].params.iloc[0])
    start, end = (pd.Timestamp(params[k]) for k in ("start", "end"))
    assert end - start == pd.Timedelta(hours=1) and start <= pd.Timestamp(HOUR) <= end, params
    # the healthy model's tables hold the hour; the broken model's performance does not
    for table in ("metrics/profile", "metrics/drift", "metrics/performance",
                  "metrics/quality"):
        rows = DeltaTable(str(lake / table)).to_pandas()
        fraud = rows[(rows.model_id == "fraud")
                     & (pd.to_datetime(rows.window_start, utc=True) == start)]
        assert len(fraud), table
    performance = DeltaTable(str(lake / "metrics" / "performance")).to_pandas()
    assert set(performance.model_id) == {"fraud"}
    quality = DeltaTable(str(lake / "metrics" / "quality")).to_pandas()
    assert set(pd.to_datetime(quality.window_start, utc=True)) == {start}
