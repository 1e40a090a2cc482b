"""The hourly pipeline submitted to a standalone cluster with README's commands equals a
local run of the same input, table by table, row for row (tests/cluster/tables.py).

The cluster is a master and two one-core workers on 127.0.0.1 (tests/cluster/processes.py).
Its executors run a Python that has the `spark` extra's packages but not inferwatch, so
every task that calls inferwatch's code (the drift comparisons, the multivariate forests)
imports it from the zip spark-submit ships. The input and the local run are tests/cluster/conftest.py's.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd

from tests.cluster.conftest import README_CONF
from tests.cluster.processes import run_shell, spark_env, standalone, worker_python
from tests.cluster.tables import differences, lake_differences, snapshot
from tests.walkthrough import REPO, section_commands

README_MASTER = "spark://127.0.0.1:7077"


def test_readme_commands_on_a_standalone_cluster_write_what_local_mode_writes(
        spark, remote_lake, local_reference, tmp_path):
    target, conf = remote_lake
    folder = tmp_path / "spark"
    with standalone(folder) as master:
        env = {**spark_env(folder), "PYSPARK_PYTHON": str(worker_python(folder)),
               "PYSPARK_DRIVER_PYTHON": sys.executable}
        for command in section_commands("cluster"):
            run_shell(command.replace(README_MASTER, master).replace(README_CONF, str(conf)),
                      REPO, env, folder)
        executors = list((folder / "work").glob("app-*/*/stderr"))
    assert len(executors) == 2, f"executors that ran: {executors}"
    assert "ModuleNotFoundError" not in "".join(p.read_text() for p in executors)
    assert lake_differences(spark, local_reference, target) == {}


def test_the_local_run_has_judged_something_to_compare(spark, local_reference):
    tables = snapshot(spark, local_reference)
    drift = tables["metrics/drift"]
    assert drift["ks"].notna().sum() > 100 and drift["drifted"].sum() > 0
    assert len(tables["metrics/performance"]) > 100 and len(tables["metrics/quality"]) > 100
    assert len(tables["metrics/multivariate_drift"]) > 0 and len(tables["alerts"]) > 0


def test_the_comparison_finds_a_float_off_in_its_tenth_digit_a_missing_row_and_a_message():
    frame = pd.DataFrame({"model_id": ["a", "b"], "value": [1.0, 2.0],
                          "message": ["observed 0.25 outside [0.1, 0.2]", "fine"]})
    same = frame.assign(value=[1.0 + 1e-13, 2.0],
                        message=["observed 0.25000000000001 outside [0.1, 0.2]", "fine"])
    assert differences(frame, same.iloc[::-1]) == []
    assert differences(frame, frame.assign(value=[1.0 + 1e-8, 2.0])) != []
    assert differences(frame, frame.iloc[:1]) == ["2 rows != 1 rows"]
    assert differences(frame, frame.assign(message=["observed 0.26 outside [0.1, 0.2]",
                                                    "fine"])) != []


def test_a_worker_python_does_not_see_the_checkouts_package(tmp_path):
    python = worker_python(tmp_path)
    found = subprocess.run([str(python), "-c", "import inferwatch"], capture_output=True,
                           text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert found.returncode != 0 and "No module named 'inferwatch'" in found.stderr
