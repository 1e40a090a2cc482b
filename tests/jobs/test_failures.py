"""`inferwatch check-runs --since`: the scheduler's last step fails when a job left a
model (or a run) failed since its run started; a job retried after a failure and then
done is no failure, and rows from before the moment do not count. Through the real
console script, on a `job_runs` table written with delta-rs (no Spark)."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake

REPO = Path(__file__).resolve().parents[2]
INFERWATCH = Path(sys.executable).with_name("inferwatch")
SINCE = datetime(2026, 3, 3, 10, 2, tzinfo=timezone.utc)


def _row(minutes: int, job: str, model: str | None, status: str, error: str | None = None,
         details: dict | None = None) -> dict:
    return {"run_id": f"r{minutes}", "job": job, "model_id": model,
            "started_at": SINCE + timedelta(minutes=minutes), "status": status,
            "error": error, "details": None if details is None else json.dumps(details)}


def _check(lake: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(INFERWATCH), "check-runs", "--lake", str(lake), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_check_runs_lists_what_was_left_failed_since_a_moment(tmp_path):
    lake = tmp_path / "lake"
    rows = [
        _row(-30, "drift", "fraud", "failed", "an earlier DAG run's"),  # before: not counted
        _row(1, "profile", None, "failed", "RuntimeError: worker lost"),  # retried, then ok
        _row(5, "profile", None, "ok"), _row(5, "profile", "eta", "ok"),
        _row(9, "drift", None, "partial"), _row(9, "drift", "fraud", "ok"),
        _row(9, "drift", "eta", "failed", "ValueError: baseline.source 'b.parquet' missing"),
        _row(20, "maintain", None, "partial", details={"quarantine": {"errors": ["OSError"]}}),
    ]
    schema = pa.schema([("run_id", pa.string()), ("job", pa.string()),
                        ("model_id", pa.string()), ("started_at", pa.timestamp("us", "UTC")),
                        ("status", pa.string()), ("error", pa.string()),
                        ("details", pa.string())])
    write_deltalake(str(lake / "job_runs"), pa.Table.from_pylist(rows, schema=schema))

    found = _check(lake, "--since", SINCE.isoformat())

    assert found.returncode == 1, found.stderr
    assert found.stderr.splitlines() == [
        "drift eta failed: ValueError: baseline.source 'b.parquet' missing",
        "drift run partial:",
        'maintain run partial: details: {"quarantine": {"errors": ["OSError"]}}',
    ]
    only = _check(lake, "--since", SINCE.isoformat(), "--jobs", "profile,rollup")
    assert only.returncode == 0, only.stderr
    assert only.stdout.strip() == ("ok: 3 job_runs rows since 2026-03-03T10:02:00+00:00, "
                                   "none failed")
    unknown = _check(lake, "--since", SINCE.isoformat(), "--jobs", "profiles")
    assert unknown.returncode == 2 and "unknown job 'profiles'" in unknown.stderr


def test_the_command_ends_cleanly_after_reading_with_delta_rs(tmp_path):
    """delta-rs' native threads can abort a process at interpreter exit (SIGABRT, exit
    134, after its work was done: 3 of 10 runs here before the script ended itself)."""
    lake = tmp_path / "lake"
    schema = pa.schema([("run_id", pa.string()), ("job", pa.string()),
                        ("model_id", pa.string()), ("started_at", pa.timestamp("us", "UTC")),
                        ("status", pa.string()), ("error", pa.string()),
                        ("details", pa.string())])
    write_deltalake(str(lake / "job_runs"), pa.Table.from_pylist(
        [_row(5, "profile", None, "ok")], schema=schema))
    ended = [_check(lake, "--since", SINCE.isoformat()) for _ in range(12)]
    assert [e.returncode for e in ended] == [0] * 12, [e.stderr for e in ended]
    assert not any("terminate called" in e.stderr for e in ended)
