"""What a run shows on the console: its results and its progress, not the warnings of the
libraries under it.

Quiet by default: the JVM logs errors only (the packaged `log4j2.properties`, given to
the driver when inferwatch starts Spark), Great Expectations logs errors only, and the
Python warnings GX, pandas and pyarrow raise about their own internals are filtered by
category and module. `inferwatch -v` (`configure(verbose=True)`) shows all of it again:
INFO logging, Spark's own log configuration.

Progress goes to stderr through `progress(...)`: a live line (tqdm) on a terminal, a
plain line every 10 % (at most one per 10 s, at least one per 30 s) otherwise (CI,
Airflow logs), nothing under pytest unless `INFERWATCH_PROGRESS=1` asks for it
(`INFERWATCH_PROGRESS=0` turns it off everywhere).
"""
from __future__ import annotations

import logging
import math
import os
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Callable, Iterable
from typing import Iterator, TextIO, TypeVar

LOG4J2 = Path(__file__).with_name("log4j2.properties")
PROGRESS_ENV = "INFERWATCH_PROGRESS"
# libraries whose log lines are not errors a user acts on
QUIET_LOGGERS = ("great_expectations", "py4j", "pyspark", "urllib3", "matplotlib")
# (category, module regex) of the warnings libraries raise about themselves: deprecations
# inside GX, marshmallow and pyspark's pandas conversions, pandas' own FutureWarnings
QUIET_WARNINGS = ((DeprecationWarning, r"(great_expectations|marshmallow|pyspark|pandas|"
                                       r"pyarrow|altair|jsonschema)(\.|$)"),
                  (FutureWarning, r"(great_expectations|pyspark|pandas|pyarrow)(\.|$)"),
                  (UserWarning, r"(great_expectations|pyspark|pyarrow)(\.|$)"),
                  (PendingDeprecationWarning, r"(great_expectations|marshmallow)(\.|$)"))
# the lines mode: a line when the loop has gone this share further, at most one per
# LINE_GAP seconds, and one after LINE_SECONDS however little it went; and the last
LINE_STEP, LINE_GAP, LINE_SECONDS = 0.1, 10.0, 30.0
QUICK = 1.0  # seconds: a loop done sooner says nothing

_state = {"verbose": False}
T = TypeVar("T")


def configure(verbose: bool) -> None:
    """Set the process's logging and warnings for the command line: WARNING for our own
    modules (ERROR for the libraries in QUIET_LOGGERS) and library warnings filtered, or
    INFO and everything with `verbose`."""
    _state["verbose"] = verbose
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # on the handlers, not only the loggers: a library module may set its own logger's
    # level at import (GX's data_context.types.base sets INFO), overriding its parent's
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, _QuietLibraries)]:
            handler.removeFilter(old)  # a second command in the same process (tests)
        if not verbose:
            handler.addFilter(_QuietLibraries())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.ERROR)
    if verbose:
        return
    for category, module in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", category=category, module=module)


class _QuietLibraries(logging.Filter):
    """Errors only from the loggers in QUIET_LOGGERS (and their children)."""

    def filter(self, record: logging.LogRecord) -> bool:
        library = record.name.split(".", 1)[0] in QUIET_LOGGERS
        return record.levelno >= logging.ERROR or not library


def verbose() -> bool:
    """Whether the user asked for everything (`inferwatch -v`)."""
    return _state["verbose"]


def _mode(stream: TextIO) -> str:
    """'live', 'lines' or 'off'."""
    asked = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if asked in ("0", "off", "no", "false"):
        return "off"
    if not asked and os.environ.get("PYTEST_CURRENT_TEST"):
        return "off"  # tests read their own output; they ask when they check progress
    if asked == "lines":
        return "lines"
    isatty = getattr(stream, "isatty", None)
    return "live" if isatty is not None and isatty() else "lines"


class Meter:
    """The progress of one loop over `total` items: `advance()` after each, `current` says
    which one is being worked on. Use through `progress(...)`."""

    def __init__(self, label: str, total: int, unit: str, stream: TextIO | None = None):
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream or sys.stderr
        self.mode = _mode(self.stream) if total > 0 else "off"
        self.done, self.current = 0, ""
        self._t0 = self._said_at = time.monotonic()
        self._said = 0
        self._bar = None
        if self.mode == "live":
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, file=self.stream, leave=False,
                             unit=_short(unit), dynamic_ncols=True, mininterval=0.5,
                             bar_format=self._live_format())

    def working_on(self, current: str) -> None:
        """Name the item being worked on (a model), shown after the count."""
        self.current = current
        if self._bar is not None:
            self._bar.bar_format = self._live_format()
            self._bar.refresh()

    def _live_format(self) -> str:
        current = f" ({self.current})" if self.current else ""
        return ("{desc}: {n_fmt}/{total_fmt} " + self.unit + current.replace("{", "{{")
                .replace("}", "}}") + ", {rate_fmt}, ETA {remaining}")

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode == "lines" and self._due():
            self._say()

    def close(self) -> None:
        """The last line, unless the loop was over in a blink with nothing said (a run
        with nothing to do prints no `2/2 models in 0:00` lines)."""
        if self._bar is not None:
            self._bar.close()
        elif self.mode == "lines" and self.done and self._said < self.done and (
                self._said or time.monotonic() - self._t0 >= QUICK):
            self._say()

    def line(self) -> str:
        """`[quality] fraud: 34/72 hours, 2.1 h/s, ETA 0:17`"""
        elapsed = time.monotonic() - self._t0
        current = f" ({self.current})" if self.current else ""
        text = f"{self.label}: {self.done}/{self.total} {self.unit}{current}"
        if not self.done or elapsed <= 0:
            return text
        rate, short = self.done / elapsed, _short(self.unit)
        speed = f"{rate:.1f} {short}/s" if rate >= 1 else f"{1 / rate:.1f} s/{short}"
        left = (self.total - self.done) / rate
        return (f"{text}, {speed}, " + (f"ETA {_clock(left)}" if left > 0
                                        else f"in {_clock(elapsed)}"))

    def _due(self) -> bool:
        if self.done >= self.total:
            return False  # close() says the last
        since = time.monotonic() - self._said_at
        step = max(1, math.ceil(self.total * LINE_STEP))
        return since >= LINE_GAP and (self.done // step > self._said // step
                                      or since >= LINE_SECONDS)

    def _say(self) -> None:
        self._said, self._said_at = self.done, time.monotonic()
        print(self.line(), file=self.stream, flush=True)


@contextmanager
def progress(label: str, total: int, unit: str) -> Iterator[Meter]:
    """A `Meter` for a loop, closed at the end; `label` names the job (and model), e.g.
    `with progress("[quality] fraud", len(hours), "hours") as meter: ... meter.advance()`."""
    meter = Meter(label, total, unit)
    try:
        yield meter
    finally:
        meter.close()


def each(label: str, items: Iterable[T], unit: str,
         name: Callable[[T], str] | None = None) -> Iterator[T]:
    """`items` with a `progress` meter: counted as the loop asks for the next, so a
    `continue` counts too; `name(item)` says which one is being worked on."""
    items = list(items)
    with progress(label, len(items), unit) as meter:
        for item in items:
            if name is not None:
                meter.working_on(name(item))
            yield item
            meter.advance()


def _short(unit: str) -> str:
    return {"hours": "h", "models": "model", "jobs": "job"}.get(unit, unit)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return (f"{hours}:" if hours else "") + (f"{rest // 60:02d}:{rest % 60:02d}" if hours
                                            else f"{rest // 60}:{rest % 60:02d}")
