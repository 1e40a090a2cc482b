"""Every job over Spark Connect equals local mode, table by table, row for row.

A Spark Connect server (local mode, its Python workers without inferwatch: the session
ships the package as an artifact, `inferwatch.shipping`) runs what README's two lines
send: `inferwatch run hourly` with `SPARK_REMOTE` set, from a process that cannot start a
JVM (JAVA_HOME points nowhere), then `spark-submit --remote` of the DAGs' entry point,
whose run finds nothing new and changes nothing. Input and local run:
tests/cluster/conftest.py.
"""
from __future__ import annotations

import shutil
import subprocess

from tests.cluster.conftest import conf_text
from tests.cluster.processes import connect_server, logs, spark_env
from tests.cluster.tables import differences, lake_differences, snapshot
from tests.walkthrough import REPO, section_commands


README_URL, README_CONF = "sc://127.0.0.1:15002", "inferwatch.yaml"


def _run(command: str, env: dict, folder) -> subprocess.CompletedProcess:
    done = subprocess.run(command, shell=True, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, (f"{command}: exit {done.returncode}\n"
                                  f"{done.stderr[-4000:]}\n{logs(folder)}")
    return done


def test_every_job_over_spark_connect_writes_what_local_mode_writes(
        spark, cluster_input, local_reference, tmp_path):
    lake, models = cluster_input
    target = tmp_path / "lake"
    shutil.copytree(lake, target)
    conf = tmp_path / README_CONF
    conf.write_text(conf_text(target, models))
    folder = tmp_path / "spark"
    client, submitted = section_commands("connect")
    assert client.startswith("SPARK_REMOTE=") and submitted.startswith("spark-submit --remote")
    with connect_server(folder) as url:
        client, submitted = (c.replace(README_URL, url).replace(README_CONF, str(conf))
                             for c in (client, submitted))
        done = _run(client, {**spark_env(folder), "JAVA_HOME": str(tmp_path / "no-java")},
                    folder)
        assert done.stdout.count("ok in") == 8, done.stdout
        assert lake_differences(spark, local_reference, target) == {}

        before = snapshot(spark, target)
        _run(submitted, spark_env(folder), folder)
    after = snapshot(spark, target)
    runs = after.pop("job_runs")
    assert len(runs) > len(before.pop("job_runs")) and set(runs["status"]) == {"ok"}
    assert {name: differences(before[name], after[name]) for name in before} == \
        {name: [] for name in before}
