"""The options every command shares, and how a command line becomes the one `Context` the
command runs with: values are checked while parsing, the config is read before any JVM."""
from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone

import click


def _unset_if_empty(_ctx, _param, value: str | None) -> str | None:
    return value or None  # "" is "not set" (airflow_dags/ passes the Variables as they are)


# A command's own options that go into its Context instead of its arguments.
CONTEXT_OPTIONS = ("model", "start", "end", "rebuild")


def common(func=None, *, read_models: bool = True):
    """--conf, --lake and --models; the command is called with `ctx`, the one `Context`
    built from them and from its own --model, --start, --end, --hour and --rebuild. The
    config is read (and refused) here, before any JVM: Spark starts when a job first
    touches the lake. `read_models=False`: a command that reads only the lake (show,
    report, check-runs) works without the model descriptions."""
    def decorate(func):
        @functools.wraps(func)
        def with_context(conf: str, lake: str | None, models_dir: str | None, **options):
            from inferwatch.context import open_context

            given = {name: options.pop(name) for name in CONTEXT_OPTIONS if name in options}
            hour = options.pop("hour", None)
            if hour is not None:
                if given.get("start") or given.get("end"):
                    raise click.UsageError("give either --hour or --start/--end, not both")
                given.update(start=hour, end=hour + timedelta(hours=1))
            ctx = open_context(conf, lake, models_dir, read_models=read_models, **given)
            return func(ctx, **options)

        with_context = click.option(
            "--models", "models_dir", default=None, callback=_unset_if_empty,
            envvar="INFERWATCH_MODELS",
            help="Folder of model descriptions (default: $INFERWATCH_MODELS, else from "
                 "--conf).")(with_context)
        with_context = click.option(
            "--lake", default=None, callback=_unset_if_empty, envvar="INFERWATCH_LAKE",
            help="Lake root (default: $INFERWATCH_LAKE, else from --conf).")(with_context)
        return click.option("--conf", default="conf/local.yaml", show_default=True,
                            help="Environment file.")(with_context)

    return decorate if func is None else decorate(func)


# Options' callbacks: a bad value is refused while parsing, before the config is read.

def a_moment(_ctx, _param, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise click.BadParameter(
            f"'{value}' is not an ISO timestamp like 2026-03-02T10:00") from err
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def an_hour(_ctx, _param, value: str | None) -> datetime | None:
    moment = a_moment(_ctx, _param, value)
    return None if moment is None else moment.replace(minute=0, second=0, microsecond=0)


def checked_sources(_ctx, _param, value):
    """Input files are refused before the config is read and before a JVM starts."""
    from inferwatch.ingest.sources import check_source

    for path in [value] if isinstance(value, str) else value or ():
        check_source(path)
    return value
