"""The console (`inferwatch.console`): a run's stderr holds its progress and its errors,
not Spark's, the JDK's or Great Expectations' warnings, unless `-v` asks for them; a
progress line is a live line on a terminal and a few plain lines elsewhere.

The two subprocess tests run the real `inferwatch` script (one JVM each, ~15-30 s) on a
lake of three rows that the suite's session partitions first."""
from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from inferwatch import console
from tests.helpers import three_inferences_lake

REPO = Path(__file__).resolve().parents[1]
INFERWATCH = Path(sys.executable).with_name("inferwatch")
WARN_LINE = re.compile(r"\bWARN(ING)?\b", re.IGNORECASE)


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture()
def clock(monkeypatch) -> _Clock:
    found = _Clock()
    monkeypatch.setattr(console.time, "monotonic", found)
    return found


def test_plain_lines_come_every_tenth_with_rate_and_eta(monkeypatch, clock):
    monkeypatch.setenv(console.PROGRESS_ENV, "1")
    out = io.StringIO()
    meter = console.Meter("[quality] fraud", 72, "hours", stream=out)
    for _ in range(72):
        clock.now += 2.0
        meter.advance()
    meter.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 9, lines  # at 8, 16, ... 72 hours: not one per hour
    assert lines[0] == "[quality] fraud: 8/72 hours, 2.0 s/h, ETA 2:08", lines
    assert lines[-1] == "[quality] fraud: 72/72 hours, 2.0 s/h, in 2:24", lines


def test_a_fast_loop_is_not_a_flood(monkeypatch, clock):
    monkeypatch.setenv(console.PROGRESS_ENV, "1")
    out = io.StringIO()
    with console.progress("[quality] eta", 500, "hours") as meter:
        meter.stream = out
        for _ in range(500):
            clock.now += 0.0625  # 31 s in all: a line per 10 s at most, and the last
            meter.advance()
    assert out.getvalue().splitlines() == [
        "[quality] eta: 160/500 hours, 16.0 h/s, ETA 0:21",
        "[quality] eta: 320/500 hours, 16.0 h/s, ETA 0:11",
        "[quality] eta: 480/500 hours, 16.0 h/s, ETA 0:01",
        "[quality] eta: 500/500 hours, 16.0 h/s, in 0:31"]


def test_a_slow_loop_says_seconds_per_item_and_still_speaks_every_30_s(monkeypatch, clock):
    monkeypatch.setenv(console.PROGRESS_ENV, "1")
    out = io.StringIO()
    meter = console.Meter("[drift]", 1000, "models", stream=out)
    meter.working_on("fraud")
    for _ in range(4):
        clock.now += 12.0
        meter.advance()
    assert out.getvalue().splitlines() == ["[drift]: 3/1000 models (fraud), 12.0 s/model, "
                                           "ETA 3:19:24"]


def test_a_terminal_gets_one_live_line(monkeypatch):
    monkeypatch.setenv(console.PROGRESS_ENV, "1")
    out = _Terminal()
    meter = console.Meter("[quality] eta", 3, "hours", stream=out)
    for _ in range(3):
        meter.advance()
    meter.working_on("last")  # redraws at once (tqdm redraws at most twice a second)
    shown = out.getvalue()
    meter.close()
    assert meter.mode == "live" and "\r" in shown and "\n" not in shown, shown
    assert "[quality] eta: 3/3 hours (last), " in shown and "h/s" in shown, shown


def test_a_loop_over_in_a_blink_says_nothing_and_each_counts_a_continue(monkeypatch, clock):
    monkeypatch.setenv(console.PROGRESS_ENV, "1")
    out = io.StringIO()
    monkeypatch.setattr(console.sys, "stderr", out)
    for _model in console.each("[drift]", ["eta", "fraud"], "models", name=str):
        pass  # nothing to do: no "2/2 models in 0:00"
    assert out.getvalue() == ""
    for model in console.each("[drift]", ["eta", "fraud"], "models", name=str):
        clock.now += 2.0
        if model == "fraud":
            continue
    assert out.getvalue().splitlines() == ["[drift]: 2/2 models (fraud), 2.0 s/model, in 0:04"]


def test_progress_is_off_under_pytest_unless_asked(monkeypatch):
    monkeypatch.delenv(console.PROGRESS_ENV, raising=False)
    assert console.Meter("[x]", 5, "hours", stream=io.StringIO()).mode == "off"
    monkeypatch.setenv(console.PROGRESS_ENV, "0")
    assert console.Meter("[x]", 5, "hours", stream=_Terminal()).mode == "off"
    monkeypatch.setenv(console.PROGRESS_ENV, "1")
    assert console.Meter("[x]", 5, "hours", stream=io.StringIO()).mode == "lines"


@pytest.fixture()
def restored_logging(monkeypatch):
    monkeypatch.setattr(console, "_state", {"verbose": False})
    names = (*console.QUIET_LOGGERS, "great_expectations.data_context.types.base")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("verbose", [False, True])
def test_library_log_lines_below_error_are_dropped(restored_logging, caplog, verbose):
    console.configure(verbose)
    chatty = logging.getLogger("great_expectations.data_context.types.base")
    chatty.setLevel(logging.INFO)  # as GX does at import
    chatty.info("Created temporary directory")
    chatty.error("a GX error")
    logging.getLogger("inferwatch.jobs").warning("ours")
    shown = [r.getMessage() for r in caplog.records]
    assert shown == (["Created temporary directory", "a GX error", "ours"] if verbose
                     else ["a GX error", "ours"]), shown


@pytest.mark.parametrize("verbose", [False, True])
def test_library_warnings_are_filtered_by_module_not_globally(restored_logging, verbose):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        console.configure(verbose)
        for module in ("great_expectations.core.batch", "pandas.core.frame", "inferwatch.jobs"):
            warnings.warn_explicit("old", DeprecationWarning, f"{module}.py", 1, module=module)
    shown = [w.filename for w in caught]
    if verbose:
        assert len(shown) == 3, shown
    else:  # ours still warns; GX's and pandas' internals do not
        assert shown == ["inferwatch.jobs.py"], shown
        assert logging.getLogger("great_expectations").level == logging.ERROR
    assert console.verbose() is verbose


@pytest.fixture()
def small_lake(spark, tmp_path) -> tuple[Path, Path]:
    """(lake, models folder): three inferences of the repository's models, ingested;
    fraud has one expectation, so the quality job validates its hour with GX."""
    expectations = [{"type": "expect_column_values_to_not_be_null",
                     "kwargs": {"column": "prediction"}}]
    return three_inferences_lake(spark, tmp_path, {"quality": {"expectations": expectations}},
                                 {"amount": [120.0, 80.0, None]})


def _run(*args: str) -> subprocess.CompletedProcess:
    assert INFERWATCH.exists(), f"{INFERWATCH} missing: install the package (make test)"
    env = {**os.environ, console.PROGRESS_ENV: "1"}
    return subprocess.run([str(INFERWATCH), *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_run_shows_progress_and_no_library_warnings_and_v_brings_them_back(small_lake):
    lake, models_dir = small_lake
    where = ("--lake", str(lake), "--models", str(models_dir))

    quiet = _run("run", "hourly", *where)

    assert quiet.returncode == 0, quiet.stderr
    warned = [line for line in quiet.stderr.splitlines() if WARN_LINE.search(line)]
    assert not warned, quiet.stderr
    assert "[quality] running (job 7/8) ..." in quiet.stdout, quiet.stdout
    assert "[quality] ok in " in quiet.stdout, quiet.stdout
    hours = r"^\[quality\] fraud: 1/1 hours, [\d.]+ (h/s|s/h), in \d+:\d\d$"
    assert re.search(hours, quiet.stderr, re.MULTILINE), quiet.stderr
    assert re.search(r"^\[quality\]: 2/2 models \(fraud\), ", quiet.stderr,
                     re.MULTILINE), quiet.stderr

    loud = _run("-v", "run", "partition", *where)

    assert loud.returncode == 0, loud.stderr
    assert "WARNING: Using incubator modules" in loud.stderr, loud.stderr  # the JDK's own
    assert re.search(r" INFO inferwatch\.session: spark ", loud.stderr), loud.stderr
