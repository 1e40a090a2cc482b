"""The serving-side logger: many threads and two processes with no JVM logging into one
lake while the hourly pipeline runs; a storage outage; a flush whose outcome was unknown;
the flushes of a process that died; and no bad input ever raising into the caller."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from deltalake import DeltaTable

from inferwatch.jobs import hourly, partition
from inferwatch.runs import runs
from inferwatch.ingest.contract import unsafe_names_refused
from inferwatch.log import InferenceLogger
from inferwatch.log import flusher
from inferwatch.log import writer as lake_writer
from tests.helpers import context, delta_frame
from tests.ingest.test_logger_rules import _corpus

ROWS, THREADS = 1500, 3


def _ids(lake: Path, table: str = "raw/inferences") -> Counter:
    return Counter(delta_frame(f"{lake}/{table}", ["inference_id"])["inference_id"])


def _logger(lake: Path, tmp_path: Path, **options) -> InferenceLogger:
    return InferenceLogger(str(lake), model_id="fraud", models_dir="conf/models",
                           spill_dir=tmp_path / "spill", flush_seconds=0.1, **options)


def test_processes_and_threads_log_while_hourly_runs(spark, tmp_path):
    lake = tmp_path / "lake"
    producers = [subprocess.Popen(
        [sys.executable, "-m", "tests.log.producer", str(lake), name, str(ROWS), str(THREADS),
         str(tmp_path / "spill")], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "JAVA_HOME": "/nonexistent"}) for name in ("p1", "p2")]
    ctx = context(spark, lake)
    while not (DeltaTable.is_deltatable(str(lake / "raw/inferences"))
               and DeltaTable(str(lake / "raw/inferences")).version() >= 3):
        assert all(p.poll() is None for p in producers), "a producer died before logging"
        time.sleep(0.1)
    assert all(p.poll() is None for p in producers)
    pipeline = hourly.run(ctx)  # the whole pipeline, while both processes append
    assert all(r.status == "ok" for r in pipeline), [r.summary() for r in pipeline]
    assert pipeline[0].job == "partition" and pipeline[0].rows_out > 0
    stats = [json.loads(p.communicate(timeout=600)[0]) for p in producers]
    assert [p.returncode for p in producers] == [0, 0]
    for s in stats:
        assert s["pyspark"] is False  # no pyspark, so no JVM, in a serving process
        assert s["logged"] == THREADS * ROWS * 11 // 10 == s["flushed"], s
        # a commit that lost a race (two first flushes adding the feature columns at once:
        # "Metadata changed") is an error counted, spilled and committed on the next pass
        assert s["dropped"] == s["quarantined"] == s["spill_pending"] == 0, s
        assert s["commits"] > 10, s  # many small commits raced the other process
    partition.run(ctx)
    expected = {f"{p}-{t}-{i}" for p in ("p1", "p2") for t in range(THREADS)
                for i in range(ROWS)}
    got = _ids(lake, "inferences")
    assert set(got) == expected and set(got.values()) == {1}
    assert all(r["status"] == "ok" for r in runs(str(lake), "partition"))


def test_a_storage_outage_loses_nothing(tmp_path):
    lake = tmp_path / "lake"
    logger = _logger(lake, tmp_path)
    for i in range(100):
        logger.log(f"before-{i}", prediction=0.1)
    assert logger.flush()
    lake.rename(tmp_path / "away")
    lake.write_text("the lake is unreachable")  # every write under it now fails
    for i in range(300):
        logger.log(f"during-{i}", prediction=0.2)
    assert logger.flush() is False  # kept on local disk, not in the lake
    outage = logger.stats()
    assert outage["spilled"] == 300 and outage["spill_pending"] >= 1 and outage["errors"] >= 1
    lake.unlink()
    (tmp_path / "away").rename(lake)
    for i in range(50):
        logger.log(f"after-{i}", prediction=0.3)
    assert logger.flush()
    logger.close()
    got = _ids(lake)
    assert len(got) == 450 and set(got.values()) == {1}
    assert logger.stats()["flushed"] == 450


def test_a_full_spill_drops_and_counts(tmp_path):
    lake = tmp_path / "lake"
    lake.write_text("no lake")
    logger = _logger(lake, tmp_path, max_spill_bytes=5_000)
    for i in range(200):
        logger.log(f"x-{i}", prediction=0.5)
        if i % 20 == 19:
            assert logger.flush() is False
    stats = logger.stats()
    assert 0 < stats["spilled"] < 200
    assert stats["dropped"] == 200 - stats["spilled"] > 0
    lake.unlink()
    logger.close()
    assert len(_ids(lake)) == stats["spilled"]


def test_a_flush_that_landed_though_the_store_said_no_is_not_doubled(tmp_path, monkeypatch):
    real, calls = lake_writer.write_deltalake, []

    def lands_then_fails(*args, **kwargs):
        real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            raise OSError("connection reset after the commit landed")

    monkeypatch.setattr(lake_writer, "write_deltalake", lands_then_fails)
    lake = tmp_path / "lake"
    with _logger(lake, tmp_path) as logger:
        for i in range(20):
            logger.log(f"once-{i}", prediction=0.5)
        assert logger.flush()
        assert logger.stats()["errors"] == 1
    got = _ids(lake)
    assert len(got) == 20 and set(got.values()) == {1}


def _orphan(spill: Path, rows: list[dict]) -> None:
    """The spill folder of a logger (of the previous version) whose process is gone,
    holding `rows` as its flush 3."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    orphan = spill / "inferwatch-logger-dead"
    orphan.mkdir(parents=True)
    (orphan / "owner.pid").write_text(dead)
    (orphan / "000000000003.inferences.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows) + "\n")


def _rows(prefix: str, n: int, **extra) -> list[dict]:
    return [{"inference_id": f"{prefix}-{i}", "model_id": "fraud", "prediction": "0.5",
             "ts": "2026-03-02T10:00:00Z", **extra} for i in range(n)]


def test_flushes_of_a_dead_process_are_delivered_by_the_next(tmp_path):
    spill = tmp_path / "spill"
    rows = _rows("orphan", 5)
    _orphan(spill, rows)
    lake = tmp_path / "lake"
    with _logger(lake, tmp_path) as logger:
        assert logger.flush()
    assert sorted(_ids(lake)) == sorted(r["inference_id"] for r in rows)
    assert DeltaTable(str(lake / "raw/inferences")).transaction_version(
        "inferwatch-logger-dead") == 3
    assert not any(spill.iterdir())


def test_a_running_logger_takes_the_folder_of_one_that_died_since(tmp_path, monkeypatch):
    monkeypatch.setattr(flusher, "ADOPT_SECONDS", 0.2)
    with _logger(tmp_path / "lake", tmp_path) as logger:
        _orphan(tmp_path / "spill", _rows("later", 5))  # died after this logger started
        deadline = time.monotonic() + 30
        while logger.stats()["flushed"] < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert sorted(_ids(tmp_path / "lake")) == [f"later-{i}" for i in range(5)]
    assert not any((tmp_path / "spill").iterdir())


def test_a_spilled_row_with_a_name_no_raw_table_may_hold_is_quarantined(tmp_path):
    # `log()` refuses such a row; a spill file of an earlier version may still hold one
    _orphan(tmp_path / "spill", _rows("fine", 2) + _rows("dotted", 1, **{"user.age": "3"}))
    lake = tmp_path / "lake"
    with _logger(lake, tmp_path) as logger:
        assert logger.flush()
    assert sorted(_ids(lake)) == ["fine-0", "fine-1"]
    assert "user.age" not in DeltaTable(str(lake / "raw/inferences")).schema().to_arrow().names
    quarantined = delta_frame(str(lake / "quarantine"), ["row", "reason"])
    assert [json.loads(r)["inference_id"] for r in quarantined["row"]] == ["dotted-0"]
    assert list(quarantined["reason"]) == [unsafe_names_refused(["user.age"])]


@pytest.mark.parametrize("bad", [
    {"inference_id": None}, {"inference_id": object()}, {"inference_id": "t", "ts": "yesterday"},
    {"inference_id": "n", "prediction": float("nan")}, {"inference_id": "f", "features": 5},
    {"inference_id": "o", "features": {"amount": object(), "deep": {"a": [1, {2}]}}},
    {"inference_id": "L" * 10_000, "prediction": "high"},
])
def test_log_never_raises(tmp_path, bad):
    lake = tmp_path / "lake"
    with _logger(lake, tmp_path) as logger:
        logger.log(**bad)
        logger.log_batch(_corpus())
        logger.log_batch(None)
        logger.log_label(None, label=object())
        assert logger.flush()
        stats = logger.stats()
    # the call with `bad` is logged or, if it is no call at all (features=5), an error;
    # the corpus rows and the label are logged; log_batch(None) is an error
    assert stats["logged"] + stats["errors"] == len(_corpus()) + 3
    assert stats["logged"] == stats["flushed"] + stats["quarantined"]


def test_log_returns_at_once_while_a_flush_commits(tmp_path, monkeypatch):
    release = threading.Event()
    real = lake_writer.write_deltalake
    monkeypatch.setattr(lake_writer, "write_deltalake",
                        lambda *a, **k: (release.wait(30), real(*a, **k)))
    with _logger(tmp_path / "lake", tmp_path, flush_rows=10) as logger:
        for i in range(50):  # the first flush blocks in the store: log() must not wait
            logger.log(f"q-{i}", prediction=0.5)
        assert logger.stats()["logged"] == 50
        release.set()
        assert logger.flush()
    assert len(_ids(tmp_path / "lake")) == 50
