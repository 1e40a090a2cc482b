"""The quality job: every changed model-hour of every model judged against the model's
Great Expectations suite in one pass, plus the signals GX does not see on its own, into
`metrics/quality` with one commit.

For each model, the hours whose `inferences` or `state/deliveries` changed since its
last run (`jobs.todo`), with the expectations of the model's suite
(`quality.suite.model_suite`: the reviewed file, else the suite suggested from its
baseline, plus the description's own expectations; the row-count bounds are those of the
hour's hour of day). `quality.fleet` judges them all from one scan of the rows (what it
cannot judge, GX validates on the rows). The hour's duplicate and quarantine rates are
added as rows, and hours of the lake's clock in which the model has no row are judged
as empty hours (a stopped feed). The rows replace those hours in `metrics/quality`. A
model with no suite yet (no baseline, no expectations) owes its hours to a later run; a
model whose suite GX refuses fails alone.
"""
from __future__ import annotations

from datetime import datetime

from inferwatch.context import Context
from inferwatch.jobs.todo import rows_listed, run_fleet
from inferwatch.lake.schema import rows_frame
from inferwatch.metrics.window_store import replace_fleet_windows
from inferwatch.model_config import ModelConfig
from inferwatch.quality import signals
from inferwatch.quality.fleet import Work, validate_fleet
from inferwatch.quality.suite import model_suite, rate_limits
from inferwatch.quality.validate import QUALITY_SCHEMA, stored_kwargs
from inferwatch.runs import Progress, Run

JOB = "quality"
INPUTS = ("inferences", "state/deliveries")
TABLE = "metrics/quality"


def run(ctx: Context) -> Run:
    empty = _EmptyHours()
    return run_fleet(ctx, JOB, INPUTS, lambda *a: _prepare(*a, empty=empty), _compute,
                     _write, always=True)


class _EmptyHours:
    """Every model's hours without a row, from one listing (`signals.empty_hours`)."""

    def __init__(self):
        self.found: dict[str, set[datetime]] | None = None

    def of(self, ctx: Context, part: Run, done: Progress) -> set[datetime]:
        """`part`'s model's hours without a row, at the run's version of `inferences`."""
        if self.found is None:
            self.found = signals.empty_hours(
                ctx.lake, {m: done.cursor("inferences", m) for m in ctx.selected_models()},
                part.inputs["inferences"])
        return self.found.get(part.model_id, set())


def _prepare(ctx: Context, model: ModelConfig, hours: set[datetime], part: Run,
             done: Progress, empty: _EmptyHours) -> Work | None:
    lacking = empty.of(ctx, part, done) - hours
    part.owed = sorted(set(part.owed) | {h for h in lacking if not ctx.in_range(h)})
    lacking = {h for h in lacking if ctx.in_range(h)}
    if not hours and not lacking:
        return None
    suite = model_suite(ctx.lake, model, ctx.selected_models())
    if suite is None:
        part.notes.append("no baseline and no expectations yet: quality waits for them")
        part.owed = sorted(set(part.owed) | hours)
        return None
    name, specs = suite
    stored_kwargs(name, specs)  # a spec GX refuses fails this model now, alone
    return Work(model, name, specs, hours, lacking)


def _compute(ctx: Context, work: dict[str, Work], versions: dict[str, int]) -> dict:
    found = validate_fleet(ctx.lake, work, versions["inferences"])
    counts = signals.deliveries(ctx.lake, {m: w.hours | w.empty for m, w in work.items()})
    rows_in = rows_listed(ctx, {m: w.hours for m, w in work.items()}, versions["inferences"])
    out = {}
    for model_id, w in work.items():
        results, n = found[model_id]
        limits = rate_limits(w.model)
        for hour in sorted(w.hours | w.empty):
            results += signals.delivery_rows(w.model, hour, counts.get((model_id, hour)), limits)
        out[model_id] = (w, results, rows_in.get(model_id, 0), n)
    return out


def _write(ctx: Context, results: dict, parts: dict[str, Run]) -> dict[str, int]:
    rows, windows = [], {}
    for model_id, (w, found, rows_in, n) in results.items():
        part = parts[model_id]
        failed = sum(1 for r in found if not r[7])
        part.notes.append(f"{len(found)} expectation results, {failed} failed"
                          + (f", {len(w.empty)} hours without rows" if w.empty else ""))
        part.rows_in, part.rows_out = rows_in, n
        part.check_accounting()
        rows += found
        windows[model_id] = {"1h": sorted(w.hours | w.empty)}
    fresh = rows_frame(ctx.spark, rows, QUALITY_SCHEMA)
    return {TABLE: replace_fleet_windows(ctx.lake, TABLE, windows, fresh)}
