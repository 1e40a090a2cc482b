"""The client install: `pip install inferwatch` brings no Spark, and a job command run
without the `spark` extra says in one line what to install."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

SPARK = ("pyspark", "delta-spark", "great-expectations", "scipy", "py4j")


def test_the_base_install_has_no_spark():
    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    base = [d.split("==")[0].split("[")[0] for d in project["dependencies"]]
    assert {"deltalake", "pyarrow"} <= set(base) and not set(base) & set(SPARK)
    spark = [d.split("==")[0].split("[")[0] for d in project["optional-dependencies"]["spark"]]
    assert {"pyspark", "great-expectations"} <= set(spark)


def test_a_job_without_the_spark_extra_says_what_to_install(tmp_path):
    code = ("import sys\n"
            "from tests.log.producer import _Refuse\n"
            "sys.meta_path.insert(0, _Refuse())\n"
            "from inferwatch.cli import entry\n"
            f"entry(['run', 'partition', '--lake', {str(tmp_path)!r}])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: this command runs Spark jobs and needs module 'pyspark': "
        "pip install 'inferwatch[spark]'"]
