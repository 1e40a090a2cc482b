"""Every job over Spark Connect equals local mode, table by table, row for row.

A Spark Connect server (local mode, its Python workers without inferwatch: the session
ships the package as an artifact, `inferwatch.shipping`) runs what two clients send:
`inferwatch run hourly` with `SPARK_REMOTE` set, from a process that cannot start a JVM
(JAVA_HOME points nowhere), then `spark-submit --remote` of the DAGs' entry point, whose
run finds nothing new and changes nothing. Input and local run: tests/cluster/conftest.py.
"""
from __future__ import annotations

import shutil
import subprocess

from tests.cluster.processes import BIN, connect_server, logs, spark_env
from tests.cluster.tables import differences, lake_differences, snapshot
from tests.walkthrough import REPO


def _run(command: list, env: dict, folder) -> subprocess.CompletedProcess:
    done = subprocess.run([str(part) for part in command], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (f"{' '.join(map(str, command))}: exit {done.returncode}\n"
                                  f"{done.stderr[-4000:]}\n{logs(folder)}")
    return done


def test_every_job_over_spark_connect_writes_what_local_mode_writes(
        spark, cluster_input, local_reference, tmp_path):
    lake, models = cluster_input
    target = tmp_path / "lake"
    shutil.copytree(lake, target)
    folder = tmp_path / "spark"
    options = ["--lake", target, "--models", models]
    with connect_server(folder) as url:
        client = {**spark_env(folder), "SPARK_REMOTE": url,
                  "JAVA_HOME": str(tmp_path / "no-java-here")}
        done = _run([BIN / "inferwatch", "run", "hourly", *options], client, folder)
        assert done.stdout.count("ok in") == 8, done.stdout
        assert lake_differences(spark, local_reference, target) == {}

        before = snapshot(spark, target)
        _run([BIN / "spark-submit", "--remote", url, REPO / "jobs" / "submit.py", "hourly",
              *options], spark_env(folder), folder)
    after = snapshot(spark, target)
    runs = after.pop("job_runs")
    assert len(runs) > len(before.pop("job_runs")) and set(runs["status"]) == {"ok"}
    assert {name: differences(before[name], after[name]) for name in before} == \
        {name: [] for name in before}
