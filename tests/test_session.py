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
