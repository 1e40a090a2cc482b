"""`spark-submit jobs/submit.py JOB` for real: from a folder that is not the checkout (so the
package comes from the install, or from `--py-files`), with the venv's spark-submit run
the way `make submit` runs it.

One successful submit (partition over a few ingested rows) and two failing ones (a bad
config: one `error:` line, no traceback), each a JVM of its own. spark-submit (client
mode) hands the Python driver's stderr to its own stdout, so output is checked as one.
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable

import inferwatch
from inferwatch.ingest import ingest_files
from tests.helpers import context, models

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONF, MODELS = REPO / "conf" / "local.yaml", REPO / "conf" / "models"


def _submit(job: str, *args: str, cwd: Path, py_files: Path | None = None,
            ) -> subprocess.CompletedProcess:
    """`spark-submit --master local[1] [--py-files F] <repo>/jobs/submit.py job args` in
    `cwd`.

    pip's pyspark finds SPARK_HOME through the `python` on PATH, hence the venv first on
    PATH; the session's gateway variables are left out so the job starts its own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYSPARK_GATEWAY", "_PYSPARK", "SPARK_HOME"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PYSPARK_PYTHON=sys.executable)
    extra = ["--py-files", str(py_files)] if py_files else []
    command = [str(BIN / "spark-submit"), "--master", "local[1]",
               "--conf", "spark.ui.enabled=false", *extra, str(REPO / "jobs" / "submit.py"),
               job, *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture()
def elsewhere(tmp_path) -> Path:
    """A working folder with no conf/, jobs/ or lib/ in it."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_partition_entry_point_runs_from_another_folder(spark, tmp_path, elsewhere):
    lake = tmp_path / "lake"
    hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    hour -= timedelta(hours=3)
    rows = pd.DataFrame({
        "inference_id": ["a1", "a2", "a3"],
        "model_id": ["fraud", "fraud", "eta"],
        "ts": [(hour + timedelta(minutes=m)).isoformat() for m in (5, 70, 10)],
        "prediction": [0.9, 0.1, 12.5],
    })
    source = tmp_path / "inferences.csv"
    rows.to_csv(source, index=False)
    ingest_files(context(spark, lake).lake, "inferences", [str(source)], models())

    result = _submit("partition", "--conf", str(CONF), "--lake", str(lake),
                     "--models", str(MODELS), cwd=elsewhere)

    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "[partition] ok" in result.stdout, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    stored = DeltaTable(str(lake / "inferences")).to_pandas().sort_values("inference_id")
    assert list(stored["inference_id"]) == ["a1", "a2", "a3"]
    assert list(stored["model_id"]) == ["fraud", "fraud", "eta"]
    assert list(stored["prediction"]) == [0.9, 0.1, 12.5]
    assert list(pd.to_datetime(stored["hour"], utc=True)) == [
        pd.Timestamp(hour + timedelta(hours=h)) for h in (0, 1, 0)]
    assert not (elsewhere / "lake").exists() and not (elsewhere / "spark-warehouse").exists()


def _package_zip(folder: Path) -> Path:
    """The installed package's modules in a zip, as a wheel holds them."""
    root = Path(inferwatch.__file__).parent
    target = folder / "inferwatch.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(root.rglob("*.py")):
            archive.write(path, Path("inferwatch") / path.relative_to(root))
    return target


@pytest.mark.parametrize("shipped", ["installed", "py-files zip"])
def test_bad_config_is_one_error_line_without_traceback(shipped, tmp_path, elsewhere):
    bad = tmp_path / "bad.yaml"
    bad.write_text("spark: {shuffle_partitions: 0}\n")
    # a zip on --py-files comes before site-packages on the driver's sys.path
    py_files = _package_zip(tmp_path) if shipped == "py-files zip" else None

    result = _submit("partition", "--conf", str(bad), "--lake", str(tmp_path / "lake"),
                     cwd=elsewhere, py_files=py_files)

    # spark-submit's PythonRunner merges the driver's stderr into its own stdout
    output = result.stdout + result.stderr
    assert result.returncode == 2, (result.returncode, output[-3000:])
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert str(bad) in errors[0] and "spark.shuffle_partitions" in errors[0], errors[0]
    assert not (tmp_path / "lake").exists()


@pytest.mark.parametrize("job", ["partition", "join-labels", "profile", "drift",
                                 "multivariate", "performance", "quality", "alerts", "rollup",
                                 "maintain", "hourly"])
def test_submit_runs_the_job_it_is_given_with_the_command_line(job, monkeypatch):
    """`jobs/submit.py JOB options` (in-process, no Spark) is `inferwatch run JOB options`,
    for every job name the CLI knows."""
    import runpy

    import inferwatch.cli
    from inferwatch.jobs import JOB_NAMES

    calls = []
    monkeypatch.setattr(inferwatch.cli, "entry", calls.append)
    monkeypatch.setattr(sys, "argv", ["jobs/submit.py", job, "--model", "fraud", "--rebuild"])
    runpy.run_path(str(REPO / "jobs" / "submit.py"), run_name="__main__")
    assert calls == [["run", job, "--model", "fraud", "--rebuild"]]
    assert job in JOB_NAMES


def test_submit_is_the_one_entry_file():
    assert sorted(p.name for p in (REPO / "jobs").glob("*.py")) == ["submit.py"]


def test_no_job_script_shadows_a_standard_module():
    """spark-submit puts jobs/ first on sys.path: a jobs/profile.py was imported by pyspark
    as the standard `profile` module."""
    scripts = {p.stem for p in (REPO / "jobs").glob("*.py")}
    assert not scripts & set(sys.stdlib_module_names)
