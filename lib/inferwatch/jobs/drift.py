"""The drift job: each changed window's profile against the baseline and the previous
window, into `metrics/drift`.

For each model, the hours that changed since its last drift run, up to where the
profile job has got for that model (drift reads `state/profile`, never raw rows): those
hours, their days and weeks, and the window after each (whose `previous` comparison
changed) are compared with the model's baseline (`drift.baseline` in its description,
else `default`; a model with a `baseline:` key gets its `default` baseline built on its
first drift run) and with the window before, and replaced in `metrics/drift`. Hours the
model's last profile run still owes (a run bounded by `--start/--end` left them) have no
or stale profile state: drift owes them too and scores them once profile has done them.
"""
from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.console import each
from inferwatch.model_config import ModelConfig
from inferwatch.context import Context
from inferwatch.runs import Progress, Run, track
from inferwatch.jobs.todo import after_upstream, hours_to_do
from inferwatch.metrics import baseline as bl
from inferwatch.metrics import domain
from inferwatch.metrics import drift
from inferwatch.metrics.joined import baseline_rows
from inferwatch.lake.schema import rows_frame
from inferwatch.granularity import GRANULARITIES, ROLLUPS, granularity, truncate, window_end
from inferwatch.metrics.window_store import read_windows, replace_windows

JOB = "drift"
INPUTS = ("inferences", "labels")
TABLE = "metrics/drift"


def run(ctx: Context) -> Run:
    models = ctx.selected_models()
    params = {"start": ctx.start, "end": ctx.end, "models": sorted(models),
              "rebuild": ctx.rebuild}
    with track(ctx.lake, JOB, params) as job:
        profiled = Progress(ctx.lake, "profile")
        mine = Progress(ctx.lake, JOB)
        for model_id, model in each(f"[{JOB}]", sorted(models.items()), "models",
                                    name=lambda item: item[0]):
            part = job.for_model(model_id)
            versions = {t: profiled.cursor(t, model_id) for t in INPUTS}
            if any(v is None for v in versions.values()):
                part.notes.append("not profiled yet; run profile first")
                continue
            part.inputs.update(versions)
            hours, owed = hours_to_do(ctx, mine, {model_id: model}, INPUTS, versions)[model_id]
            hours, owed, waiting = after_upstream(hours, owed, profiled.owed(model_id))
            if waiting:
                part.notes.append(f"{len(waiting)} hours wait for profile, which owes them")
            part.owed = sorted(owed)
            try:
                if hours:
                    _model(ctx, model, hours, versions, part)
            except Exception as err:  # noqa: BLE001 - failures are values; others go on
                part.fail(err)
                job.notes.append(f"{model_id}: failed: {part.error[:200]}")
                continue
            job.notes.append(f"{model_id}: drift of {len(hours)} changed hours"
                             + "".join(f"; {n}" for n in part.notes))
        job.add_totals()
    return job


def thresholds(model: ModelConfig) -> dict[str, dict[str, float]]:
    """Per column kind, the thresholds the model's `drift:` settings give (else defaults);
    checked when the model file loaded (`model_settings.DriftSettings`)."""
    return model.drift.by_kind()


def reference(ctx: Context, model: ModelConfig, part: Run) -> DataFrame | None:
    """The model's baseline (whole-baseline rows); `default` is built from the model's
    `baseline:` key the first time it is needed."""
    name = bl.reference_name(model)
    rows = bl.load(ctx.lake, model.model_id, name)
    if rows is None and name == "default" and model.baseline:
        versions = {t: ctx.lake.table(t).version() for t in INPUTS}
        source = baseline_rows(ctx.lake, model, versions)
        if source is not None:
            version = bl.build_and_store(ctx.lake, model, name, source, part.notes,
                                         _describe(model))
            part.outputs[bl.TABLE] = ctx.lake.table(bl.TABLE).version()
            part.outputs[domain.SAMPLE_TABLE] = domain.store_sample(ctx.lake, model, name,
                                                                    version, source)
            part.notes.append(f"baseline '{name}' version {version} built from "
                              f"{_describe(model)}")
            rows = bl.load(ctx.lake, model.model_id, name)
    if rows is None:
        part.notes.append(f"no baseline '{name}': comparisons with the previous window only")
    return rows


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


def _model(ctx: Context, model: ModelConfig, hours: set[datetime], versions: dict[str, int],
           part: Run) -> None:
    lake = ctx.lake
    targets = _windows(hours)
    wanted = {g: sorted(set(ws) | {granularity(g).previous(w) for w in ws})
              for g, ws in targets.items()}
    states = read_windows(lake, "state/profile", model.model_id, wanted)
    if states is None:
        part.notes.append("no profile state yet")
        return
    states = states.persist()
    try:
        base = reference(ctx, model, part)
        rows = drift_rows(states, targets, base, thresholds(model), model.model_id)
        part.rows_in = part.rows_out = len(rows)
        frame = rows_frame(lake.spark, rows, drift.DRIFT_SCHEMA)
        part.outputs[TABLE] = replace_windows(lake, TABLE, model.model_id, targets, frame)
        flagged = sum(1 for r in rows if r[15])
        part.notes.append(f"{flagged} of {len(rows)} drift rows flagged")
    finally:
        states.unpersist()


def drift_rows(states: DataFrame, targets: dict[str, list[datetime]], base: DataFrame | None,
               limits: dict[str, dict[str, float]], model_id: str) -> list[tuple]:
    """Scored comparison rows (`drift.DRIFT_SCHEMA` order) of the target windows."""
    keys = ["slice_key", "slice_value", "column", "kind"]
    spark = states.sparkSession
    wanted = spark.createDataFrame([(g, w) for g, ws in targets.items() for w in ws],
                                   "granularity string, window_start timestamp")
    window = states.join(F.broadcast(wanted), on=["granularity", "window_start"],
                         how="left_semi")
    w = drift.side(window, "w").withColumn("granularity", F.col("w_granularity"))
    pairs = []
    if base is not None:
        r = drift.side(base, "r")
        extra = base.select(*[F.col(k).alias(f"b_{k}") for k in keys], "edges",
                            "thresholds", "name", "version")
        joined = (w.join(r, on=[w[k].eqNullSafe(r[k]) for k in keys], how="inner")
                  .select(*[w[c] for c in w.columns], *[r[c] for c in r.columns
                                                          if c.startswith("r_")]))
        joined = joined.join(extra, on=[joined[k].eqNullSafe(extra[f"b_{k}"]) for k in keys],
                             how="left").drop(*[f"b_{k}" for k in keys])
        pairs.append(joined.withColumn("comparison", F.lit("baseline")))
    previous = drift.side(states, "r")
    before = F.col("w_window_start") - F.expr(
        "CASE w_granularity " + " ".join(f"WHEN '{g.name}' THEN {g.sql_interval}"
                                         for g in GRANULARITIES.values()) + " END")
    prev = (w.join(previous, on=[w[k].eqNullSafe(previous[k]) for k in keys]
                   + [w["w_granularity"] == previous["r_granularity"],
                      previous["r_window_start"] == before], how="inner")
            .select(*[w[c] for c in w.columns], *[previous[c] for c in previous.columns
                                                    if c.startswith("r_")]))
    if base is not None:
        edges = base.select(*[F.col(k).alias(f"b_{k}") for k in keys], "edges")
        prev = prev.join(edges, on=[prev[k].eqNullSafe(edges[f"b_{k}"]) for k in keys],
                         how="left").drop(*[f"b_{k}" for k in keys])
    else:
        prev = prev.withColumn("edges", F.lit(None).cast("array<double>"))
    deciles = F.array(*[F.lit(i / bl.BINS) for i in range(1, bl.BINS)])
    prev = prev.withColumn("edges", F.coalesce("edges", F.when(
        (F.col("kind") == "numeric") & (F.col("r_n_finite") > 0),
        F.array_distinct(F.kll_sketch_get_quantile_double("r_sketch", deciles)))))
    pairs.append(prev.withColumns({"comparison": F.lit("previous"),
                                   "thresholds": F.lit(None).cast("map<string,double>"),
                                   "name": F.lit(None).cast("string"),
                                   "version": F.lit(None).cast("long")}))
    frame = pairs[0] if len(pairs) == 1 else pairs[0].unionByName(pairs[1], allowMissingColumns=True)
    out = []
    for row, numeric in drift.scored(drift.summaries(frame).collect()):
        limit = dict(limits[row["kind"]])
        if row["comparison"] == "baseline" and row["granularity"] == "1h":
            limit.update(row["thresholds"] or {})
        for metric, value, bound, threshold, flagged, status in drift.score(row, limit,
                                                                            numeric):
            out.append((model_id, row["granularity"], row["w_window_start"], row["slice_key"],
                        row["slice_value"], row["column"], row["kind"], row["comparison"],
                        row["name"], row["version"], row["r_window_start"], metric, value,
                        bound, threshold, flagged, status, row["w_count"], row["r_count"]))
    return out
