"""The drift job: each changed window's profile against the baseline and the previous
window, into `metrics/drift`, for every model in one plan and one commit.

For each model, the hours that changed since its last drift run, up to where the
profile job has got for that model (drift reads `state/profile`, never raw rows): those
hours, their days and weeks, and the window after each (whose `previous` comparison
changed) are compared with the model's baseline (`drift.baseline` in its description,
else `default`; a model with a `baseline:` key gets its `default` baseline built on its
first drift run) and with the window before, and replaced in `metrics/drift`. Hours the
model's last profile run still owes (a run bounded by `--start/--end` left them) have no
or stale profile state: drift owes them too and scores them once profile has done them.
Every model's windows are read, compared and scored together (the model id is a key
like the slice) and written with one commit (`jobs.todo.run_fleet`); a model that breaks
the joint plan is found by computing each alone and recorded failed.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.frames import materialized, release
from inferwatch.lake.sql_text import joined_beside, sql_in
from inferwatch.model_config import ModelConfig, baseline_window
from inferwatch.context import Context
from inferwatch.runs import Progress, Run
from inferwatch.jobs.todo import run_fleet
from inferwatch.metrics import baseline as bl
from inferwatch.metrics.domain_sample import SAMPLE_TABLE, store_samples
from inferwatch.metrics import drift, drift_scoring
from inferwatch.metrics.joined import baselines_rows
from inferwatch.granularity import (GRANULARITIES, ROLLUPS, granularity, truncate, utc,
                                    window_end)
from inferwatch.metrics.window_store import read_fleet_windows, replace_fleet_windows
from inferwatch.metrics.windows import union

JOB = "drift"
INPUTS = ("inferences", "labels")
TABLE = "metrics/drift"
KEYS = ["model_id", "slice_key", "slice_value", "column", "kind"]


@dataclass
class _Plan:
    model: ModelConfig
    hours: set[datetime]
    targets: dict[str, list[datetime]]
    part: Run
    base: str | None  # the name of its stored baseline
    build: bool = False  # its `default` baseline is built by this run


def run(ctx: Context) -> Run:
    stored = bl.stored(ctx.lake)  # every model's stored baselines, from one listing
    return run_fleet(ctx, JOB, INPUTS, lambda *a: _prepare(*a, stored=stored), _compute,
                     _write, upstream="profile")


def _prepare(ctx: Context, model: ModelConfig, hours: set[datetime], part: Run,
             done: Progress, stored: set[tuple[str, str]]) -> _Plan:
    name = bl.reference_name(model)
    base = name if (model.model_id, name) in stored else None
    build = base is None and name == "default" and bool(model.baseline)
    if base is None and not build:
        part.notes.append(f"no baseline '{name}': comparisons with the previous window only")
    return _Plan(model, hours, _windows(hours), part, base, build)


def _compute(ctx: Context, plans: dict[str, _Plan], versions: dict[str, int]) -> dict:
    """{model_id: (plan, its scored rows or None, rows, drifted)}: the models' rows are
    one persisted frame, scored in the executors and counted once here (a model that
    breaks the plan fails it here, before anything is written)."""
    _build_baselines(ctx, [p for p in plans.values() if p.build])
    wanted = {m: {g: sorted(set(ws) | {granularity(g).previous(w) for w in ws})
                  for g, ws in p.targets.items()} for m, p in plans.items()}
    states = read_fleet_windows(ctx.lake, "state/profile", wanted)
    if states is None:
        return {m: (plan, None, 0, 0) for m, plan in plans.items()}
    bases = bl.load_fleet(ctx.lake, {m: p.base for m, p in plans.items() if p.base})
    # read as the windows and as the windows before them; without the distinct-count
    # sketches, which no statistic reads (half the bytes: 405 of 810 MB on 100 models)
    states = materialized(states.drop("hll"))
    try:
        rows = materialized(drift_rows(states, {m: p.targets for m, p in plans.items()}, bases,
                                       {m: thresholds(p.model) for m, p in plans.items()}))
    finally:
        release(states)
    try:
        counted = {r["model_id"]: (r["n"], r["drifted"]) for r in rows.groupBy("model_id").agg(
            F.count(F.lit(1)).alias("n"), F.sum(F.col("drifted").cast("int")).alias("drifted")
        ).collect()}
    except Exception:
        release(rows)
        raise
    return {m: (plan, rows, *counted.get(m, (0, 0))) for m, plan in plans.items()}


def _write(ctx: Context, results: dict, parts: dict[str, Run]) -> dict[str, int]:
    frames, windows = {}, {}
    for model_id, (plan, rows, n, flagged) in results.items():
        part = parts[model_id]
        if rows is None:
            part.notes.append("no profile state yet")
            continue
        part.rows_in = part.rows_out = n
        part.notes.append(f"drift of {len(plan.hours)} changed hours; "
                          f"{flagged} of {n} comparisons drifted")
        frames[id(rows)] = rows
        windows[model_id] = plan.targets
    try:
        if not windows:
            return {}
        return {TABLE: replace_fleet_windows(ctx.lake, TABLE, windows,
                                             union(list(frames.values())))}
    finally:
        for frame in frames.values():
            release(frame)


def thresholds(model: ModelConfig) -> dict[str, dict[str, float]]:
    """Per column kind, the thresholds the model's `drift:` settings give (else defaults);
    checked when the model file loaded (`model_settings.DriftSettings`)."""
    return model.drift.by_kind()


def _build_baselines(ctx: Context, plans: list[_Plan]) -> None:
    """The `default` baseline of every model in `plans`, from its `baseline:` key, built in
    one plan and stored with one commit (and one of their domain samples): models alike
    are read and profiled as one (`baselines_rows`)."""
    if not plans:
        return
    versions = {t: ctx.lake.table(t).version() for t in INPUTS}
    batches = [b for b in baselines_rows(ctx.lake, [p.model for p in plans], versions)
               if b[1] is not None]
    built = {m.model_id for models, _rows in batches for m in models}
    for plan in plans:
        if plan.model.model_id not in built:
            plan.build = False
            plan.part.notes.append("no baseline 'default': its window holds no inferences; "
                                   "comparisons with the previous window only")
    if not batches:
        return
    by_id = {p.model.model_id: p for p in plans if p.model.model_id in built}
    listed = _listed(ctx, [p.model for p in by_id.values()], versions)
    profiled = _profiled(ctx, listed)
    for model_id in profiled:
        by_id[model_id].part.notes.append("baseline hours' profile read from state/profile")
    made = bl.build_and_store_fleet(
        ctx.lake, "default", batches, {m: p.part.notes for m, p in by_id.items()},
        {m: _describe(p.model) for m, p in by_id.items()}, profiled)
    # the samples take the windows' inferences without their labels, counted by the log
    unlabelled = [b for b in baselines_rows(ctx.lake, [p.model for p in by_id.values()],
                                            versions, labelled=False) if b[1] is not None]
    outputs = {bl.TABLE: ctx.lake.table(bl.TABLE).version(),
               SAMPLE_TABLE: store_samples(ctx.lake, "default", unlabelled, made,
                                            _totals(listed))}
    for model_id, version in made.items():
        plan = by_id[model_id]
        plan.build = False
        plan.part.outputs.update(outputs)
        plan.part.notes.append(f"baseline 'default' version {version} built from "
                               f"{_describe(plan.model)}")
        plan.base = "default"


def _listed(ctx: Context, models: list[ModelConfig], versions: dict[str, int]
            ) -> dict[tuple[str, datetime], int | None]:
    """{(model_id, hour): the rows the Delta log lists for it (None: a file of it has no
    record count)} of every hour in the window baselines of `models` (not `source` ones)."""
    windows = {m.model_id: baseline_window(m) for m in models
               if "window" in m.baseline and "source" not in m.baseline}
    table = ctx.lake.table("inferences")
    parts = [p for p in table.partitions(versions["inferences"]) if p["model_id"] in windows
             and windows[p["model_id"]][0] <= p["hour"] < windows[p["model_id"]][1]]
    files = table.files(versions["inferences"], stats=(), partitions=parts) if parts else ()
    return _summed(((f.partition["model_id"], utc(f.partition["hour"])), f.num_records)
                   for f in files)


def _totals(listed: dict[tuple[str, datetime], int | None]) -> dict[str, int]:
    """{model_id: its window's rows} of the models whose every hour `listed` counts."""
    totals = _summed((model_id, n) for (model_id, _hour), n in listed.items())
    return {m: n for m, n in totals.items() if n}


def _summed(counts: Iterable[tuple[Hashable, int | None]]) -> dict[Any, int | None]:
    """The counts summed by key; None for a key one of whose counts is unknown."""
    out: dict[Any, int | None] = {}
    for key, n in counts:
        before = out.get(key, 0)
        out[key] = None if before is None or n is None else before + n
    return out


def _profiled(ctx: Context, listed: dict[tuple[str, datetime], int | None]
              ) -> dict[str, DataFrame]:
    """{model_id: a frame of the hourly profile states of its baseline window} of the window
    baselines whose every hour `state/profile` holds with all the rows `inferences` lists
    for it (`_listed`: its whole-model count): the profile job computed them from the same
    rows, so the baseline need not profile them again. A model with an hour missing or
    stale is left out (its baseline profiles its rows)."""
    hours: dict[str, list[datetime]] = {}
    for model_id, hour in sorted(listed):
        hours.setdefault(model_id, []).append(hour)
    states = read_fleet_windows(ctx.lake, "state/profile",
                                {m: {"1h": hs} for m, hs in hours.items()})
    if states is None or not listed:
        return {}
    counted = {(r["model_id"], utc(r["window_start"])): r["n"] for r in
               states.where(F.col("slice_key") == "*").groupBy("model_id", "window_start")
               .agg(F.max("count").alias("n")).collect()}
    complete = [m for m, hs in hours.items()
                if all(listed[(m, h)] is not None and counted.get((m, h)) == listed[(m, h)]
                       for h in hs)]
    shared = states.where(sql_in("model_id", complete)).drop("granularity")
    return {m: shared for m in complete}  # one frame: a filter per model reads it per model


def _describe(model: ModelConfig) -> str:
    spec = model.baseline
    if "source" in spec:
        return f"file {spec['source']}"
    start, end = spec["window"]
    return f"window {start.isoformat()} .. {end.isoformat()}"


def _windows(hours: set[datetime]) -> dict[str, list[datetime]]:
    """The changed windows and the one after each (its `previous` changed too)."""
    out = {"1h": sorted({h for h in hours} | {window_end(h, "1h") for h in hours})}
    for name in ROLLUPS:
        starts = {truncate(h, name) for h in hours}
        out[name] = sorted(starts | {window_end(s, name) for s in starts})
    return out


def drift_rows(states: DataFrame, targets: dict[str, dict[str, list[datetime]]],
               base: DataFrame | None, limits: dict[str, dict[str, dict[str, float]]]
               ) -> DataFrame:
    """Scored comparisons, one `drift.DRIFT_SCHEMA` row each, of every model's target
    windows ({model_id: {granularity: [window_start]}}); `base` holds the models'
    baselines, `limits` their thresholds by column kind."""
    return drift_scoring.scored(pairs(states, targets, base), limits)


def pairs(states: DataFrame, targets: dict[str, dict[str, list[datetime]]],
          base: DataFrame | None) -> DataFrame:
    """Each target window's state beside its baseline's and beside its previous
    window's (`comparison`), as `drift_scoring.scored` takes them."""
    spark = states.sparkSession
    wanted = spark.createDataFrame(
        [(m, g, w) for m, by in targets.items() for g, ws in by.items() for w in ws],
        "model_id string, granularity string, window_start timestamp")
    window = states.join(F.broadcast(wanted), on=["model_id", "granularity", "window_start"],
                         how="left_semi")
    w = drift.side(window, "w").withColumn("granularity", F.col("w_granularity"))
    found = []
    # joined as SQL text over the sides' aliases (`joined_beside`): a Column a column of a
    # comparison's ~60 was a dozen JVM calls
    if base is not None:
        r = drift.side(base, "r")
        joined = joined_beside(w, r, KEYS, right_columns=[c for c in r.columns if c[:2] == "r_"])
        joined = joined_beside(joined, base, KEYS, how="left",
                               right_columns=["edges", "thresholds", "name", "version"])
        found.append(joined.withColumn("comparison", F.lit("baseline")))
    previous = drift.side(states, "r")
    before = "l.w_window_start - CASE l.w_granularity " + " ".join(
        f"WHEN '{g.name}' THEN {g.sql_interval}" for g in GRANULARITIES.values()) + " END"
    prev = joined_beside(w, previous, KEYS, also=f"l.w_granularity = r.r_granularity AND "
                                                 f"r.r_window_start = {before}",
                         right_columns=[c for c in previous.columns if c[:2] == "r_"])
    if base is not None:
        prev = joined_beside(prev, base, KEYS, how="left", right_columns=["edges"])
    else:
        prev = prev.withColumn("edges", F.lit(None).cast("array<double>"))
    prev = prev.withColumn("edges", F.expr(  # else the previous window's own deciles
        f"coalesce(edges, array_distinct({drift.read_at('r', 'edges')}))"))
    found.append(prev.withColumns({"comparison": F.lit("previous"),
                                   "thresholds": F.lit(None).cast("map<string,double>"),
                                   "name": F.lit(None).cast("string"),
                                   "version": F.lit(None).cast("long")}))
    return (found[0] if len(found) == 1
            else found[0].unionByName(found[1], allowMissingColumns=True))
