"""`inferwatch suggest` and `inferwatch tune`: write a model's quality suite to a file the
user reviews and commits (referenced from the model description as `quality.suite`)."""
from __future__ import annotations

from pathlib import Path

from inferwatch.console import progress
from inferwatch.context import Context
from inferwatch.errors import UserError
from inferwatch.granularity import utc
from inferwatch.quality.fleet import Work, validate_fleet
from inferwatch.quality.suggest import from_baseline
from inferwatch.quality.suite import model_suite, suggest_from, suite_path, write_suite
from inferwatch.quality.tune import TARGET_PER_WEEK, format_report, tune


def default_path(model_id: str) -> Path:
    return Path("suites") / f"{model_id}.yaml"


def suggest(ctx: Context, baseline: str | None, out: str | None) -> str:
    """Write the suite suggested from a baseline of `ctx.model` (default: the one its
    description names); returns the line the CLI prints."""
    model = ctx.one_model()
    model_id = model.model_id
    name = baseline or suggest_from(model) or "default"
    specs = from_baseline(ctx.lake, model, name)
    if specs is None:
        raise UserError(f"model {model_id} has no baseline '{name}': store one with "
                        f"`inferwatch baseline --model {model_id} ...` first")
    path = Path(out) if out else default_path(model_id)
    write_suite(path, f"{model_id}.suggested", specs)
    return (f"{len(specs)} expectations suggested from baseline '{name}' written to {path}; "
            f"review it and set `quality: {{suite: {path}}}` in {model.path.name} "
            "(a relative path is read from the model description's folder)")


def tune_suite(ctx: Context, out: str | None, target_per_week: float = TARGET_PER_WEEK) -> str:
    """Replay `ctx.model`'s suite over [`ctx.start`, `ctx.end`), tune it, write it; returns
    the report."""
    model = ctx.one_model()
    model_id, start, end = model.model_id, ctx.start, ctx.end
    if start is None or end is None:
        raise ValueError("tune replays the hours ctx.start .. ctx.end: both are needed")
    suite = model_suite(ctx.lake, model)
    if suite is None:
        raise UserError(f"model {model_id} has no suite yet: no baseline to suggest from "
                        "and no quality.expectations")
    name, specs = suite
    table = ctx.lake.table("inferences")
    version = table.version()
    hours = sorted(utc(p["hour"]) for p in table.partitions(version, model_id=model_id)
                   if start <= utc(p["hour"]) < end)
    if not hours:
        raise UserError(f"no inferences of model {model_id} between {start.isoformat()} and "
                        f"{end.isoformat()}")
    with progress(f"[tune] {model_id}: {len(hours)} hours in one pass", 1, "passes") as meter:
        results = validate_fleet(ctx.lake, {model_id: Work(model, name, specs, set(hours))},
                                 version)[model_id][0]
        meter.advance()
    tuned, report = tune(specs, results, len(hours), target_per_week)
    path = Path(out) if out else (suite_path(model) or default_path(model_id))
    write_suite(path, name, tuned)
    return (f"{format_report(report)}\ntuned on {len(hours)} hours (target: at most "
            f"{target_per_week:g} failure per expectation per week); written to {path}")
