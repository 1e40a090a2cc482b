"""The `inferwatch` commands: each takes the one `Context` its options build
(`cli.options`) and calls into the library."""
from __future__ import annotations

import logging
import sys
from datetime import datetime
from typing import TYPE_CHECKING

import click

from inferwatch.cli.options import a_moment, an_hour, common, checked_sources
from inferwatch.granularity import NAMES
from inferwatch.jobs import JOB_NAMES
from inferwatch.redact import RedactingFilter

if TYPE_CHECKING:
    from inferwatch.context import Context


@click.group(context_settings={"terminal_width": 120, "max_content_width": 120})
@click.option("-v", "--verbose", is_flag=True,
              help="Log details, and Spark's and Great Expectations' warnings.")
def main(verbose: bool) -> None:
    """Monitor ML models in production from the raw log of their inferences."""
    from inferwatch import console

    console.configure(verbose)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


@main.command()
@click.argument("kind", type=click.Choice(["inferences", "labels"]))
@click.argument("paths", nargs=-1, required=True, callback=checked_sources)
@common
def ingest(ctx: Context, kind: str, paths: tuple[str, ...]) -> None:
    """Ingest Parquet, CSV or JSON-lines files into raw/inferences or raw/labels."""
    from inferwatch.ingest import ingest_files

    run = ingest_files(ctx.lake, kind, list(paths), ctx.models)
    click.echo(run.summary() + (f" ({'; '.join(run.notes)})" if run.notes else ""))


@main.command()
@click.argument("job", type=click.Choice(JOB_NAMES), metavar="JOB")
@click.option("--hour", default=None, callback=an_hour, help="Only this hour (ISO, UTC).")
@click.option("--start", default=None, callback=an_hour,
              help="First hour considered (ISO, UTC).")
@click.option("--end", default=None, callback=an_hour,
              help="Last hour considered, exclusive (ISO, UTC).")
@click.option("--model", default=None, help="Only this model.")
@click.option("--rebuild", is_flag=True,
              help="Recompute the range whether or not its input changed (after new slices, "
                   "thresholds or a new baseline).")
@common
def run(ctx: Context, job: str) -> None:
    """Run one job (or `hourly`: all of them in order) incrementally. Exits 0 when some
    models failed and others did not (`partial`: the failed ones are listed on stderr and
    recorded in `job_runs`), 1 when a run failed as a whole."""
    from inferwatch.jobs import run_job
    from inferwatch.jobs.failures import not_ok
    from inferwatch.jobs.hourly import run as run_hourly

    runs = run_hourly(ctx) if job == "hourly" else [run_job(ctx, job)]
    for line in not_ok(runs):
        click.echo(line, err=True)
    if any(r.status == "failed" for r in runs):
        sys.exit(1)


@main.command("check-runs")
@click.option("--since", required=True, callback=a_moment,
              help="Moment the scheduler's run started (ISO, UTC): rows from then on count.")
@click.option("--jobs", default=None,
              help="Comma-separated job names (default: every job).")
@common(read_models=False)
def check_runs(ctx: Context, since: datetime, jobs: str | None) -> None:
    """Exit 1, listing them on stderr, when a job left a model (or a run) failed since
    --since; the last task of each Airflow DAG. Read with delta-rs, no Spark."""
    from inferwatch.jobs.failures import check

    names = None if jobs is None else [j.strip() for j in jobs.split(",") if j.strip()]
    count, failed = check(ctx.env, since, names)
    for line in failed:
        click.echo(line, err=True)
    if failed:
        sys.exit(1)
    click.echo(f"ok: {count} job_runs rows since {since.isoformat()}, none failed")


@main.command()
@click.argument("table")
@click.option("--model", default=None, help="Only rows of this model.")
@click.option("--limit", default=20, show_default=True)
@click.option("--granularity", default=None, type=click.Choice(NAMES))
@click.option("--window", default=None, callback=an_hour,
              help="drift: only this window start (ISO, UTC).")
@common(read_models=False)
def show(ctx: Context, table: str, limit: int, granularity: str | None,
         window: datetime | None) -> None:
    """Print a lake table, or a view: performance, estimates, fairness, profile, drift
    (with --model: what drifted, ranked), drift_metrics (one row per drift statistic).
    Read with delta-rs, no Spark."""
    from inferwatch.summary import drifted
    from inferwatch.summary import show as show_view

    if table == "drift" and ctx.model is not None:
        start = None if window is None else window.isoformat()
        click.echo(drifted(ctx.env.lake, ctx.model, start, granularity or "1h", limit))
        return
    click.echo(show_view(ctx.env.lake, table, model=ctx.model, limit=limit,
                         granularity=granularity))


@main.command()
@click.option("--model", required=True, help="The model the baseline is for.")
@click.option("--source", default=None, callback=checked_sources,
              help="A training set: Parquet or CSV file.")
@click.option("--start", default=None, callback=an_hour,
              help="First hour of a window of inferences (ISO).")
@click.option("--end", default=None, callback=an_hour,
              help="End of that window, exclusive (ISO).")
@click.option("--name", default="default", show_default=True,
              help="Baseline name; drift compares with `default` unless the model says.")
@common
def baseline(ctx: Context, source: str | None, name: str) -> None:
    """Store a named baseline for a model, from a file or a window of the lake."""
    from inferwatch.jobs.baseline import create

    if (source is None) == (ctx.start is None or ctx.end is None):
        raise click.UsageError("give either --source FILE or --start S --end E")
    click.echo(create(ctx, name, source))


@main.command()
@click.option("--model", required=True, help="The model the suite is for.")
@click.option("--baseline", "baseline_name", default=None,
              help="Baseline to suggest from (default: the model's quality.baseline, "
                   "else the one drift compares with).")
@click.option("--out", default=None, help="Suite file, .yaml or .json (default: "
              "suites/<model>.yaml).")
@common
def suggest(ctx: Context, baseline_name: str | None, out: str | None) -> None:
    """Write a Great Expectations suite suggested from a model's baseline."""
    from inferwatch.jobs.suites import suggest as write

    click.echo(write(ctx, baseline_name, out))


@main.command()
@click.option("--model", required=True, help="The model whose suite is tuned.")
@click.option("--start", required=True, callback=an_hour,
              help="First hour of clean history (ISO, UTC).")
@click.option("--end", required=True, callback=an_hour,
              help="End of it, exclusive (ISO, UTC).")
@click.option("--target", default=1.0, show_default=True, type=float,
              help="False failures allowed per expectation per week of history.")
@click.option("--out", default=None, help="Where to write the tuned suite (default: the "
              "model's quality.suite file, else suites/<model>.yaml).")
@common
def tune(ctx: Context, target: float, out: str | None) -> None:
    """Replay a model's suite over past hours and fit its bounds to a false-failure target."""
    from inferwatch.jobs.suites import tune_suite

    if target < 0:
        raise click.BadParameter("--target must be >= 0")
    click.echo(tune_suite(ctx, out, target))


@main.command()
@click.option("--model", required=True, help="The model to explain.")
@click.option("--window", required=True, callback=an_hour,
              help="A moment in the window (ISO, UTC).")
@click.option("--granularity", default="1h", show_default=True,
              type=click.Choice(NAMES))
@click.option("--metric", default=None, help="Metric to rank slices by (default: the "
              "model's main one, e.g. auc).")
@common
def explain(ctx: Context, window: datetime, granularity: str, metric: str | None) -> None:
    """Root-cause hints for a window: slices that dropped, features that drifted,
    expectations that failed, label coverage; and the alerts covering it."""
    from inferwatch.alerts.explain import explain as explain_window

    click.echo(explain_window(ctx.env.lake, ctx.one_model(), window, granularity, metric))


@main.command()
@click.option("--model", required=True, help="The model to report on.")
@click.option("--start", default=None, callback=an_hour,
              help="First window (ISO, UTC; default: the first).")
@click.option("--end", default=None, callback=an_hour,
              help="End of the windows, exclusive (ISO, UTC).")
@click.option("--granularity", default="1h", show_default=True,
              type=click.Choice(NAMES),
              help="Windows of the time series and of the drift heatmap.")
@click.option("--out", default="report.html", show_default=True, help="HTML file to write.")
@common(read_models=False)
def report(ctx: Context, granularity: str, out: str) -> None:
    """Write one model's health (performance realized vs estimated, label coverage, versions,
    drift, quality, alerts) as one self-contained HTML file. Read with delta-rs, no Spark."""
    from inferwatch.report import build_report

    path = build_report(ctx.env.lake, ctx.model, ctx.start, ctx.end, out, granularity)
    click.echo(f"wrote {path}")


@main.command()
@click.option("--days", default=3, show_default=True, help="Days of inferences to generate.")
@click.option("--rows-per-hour", default=120, show_default=True, help="Mean rows per model-hour.")
@click.option("--models", "model_names", default="fraud,eta", show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--conf", default="conf/local.yaml", show_default=True)
@click.option("--lake", default="demo/lake", show_default=True,
              help="Lake root for the demo (recreated on every demo run).")
def demo(days: int, rows_per_hour: int, model_names: str, seed: int, conf: str,
         lake: str) -> None:
    """Generate a scenario, ingest it, run every job and print what happened."""
    from inferwatch.demo import run_demo

    run_demo(conf=conf, lake=lake, days=days, rows_per_hour=rows_per_hour,
             models=[m.strip() for m in model_names.split(",") if m.strip()], seed=seed)
