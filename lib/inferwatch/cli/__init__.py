"""The `inferwatch` command line: `entry` runs a command line (the installed script, and
`spark-submit jobs/submit.py JOB`), turning a user mistake into one line and exit code 2.
The commands are in `cli.commands`, the options they share in `cli.options`."""
from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

import click

from inferwatch.cli.commands import main
from inferwatch.errors import UserError, one_line
from inferwatch.redact import redact

__all__ = ["console", "entry", "main"]

SPARK_MODULES = ("pyspark", "py4j", "delta", "scipy", "great_expectations")


def entry(argv: Sequence[str] | None = None) -> None:
    """The `inferwatch` command: a user mistake is one line on stderr and exit code 2; a
    bug, its traceback and exit code 1. Both redacted (`inferwatch.redact`). A Spark
    Connect session the command opened is stopped when it ends."""
    try:
        main(args=None if argv is None else list(argv), standalone_mode=True)
    except UserError as err:
        click.echo(f"error: {redact(one_line(str(err)))}", err=True)
        sys.exit(2)
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] not in SPARK_MODULES:
            raise
        click.echo(f"error: this command runs Spark jobs and needs module '{err.name}': "
                   "pip install 'inferwatch[spark]'", err=True)
        sys.exit(2)
    except Exception:  # noqa: BLE001 - printed as Python would, secrets masked
        click.echo(redact(traceback.format_exc()), err=True, nl=False)
        sys.exit(1)
    finally:
        if "pyspark.sql.connect.session" in sys.modules:
            from inferwatch.session import release_remote

            release_remote()


def console() -> None:
    """The installed `inferwatch` script: `entry`, then the process ends at once when no
    JVM was started. A process that read tables with delta-rs (show, check-runs, explain)
    can otherwise abort at interpreter exit, after its work is done, when native threads
    are torn down late ("terminate called without an active exception", SIGABRT; delta-rs
    #2184), and a scheduler reports that as a crash."""
    try:
        entry()
        code: int | str | None = 0
    except SystemExit as done:
        code = done.code
    if isinstance(code, str):
        click.echo(code, err=True)
        code = 1
    if _jvm_started():  # a Spark session to stop in order: the normal exit
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


def _jvm_started() -> bool:
    pyspark = sys.modules.get("pyspark")
    context = getattr(pyspark, "SparkContext", None)
    return getattr(context, "_active_spark_context", None) is not None

