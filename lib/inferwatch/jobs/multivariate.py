"""The multivariate job: each changed day of a model against its baseline's sample,
by a cross-validated domain classifier (`metrics.domain`).

For each model, the days holding the hours whose inferences changed since its last run
(`jobs.todo`) are scored: a sample of the day's rows against the stored sample of the
model's baseline (`drift.baseline`, else `default`; the drift job builds `default` and
its sample). One row per (model, day) replaces that day in
`metrics/multivariate_drift`: AUC, threshold (`drift.multivariate.threshold`, default
`model_settings.drift.MULTIVARIATE_THRESHOLD`), `drifted`, and the features the
classifier leaned on most. Days only: an hour of a model's traffic is often too few rows to train on, and one fit per
hour would cost more than the rest of the pipeline. `drift: {multivariate: false}`
turns it off for a model.
"""
from __future__ import annotations

from datetime import datetime

from pyspark.sql import functions as F

from inferwatch.model_config import ModelConfig
from inferwatch.context import Context
from inferwatch.runs import Run
from inferwatch.jobs.todo import run_per_model
from inferwatch.metrics import baseline as bl
from inferwatch.metrics import domain
from inferwatch.granularity import truncate, utc
from inferwatch.metrics.window_store import replace_windows
from inferwatch.metrics.windows import rollup_windows

JOB = "multivariate"
INPUTS = ("inferences",)
TABLE = "metrics/multivariate_drift"


def run(ctx: Context) -> Run:
    return run_per_model(ctx, JOB, INPUTS, _model)


def _model(ctx: Context, model: ModelConfig, hours: set[datetime], versions: dict[str, int],
           part: Run) -> None:
    wanted = model.drift.multivariate  # checked when the model file loaded
    if wanted is None:
        part.notes.append("multivariate drift turned off (drift.multivariate: false)")
        return
    name = bl.reference_name(model)
    found = domain.load_sample(ctx.lake, model, name)
    if found is None:
        part.notes.append(f"no sample of baseline '{name}' yet (built with the baseline): "
                          "multivariate drift waits for it")
        part.owed = sorted(set(part.owed) | hours)
        return
    reference, version = found
    reference = reference.persist()
    ids = F.broadcast(reference.select("inference_id").where(F.col("inference_id").isNotNull()))
    inferences = ctx.lake.table("inferences")
    days = rollup_windows(hours)["1d"]
    stored = [p for p in inferences.partitions(versions["inferences"])
              if p["model_id"] == model.model_id and truncate(utc(p["hour"]), "1d") in days]
    rows = []
    try:
        for day in days:
            parts = [p for p in stored if truncate(utc(p["hour"]), "1d") == day]
            window = inferences.read(versions["inferences"], partitions=parts).join(
                ids, on="inference_id", how="left_anti")  # the baseline's rows: not new
            numeric, categorical = domain.features(model, window.columns)
            got = domain.score(reference, window, numeric, categorical, wanted.threshold)
            rows.append((model.model_id, "1d", day, name, version, got["auc"],
                         got["threshold"], got["drifted"], got["status"], got["n"],
                         got["n_reference"], got["top_features"]))
            part.rows_in += got["n"]
            part.rows_out += got["n"]
            if got["drifted"]:
                part.notes.append(f"{day:%Y-%m-%d}: AUC {got['auc']:.3f} > "
                                  f"{got['threshold']}: {got['top_features'][0]['feature']} "
                                  "leads")
    finally:
        reference.unpersist()
    fresh = ctx.spark.createDataFrame(rows, domain.RESULT_SCHEMA)
    part.outputs[TABLE] = replace_windows(ctx.lake, TABLE, model.model_id, {"1d": days}, fresh)
