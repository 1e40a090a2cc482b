"""A local session's Python workers are the interpreter that started it, whatever `python3`
PATH finds: the multivariate job fits its forests in them (applyInPandas) and needs this
environment's packages. Run in a process of its own, with neither the venv on PATH nor
PYSPARK_PYTHON set, as a user's scheduler may start `inferwatch`."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = """
import pandas as pd
from inferwatch.context import open_context

def fit(rows: pd.DataFrame) -> pd.DataFrame:
    import inferwatch, sklearn  # what the multivariate job's workers import
    return pd.DataFrame({"k": [int(rows.k.iloc[0])], "n": [len(rows)]})

spark = open_context("conf/local.yaml", lake=LAKE).spark
out = spark.range(10).selectExpr("id % 2 AS k").groupBy("k").applyInPandas(fit, "k long, n long")
print("workers:", sorted(tuple(r) for r in out.collect()))
spark.stop()
"""


def test_local_workers_are_the_driver_interpreter(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYSPARK", "_PYSPARK", "SPARK_HOME"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if Path(sys.executable).parent != Path(p))
    done = subprocess.run([sys.executable, "-c", SCRIPT.replace("LAKE", repr(str(tmp_path / "lake")))],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert "workers: [(0, 5), (1, 5)]" in done.stdout, done.stdout[-2000:] + done.stderr[-3000:]


def test_a_local_session_writes_files_through_the_nio_file_system(spark, tmp_path):
    """`make` builds jvm/inferwatch-fs.jar and a local session's Hadoop file system for
    the lake is its class: a partitioned write lands with the permissions (0644 files,
    0755 directories, Hadoop's defaults under its 022 umask) and checksums Hadoop's own
    gives, set by a system call instead of a forked `chmod` per file."""
    from inferwatch.session import LOCAL_FS, LOCAL_FS_JAR

    assert LOCAL_FS_JAR.is_file(), "make did not build the jar: is javac (a JDK) there?"
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(tmp_path.as_uri())
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    assert fs.getClass().getName() == LOCAL_FS
    rows = spark.range(40).selectExpr("CAST(id % 4 AS STRING) AS part", "id")
    rows.repartition(4, "part").write.partitionBy("part").parquet(str(tmp_path / "out"))
    files = sorted((tmp_path / "out").glob("part=*/*.parquet"))
    assert len(files) == 4 and all(f.with_name(f".{f.name}.crc").is_file() for f in files)
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {oct(0o644)}
    assert {oct(f.parent.stat().st_mode & 0o777) for f in files} == {oct(0o755)}
    back = spark.read.parquet(str(tmp_path / "out"))
    assert sorted(r.id for r in back.collect()) == list(range(40))


def test_the_nio_file_system_is_asked_for_only_where_it_can_load(monkeypatch, tmp_path):
    from inferwatch import session

    wanted = session.local_files("local[2]", {"spark.driver.extraClassPath": "/x.jar"})
    assert wanted == {"spark.hadoop.fs.file.impl": session.LOCAL_FS,
                      "spark.driver.extraClassPath": f"/x.jar{os.pathsep}{session.LOCAL_FS_JAR}"}
    assert session.local_files("spark://127.0.0.1:7077", {}) == {}  # executors lack it
    assert session.local_files("local[2]", {"spark.hadoop.fs.file.impl": "mine"}) == {}
    monkeypatch.setattr(session, "LOCAL_FS_JAR", tmp_path / "not_built.jar")
    assert session.local_files("local[2]", {}) == {}


def test_a_submitted_local_driver_uses_it_when_the_launcher_put_the_jar_on_its_class_path(
        monkeypatch, tmp_path):
    """spark-submit's JVM is up before Python: the class can only be asked for when the
    command gave the driver the jar (the DAGs' `spark.driver.extraClassPath`)."""
    from inferwatch import session

    jar = str(session.LOCAL_FS_JAR)
    given = {"spark.master": "local[2]", "spark.driver.extraClassPath": f"/a.jar{os.pathsep}{jar}"}
    assert session.submitted_files(given) == {"spark.hadoop.fs.file.impl": session.LOCAL_FS}
    assert session.submitted_files({**given, "spark.master": "spark://127.0.0.1:7077"}) == {}
    assert session.submitted_files({**given, "spark.hadoop.fs.file.impl": "mine"}) == {}
    assert session.submitted_files({"spark.master": "local[2]"}) == {}  # not on its class path
    missing = str(tmp_path / "inferwatch-fs.jar")  # named on the class path, never built
    assert session.submitted_files({**given, "spark.driver.extraClassPath": missing}) == {}


def test_a_read_of_many_local_files_runs_no_spark_job_to_look_them_up(spark, tmp_path):
    """The lake names every file it reads; on a local disk the driver looks them up (a
    stat each), where Spark's default, past 32 paths, is a job of a task per path
    (0.2 s a read of 48 files here). The schema is given, as the lake gives it: inferring
    one reads a footer in a job of its own."""
    import pandas as pd

    from tests.helpers import spark_jobs

    paths = []
    for i in range(40):
        paths.append(str(tmp_path / f"f{i}.parquet"))
        pd.DataFrame({"x": [i]}).to_parquet(paths[-1])
    # the lake's reads name the schema
    frame, jobs = spark_jobs(spark, "lookup", lambda: spark.read.schema("x long").parquet(*paths))
    assert frame.columns == ["x"]
    assert jobs == 0
