"""The multivariate job: every changed day of every model against its baseline's sample,
by a cross-validated domain classifier (`metrics.domain`), in one plan.

For each model, the days holding the hours whose inferences changed since its last run
(`jobs.todo`) are scored: a sample of the day's rows against the stored sample of the
model's baseline (`drift.baseline`, else `default`; the drift job builds `default` and
its sample). Every model's days go through one Spark plan (`domain.scores`: the rows
sampled in Spark, each day's forests fitted on the executors; models with the same
features are one branch of it, keyed by model); one row per (model, day)
replaces that day in `metrics/multivariate_drift`: AUC, threshold
(`drift.multivariate.threshold`, default `model_settings.drift.MULTIVARIATE_THRESHOLD`),
`drifted`, and the features the classifier leaned on most. Days only: an hour of a
model's traffic is often too few rows to train on. `drift: {multivariate: false}` turns
it off for a model; a model whose baseline has no sample yet owes its hours to a later
run. If the joint plan fails, its groups and then their halves are scored alone
(`todo.run_fleet`): the model that breaks it fails, the others are written.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.lake.schema import rows_frame
from inferwatch.lake.sql_text import sql_in
from inferwatch.context import Context
from inferwatch.granularity import truncate, utc
from inferwatch.jobs.todo import alike, run_fleet
from inferwatch.metrics import baseline as bl
from inferwatch.metrics import domain, domain_sample
from inferwatch.metrics.window_store import replace_fleet_windows, window_column
from inferwatch.metrics.windows import rollup_windows
from inferwatch.model_config import ModelConfig
from inferwatch.runs import Progress, Run

JOB = "multivariate"
INPUTS = ("inferences",)
TABLE = "metrics/multivariate_drift"


@dataclass(frozen=True)
class Plan:
    """One model's part of the run: its days, its baseline sample and its threshold."""

    model: ModelConfig
    days: list[datetime]
    baseline: str
    version: int
    threshold: float


def run(ctx: Context) -> Run:
    samples = _Samples()
    return run_fleet(ctx, JOB, INPUTS, lambda *a: _prepare(*a, samples=samples), _compute,
                     _write, shape=_shape)


class _Samples:
    """The latest sample version of every model's baseline, from one aggregate."""

    def __init__(self):
        self.found: dict[tuple[str, str], int] | None = None

    def version(self, ctx: Context, model: ModelConfig) -> int | None:
        if self.found is None:
            self.found = domain_sample.sample_versions(ctx.lake, [
                (m.model_id, bl.reference_name(m)) for m in ctx.selected_models().values()])
        return self.found.get((model.model_id, bl.reference_name(model)))


def _prepare(ctx: Context, model: ModelConfig, hours: set[datetime], part: Run,
             done: Progress, samples: _Samples) -> Plan | None:
    wanted = model.drift.multivariate  # checked when the model file loaded
    if wanted is None:
        part.notes.append("multivariate drift turned off (drift.multivariate: false)")
        return None
    name = bl.reference_name(model)
    version = samples.version(ctx, model)
    if version is None:
        part.notes.append(f"no sample of baseline '{name}' yet (built with the baseline): "
                          "multivariate drift waits for it")
        part.owed = sorted(set(part.owed) | hours)
        return None
    return Plan(model, rollup_windows(hours)["1d"], name, version, wanted.threshold)


def _compute(ctx: Context, plans: dict[str, Plan], versions: dict[str, int]
             ) -> dict[str, list[dict]]:
    """{model_id: its result rows (`domain.RESULT_SCHEMA`)}, every model in one plan."""
    inferences = ctx.lake.table("inferences")
    days = {m: set(p.days) for m, p in plans.items()}
    listed = inferences.files(versions["inferences"], stats=(), where=lambda p: (
        p["model_id"] in days and truncate(utc(p["hour"]), "1d") in days[p["model_id"]]))
    # one read of each table; a model's branch keeps its own partitions
    stored = inferences.read_files(listed, versions["inferences"])
    samples = domain_sample.read_samples(ctx.lake, {m: (p.baseline, p.version)
                                             for m, p in plans.items()})
    references, windows, names = [], [], {}
    for group in alike(plans, _shape):  # models alike: one branch, keyed by model
        ids = [p.model.model_id for p in group]
        rows = stored.where(sql_in("model_id", ids))
        sample = domain_sample.flat_sample(samples, group[0].model, ids)
        numeric, categorical = domain.features(group[0].model, rows.columns)
        texts = [c for c in numeric if isinstance(rows.schema[c].dataType, T.StringType)]
        if texts:  # found before any Spark job: the joint plan fails, the models alone
            raise ValueError(f"{', '.join(ids)}: numeric features {texts} hold text in "
                             "inferences: list them under features.categorical")
        names.update({m: (numeric, categorical) for m in ids})
        references.append(_reference(sample, numeric, categorical))
        windows.append(_window(rows, sample, numeric, categorical))
    plan_days = ctx.spark.createDataFrame(
        [(m, d) for m, p in sorted(plans.items()) for d in p.days],
        "model_id string, window_start timestamp")
    found = (domain.scores(_union(references), _union(windows), plan_days, names)
             .withColumn("_at", F.unix_micros("window_start")).collect())
    got = {(r["model_id"], r["_at"]): r for r in found}
    out: dict[str, list[dict]] = {}
    for model_id, plan in sorted(plans.items()):
        out[model_id] = []
        for day in plan.days:
            r = got.get((model_id, int(day.timestamp()) * 1_000_000))  # none: no row at all
            n, n_ref, size, auc = ((r["n"], r["n_reference"], r["size"], r["auc"]) if r
                                   else (0, 0, 0, None))
            judged = domain.judged(auc, size, plan.threshold)
            top = ([{"feature": f, "importance": v} for f, v in zip(
                r["top_names"], r["top_importances"], strict=True)]
                if judged["status"] == "ok" else None)
            out[model_id].append({
                "model_id": model_id, "granularity": "1d", "window_start": day,
                "baseline": plan.baseline, "baseline_version": plan.version, "auc": auc,
                **judged, "n": n, "n_reference": n_ref, "top_features": top})
    return out


def _shape(plan: Plan) -> tuple:
    """What a model's branch depends on besides its rows: its features."""
    return tuple(plan.model.numeric), tuple(plan.model.categorical)


def _reference(sample: DataFrame, numeric: list[str], categorical: list[str]) -> DataFrame:
    # a training file's rows have no id: their place in the stored sample names them
    ident = F.coalesce(F.col("inference_id"),
                       F.concat(F.lit("#"), F.monotonically_increasing_id().cast("string")))
    return domain.encoded(sample, numeric, categorical, ident)


def _window(rows: DataFrame, sample: DataFrame, numeric: list[str],
            categorical: list[str]) -> DataFrame:
    ids = F.broadcast(sample.select("model_id", "inference_id")
                      .where(F.col("inference_id").isNotNull()))
    day = window_column("hour", "1d")
    # the baseline's own rows are not new
    fresh = rows.join(ids, on=["model_id", "inference_id"], how="left_anti")
    return domain.encoded(fresh.withColumn("window_start", day), numeric, categorical,
                          F.concat_ws("/", F.col("model_version").cast("string"),
                                      F.col("inference_id").cast("string")))


def _union(frames: list[DataFrame]) -> DataFrame:
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def _write(ctx: Context, results: dict[str, list[dict]], parts: dict[str, Run]
           ) -> dict[str, int]:
    """Every model's days replaced in `metrics/multivariate_drift` with one commit."""
    fields = domain.RESULT_SCHEMA.fieldNames()
    fresh = rows_frame(  # driver rows whose size Spark knows: the driver writes them
        ctx.spark, [tuple(r[f] for f in fields) for rows in results.values() for r in rows],
        domain.RESULT_SCHEMA)
    windows = {m: {"1d": [r["window_start"] for r in rows]} for m, rows in results.items()}
    version = replace_fleet_windows(ctx.lake, TABLE, windows, fresh)
    for model_id, rows in sorted(results.items()):
        part = parts[model_id]
        for r in rows:
            part.rows_in += r["n"]
            part.rows_out += r["n"]
            if r["drifted"]:
                part.notes.append(f"{r['window_start']:%Y-%m-%d}: AUC {r['auc']:.3f} > "
                                  f"{r['threshold']}: {r['top_features'][0]['feature']} "
                                  "leads")
    return {TABLE: version}
