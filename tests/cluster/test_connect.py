"""Every job over Spark Connect equals local mode, table by table, row for row.

A Spark Connect server (local mode, its Python workers without inferwatch: the session
ships the package as an artifact, `inferwatch.shipping`) runs what README's two lines
send: `inferwatch run hourly` with `SPARK_REMOTE` set, from a process that cannot start a
JVM (JAVA_HOME points nowhere), then `spark-submit --remote` of the DAGs' entry point,
whose run finds nothing new and changes nothing. Input and local run:
tests/cluster/conftest.py.
"""
from __future__ import annotations

from tests.cluster.conftest import README_CONF
from tests.cluster.processes import connect_server, run_shell, spark_env
from tests.cluster.tables import differences, lake_differences, snapshot
from tests.walkthrough import REPO, section_commands


README_URL = "sc://127.0.0.1:15002"


def test_every_job_over_spark_connect_writes_what_local_mode_writes(
        spark, remote_lake, local_reference, tmp_path):
    target, conf = remote_lake
    folder = tmp_path / "spark"
    client, submitted = section_commands("connect")
    assert client.startswith("SPARK_REMOTE=") and submitted.startswith("spark-submit --remote")
    with connect_server(folder) as url:
        client, submitted = (c.replace(README_URL, url).replace(README_CONF, str(conf))
                             for c in (client, submitted))
        done = run_shell(client, REPO, {**spark_env(folder),
                                        "JAVA_HOME": str(tmp_path / "no-java")}, folder)
        assert done.stdout.count("ok in") == 8, done.stdout
        assert lake_differences(spark, local_reference, target) == {}

        before = snapshot(spark, target)
        run_shell(submitted, REPO, spark_env(folder), folder)
    after = snapshot(spark, target)
    runs = after.pop("job_runs")
    assert len(runs) > len(before.pop("job_runs")) and set(runs["status"]) == {"ok"}
    assert {name: differences(before[name], after[name]) for name in before} == \
        {name: [] for name in before}
