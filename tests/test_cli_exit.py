"""`inferwatch run`'s exit code, in process on the test session: 0 when some models
failed and others did not (the run is `partial`; the failed ones on stderr, with why),
1 when the run failed as a whole. A scheduler's next job then runs for the healthy
models (`tests/airflow/` shows it with spark-submit under Airflow)."""
from __future__ import annotations

import pytest

from inferwatch.cli import entry
from inferwatch.runs import runs
from tests.helpers import three_inferences_lake


def _exit(*args: str) -> int:
    with pytest.raises(SystemExit) as done:
        entry(list(args))
    return done.value.code


def test_a_partial_run_exits_0_and_a_failed_one_1(spark, tmp_path, capsys):
    missing = {"source": str(tmp_path / "no_such_baseline.parquet")}
    lake, models_dir = three_inferences_lake(spark, tmp_path, {"baseline": missing})
    where = ("--lake", str(lake), "--models", str(models_dir))
    assert _exit("run", "partition", *where) == 0
    capsys.readouterr()

    assert _exit("run", "performance", *where) == 0  # eta done, fraud failed

    err = capsys.readouterr().err.splitlines()  # Spark's own log lines are JSON
    at = next(i for i, line in enumerate(err) if line.startswith("performance partial: "))
    assert "failed models fraud" in err[at], err
    assert err[at + 1].startswith("  fraud: ") and "baseline.source" in err[at + 1], err
    recorded = {r["model_id"]: r["status"] for r in runs(str(lake), "performance")}
    assert recorded == {None: "partial", "eta": "ok", "fraud": "failed"}

    assert _exit("run", "performance", "--model", "fraud", *where) == 1  # nothing went
    assert "\nperformance failed: " in "\n" + capsys.readouterr().err
