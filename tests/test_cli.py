"""Every user mistake through the real `inferwatch` console script: one `error: ...` line on
stderr, exit code 2, never a traceback, and no JVM started to find out.

Each command runs with SPARK_HOME and JAVA_HOME pointing nowhere, so a command that started
Spark before refusing its input would fail with a gateway traceback instead of its message
(`test_the_guard_catches_a_spark_start` checks that the guard bites).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INFERWATCH = Path(sys.executable).with_name("inferwatch")


def _inferwatch(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    assert INFERWATCH.exists(), f"{INFERWATCH} missing: install the package (make test)"
    nowhere = str(tmp_path / "no-spark-here")
    env = {**os.environ, "SPARK_HOME": nowhere, "JAVA_HOME": nowhere}
    return subprocess.run([str(INFERWATCH), *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


def _one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture()
def files(tmp_path) -> dict[str, Path]:
    (tmp_path / "csv_only").mkdir()
    (tmp_path / "csv_only" / "part.csv").write_text("inference_id\n1\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "in.csv").write_text("inference_id,model_id,ts,prediction\n1,fraud,2026-03-02,1\n")
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "bad_yaml.yaml").write_text("lake: [unclosed\nspark:\n")
    (tmp_path / "wrong_type.yaml").write_text("lake: 3\n")
    (tmp_path / "bad_value.yaml").write_text("spark: {shuffle_partitions: 0}\n")
    (tmp_path / "list.yaml").write_text("- lake\n")
    (tmp_path / "latin1.yaml").write_bytes("lake: caf\xe9\n".encode("latin-1"))
    (tmp_path / "short_vacuum.yaml").write_text("maintain: {vacuum_retention_hours: 0}\n")
    models = tmp_path / "models"
    models.mkdir()
    (models / "m.yaml").write_text("model_id: m\nproblem_type: ranking\n")
    return {p.name: p for p in tmp_path.iterdir()}


# (arguments, fragments of the one error line); "{name}" is a path from `files`.
USER_ERRORS = {
    "unknown model": (["run", "performance", "--model", "nope"],
                      ["unknown model 'nope'", "conf/models", "eta, fraud"]),
    "unknown table": (["show", "metrics/perfromance"],
                      ["unknown table or view 'metrics/perfromance'", "metrics/performance"]),
    "missing input": (["ingest", "inferences", "{in.csv}", "/no/such.parquet"],
                      ["/no/such.parquet: no such file or folder"]),
    "folder without parquet": (["ingest", "inferences", "{csv_only}"],
                               ["{csv_only}: a folder without .parquet files"]),
    "unknown format": (["ingest", "inferences", "{notes.txt}"],
                       ["{notes.txt}: unknown format '.txt'", ".parquet"]),
    "empty file": (["ingest", "inferences", "{empty.csv}"], ["{empty.csv}: empty file"]),
    "missing config": (["run", "partition", "--conf", "/no/such.yaml"],
                       ["/no/such.yaml", "an existing YAML file"]),
    "missing config, show": (["show", "performance", "--conf", "/no/such.yaml"],
                             ["/no/such.yaml", "an existing YAML file"]),
    "missing config, ingest": (["ingest", "inferences", "{in.csv}", "--conf", "/no/such.yaml"],
                               ["/no/such.yaml", "an existing YAML file"]),
    "bad YAML": (["run", "partition", "--conf", "{bad_yaml.yaml}"],
                 ["{bad_yaml.yaml}", "valid YAML", "line 2"]),
    "wrong type": (["run", "join-labels", "--conf", "{wrong_type.yaml}"],
                   ["{wrong_type.yaml}", "key 'lake'", "got 3"]),
    "bad value": (["run", "partition", "--conf", "{bad_value.yaml}"],
                  ["{bad_value.yaml}", "key 'spark.shuffle_partitions'", "got 0"]),
    "not a mapping": (["run", "partition", "--conf", "{list.yaml}"],
                      ["{list.yaml}", "a mapping of keys to values"]),
    "missing models folder": (["run", "partition", "--models", "/no/such/models"],
                              ["/no/such/models", "a folder of <model_id>.yaml"]),
    "bad model file": (["run", "performance", "--models", "{models}"],
                       ["m.yaml", "key 'problem_type'", "'ranking'"]),
    "vacuum retention under a day": (
        ["run", "maintain", "--conf", "{short_vacuum.yaml}"],
        ["{short_vacuum.yaml}", "key 'maintain.vacuum_retention_hours'",
         "expected a number of hours >= 24", "got 0"]),
}


@pytest.mark.parametrize("case", list(USER_ERRORS))
def test_a_user_error_is_one_line_and_exit_2(case, files, tmp_path):
    args, fragments = USER_ERRORS[case]
    fill = {f"{{{name}}}": str(path) for name, path in files.items()}

    def filled(text: str) -> str:
        for key, value in fill.items():
            text = text.replace(key, value)
        return text

    result = _inferwatch(*map(filled, args), tmp_path=tmp_path)
    _one_error_line(result, *map(filled, fragments))
    assert result.stdout == ""


def test_a_config_file_that_is_not_utf8_is_one_line(files, tmp_path):
    result = _inferwatch("run", "partition", "--conf", str(files["latin1.yaml"]),
                         tmp_path=tmp_path)
    _one_error_line(result, str(files["latin1.yaml"]))


@pytest.mark.parametrize("args, fragment", [
    (["run", "nope"], "'nope' is not one of 'partition', 'join-labels', 'profile', 'drift', 'multivariate', 'performance', 'quality', 'alerts', 'rollup'"),
    (["run", "partition", "--hour", "yesterday"], "'yesterday' is not an ISO timestamp"),
    (["run", "partition", "--hour", "2026-03-02T10", "--start", "2026-03-02"],
     "either --hour or --start/--end"),
])
def test_a_command_line_mistake_is_clicks_short_usage_error(args, fragment, tmp_path):
    result = _inferwatch(*args, tmp_path=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) <= 3 and lines[0].startswith("Usage: inferwatch"), result.stderr
    assert lines[-1].startswith("Error: ") and fragment in lines[-1], result.stderr


def test_the_guard_catches_a_spark_start(tmp_path):
    """A command that does start Spark fails under the guard, so the cases above prove
    their errors come before any JVM."""
    result = _inferwatch("run", "partition", "--lake", str(tmp_path / "lake"), tmp_path=tmp_path)
    assert result.returncode != 0
    assert "no-spark-here" in result.stderr


SECRET = "XyZsEcReTtOkEn"


@pytest.mark.parametrize("args, conf, shown", [
    pytest.param(["run", "alerts"],
     f"alerts: {{webhook_url: 'htps://hooks.slack.com/services/T0/B0/{SECRET}'}}\n",
     "got 'htps://hooks.slack.com/***'", id="webhook"),
    pytest.param(["show", "performance", "--lake",
                  f"hdfs://me:{SECRET}@nn:8020/lake?delegation={SECRET}"],
                 "", "'hdfs://***@nn:8020/***'", id="lake-show"),
    pytest.param(["check-runs", "--since", "2026-03-02T10:00", "--lake",
                  f"hdfs://nn/lake?sig={SECRET}"], "", "'hdfs://nn/***'", id="lake-check-runs"),
])
def test_an_error_line_never_shows_a_secret_whole(args, conf, shown, tmp_path):
    path = tmp_path / "env.yaml"
    path.write_text(conf or "lake: lake\n")
    result = _inferwatch(*args, "--conf", str(path), tmp_path=tmp_path)
    line = _one_error_line(result, str(path), shown)
    assert SECRET not in result.stderr + result.stdout, line
