"""Rows spilled while the lake is away survive any number of logger deaths: a folder
whose holder died is taken by the next logger, also one a dead logger had taken from
another dead one; a live logger's folder is never taken."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.helpers import delta_frame


def _start(lake: Path, spill: Path, name: str, rows: int, how: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.log.short_lived", str(lake), str(spill), name, str(rows),
         how], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "JAVA_HOME": "/nonexistent"})


def _dies(lake: Path, spill: Path, name: str, rows: int) -> dict:
    """Run a logger process that flushes and is killed; its counters at the flush."""
    out, err = _start(lake, spill, name, rows, "die").communicate(timeout=120)
    assert out, err
    return json.loads(out)


def test_spilled_rows_survive_a_logger_that_died_holding_them(tmp_path):
    lake, spill = tmp_path / "lake", tmp_path / "spill"
    lake.write_text("the lake is unreachable")  # every commit fails: flushes spill
    live = _start(lake, spill, "live", 30, "wait")  # spills too, and stays alive
    assert json.loads(live.stdout.readline())["spill_pending"] == 1
    a = _dies(lake, spill, "a", 50)
    assert a["spilled"] == 50 and a["spill_pending"] == 1
    b = _dies(lake, spill, "b", 20)  # takes a's folder, cannot deliver it either, dies
    assert b["spilled"] == 20 and b["spill_pending"] == 2
    lake.unlink()  # the lake is back
    c = _start(lake, spill, "c", 10, "close")  # takes a's and b's folders, not live's
    assert c.communicate(timeout=120)[0] == "" and c.returncode == 0
    ids = Counter(delta_frame(str(lake / "raw/inferences"), ["inference_id"])["inference_id"])
    assert sorted(ids) == sorted([f"a-{i}" for i in range(50)] + [f"b-{i}" for i in range(20)]
                                 + [f"c-{i}" for i in range(10)])
    assert set(ids.values()) == {1}
    live.communicate("\n", timeout=120)  # exits without close(): delivers its own at exit
    assert live.returncode == 0
    ids = Counter(delta_frame(str(lake / "raw/inferences"), ["inference_id"])["inference_id"])
    assert len(ids) == 110 and set(ids.values()) == {1}
    assert not any(spill.iterdir())
