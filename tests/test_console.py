"""The console (`inferwatch.console`): a run's stderr holds its progress and its errors,
not Spark's, the JDK's or Great Expectations' warnings, unless `-v` asks for them; a
progress line is a live line on a terminal and a few plain lines elsewhere.

The last two tests read real `inferwatch` runs: the README walk-through's `run hourly`
(tests/walkthrough.py, run once per session for the README test too: three hours of a
churn model, its stderr a pipe as in CI), and one `-v run partition` (one JVM, ~15-30 s)
on a copy of that walk-through's lake."""
from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from inferwatch import console

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


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    assert INFERWATCH.exists(), f"{INFERWATCH} missing: install the package (make test)"
    env = {**os.environ, console.PROGRESS_ENV: "1"}
    return subprocess.run([str(INFERWATCH), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _hourly(walkthrough) -> tuple[str, subprocess.CompletedProcess]:
    """The walk-through's `inferwatch run hourly ...` command and its completed process."""
    _folder, done = walkthrough
    return next((cmd, process) for cmd, process in done.items()
                if cmd.startswith("inferwatch run hourly"))


def test_a_run_shows_progress_and_no_library_warnings(walkthrough):
    _cmd, quiet = _hourly(walkthrough)  # exited 0 (the walk-through checks it)

    warned = [line for line in quiet.stderr.splitlines() if WARN_LINE.search(line)]
    assert not warned, quiet.stderr
    assert "[quality] running (job 7/8) ..." in quiet.stdout, quiet.stdout
    assert "[quality] ok in " in quiet.stdout, quiet.stdout
    # performance goes model by model; profile, drift and quality plan each model, then
    # compute every model at once (a step done within `console.QUICK` says nothing)
    for job in ("profile", "drift", "performance", "quality"):
        line = (rf"^\[{job}\]( computing| planning)?: 1/1 models \(churn\), [\d.]+ "
                r"(model/s|s/model), in \d+:\d\d$")
        assert re.search(line, quiet.stderr, re.MULTILINE), (job, quiet.stderr)


def test_v_brings_the_library_lines_back(walkthrough, tmp_path):
    folder, _done = walkthrough
    cmd, _quiet = _hourly(walkthrough)
    options = cmd.split()[3:]  # the walk-through's --conf
    conf = yaml.safe_load((folder / options[options.index("--conf") + 1]).read_text())
    lake = shutil.copytree(folder / conf["lake"], tmp_path / "lake")  # the shared one stays

    loud = _run("-v", "run", "partition", *options, "--lake", str(lake), cwd=folder)

    assert loud.returncode == 0, loud.stderr
    assert "WARNING: Using incubator modules" in loud.stderr, loud.stderr  # the JDK's own
    assert re.search(r" INFO inferwatch\.session: spark ", loud.stderr), loud.stderr
