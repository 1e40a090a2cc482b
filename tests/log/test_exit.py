"""A serving process that logs and exits, with `close()` or without: it exits 0, says
nothing on stderr when nothing went wrong (no "commit failed" for rows that were
committed, no abort as native threads are torn down), and every row it logged is in the
lake or, should a commit have failed, in its spill folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from deltalake import DeltaTable

RUNS, ROWS = 20, 100  # processes per way of exiting, rows each
AT_ONCE = 4  # two cores, shared: 40 processes of ~1 s run four at a time
NEVER_SAID = ("commit failed", "terminate called", "Traceback", "inferwatch logger")


def _exit(tmp_path: Path, how: str, run: int) -> tuple[str, Path, subprocess.CompletedProcess]:
    name = f"{how}{run}"
    lake, spill = tmp_path / name / "lake", tmp_path / name / "spill"
    done = subprocess.run(
        [sys.executable, "-m", "tests.log.short_lived", str(lake), str(spill), name, str(ROWS),
         how], capture_output=True, text=True, timeout=120,
        env={**os.environ, "JAVA_HOME": "/nonexistent"})
    return name, lake, done


def _kept(lake: Path) -> list[str]:
    """Ids committed to the raw table and ids waiting in the spill folder."""
    table = lake / "raw/inferences"
    ids = (DeltaTable(str(table)).to_pyarrow_table(columns=["inference_id"])
           .column("inference_id").to_pylist() if table.exists() else [])
    for file in sorted((lake.parent / "spill").rglob("*.jsonl")):
        ids += [json.loads(line)["inference_id"] for line in file.read_text().splitlines()]
    return ids


def test_a_logging_process_exits_cleanly_with_or_without_close(tmp_path):
    jobs = [(how, run) for run in range(RUNS) for how in ("close", "exit")]
    with ThreadPoolExecutor(AT_ONCE) as pool:
        exits = list(pool.map(lambda job: _exit(tmp_path, *job), jobs))
    for name, lake, done in exits:
        assert done.returncode == 0, (name, done.returncode, done.stderr)
        assert not [s for s in NEVER_SAID if s in done.stderr], (name, done.stderr)
        assert sorted(_kept(lake)) == sorted(f"{name}-{i}" for i in range(ROWS)), name
