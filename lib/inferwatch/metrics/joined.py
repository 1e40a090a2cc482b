"""Labelled inference rows: the hours a job recomputes, and a model's baseline."""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.config import ConfigError
from inferwatch.model_config import ModelConfig, baseline_window
from inferwatch.lake.tables import Lake


def joined_rows(lake: Lake, parts: list[dict], versions: dict[str, int],
                labelled: bool = True) -> DataFrame:
    """Inferences of `parts` ((model_id, hour) partitions) with their labels, if any
    (`labelled`; else the inferences alone, one read instead of two and a join).

    A label is stored per (model_id, hour, inference_id), so it applies to every version
    of the model that scored that id (champion and challenger alike).
    """
    inferences = lake.table("inferences").read(version=versions["inferences"], partitions=parts)
    if not labelled:
        return inferences
    labels = (lake.table("labels").read(version=versions["labels"], partitions=parts)
              .select("model_id", "hour", "inference_id", "label", "label_class", "delay_s"))
    return inferences.join(labels, on=["model_id", "hour", "inference_id"], how="left")


def baseline_rows(lake: Lake, model: ModelConfig, versions: dict[str, int],
                  labelled: bool = True) -> DataFrame | None:
    """The model's labelled baseline: its `window` of the lake (without labels unless
    `labelled`), or its `source` Parquet."""
    spec = model.baseline
    if "source" in spec:
        try:
            frame = lake.spark.read.parquet(str(spec["source"]))
            columns = frame.columns
        except Exception as err:  # noqa: BLE001 - Spark's AnalysisException and kin
            raise ConfigError(model.path, "baseline.source", "a readable Parquet file",
                              f"{spec['source']} ({str(err).splitlines()[0][:160]})") from None
        missing = [c for c in ("prediction", "label") if c not in columns]
        if missing:
            raise ConfigError(model.path, "baseline.source",
                              "a Parquet file with prediction and label columns",
                              f"{spec['source']} lacks {missing}")
        if "model_version" not in columns:
            frame = frame.withColumn("model_version", F.lit(None).cast("string"))
        return frame.withColumn("model_id", F.lit(model.model_id))  # the file is its own
    if "window" not in spec:
        return None
    start, end = baseline_window(model)
    parts = [p for p in lake.table("inferences").partitions(versions["inferences"],
                                                             model_id=model.model_id)
             if start <= p["hour"] < end]
    return joined_rows(lake, parts, versions, labelled) if parts else None


def baselines_rows(lake: Lake, models: Sequence[ModelConfig], versions: dict[str, int],
                   labelled: bool = True) -> list[tuple[list[ModelConfig], DataFrame | None]]:
    """The labelled baseline rows of `models` (`labelled`: a window's rows without their
    labels otherwise, as the domain samples take them), in batches of models alike (the same
    problem type, threshold, classes, features and slices): a `source` file is its model's own batch; the
    `window` baselines of models alike are read together (one listing, one read; a
    `model_id` column tells them apart). A batch's rows are None when its windows hold no
    inferences."""
    out: list[tuple[list[ModelConfig], DataFrame | None]] = []
    alike: dict[tuple, list[ModelConfig]] = {}
    for model in models:
        if "window" in model.baseline and "source" not in model.baseline:
            key = (model.problem_type, model.threshold, model.classes, model.numeric,
                   model.categorical, model.slices)
            alike.setdefault(key, []).append(model)
        else:
            out.append(([model], baseline_rows(lake, model, versions, labelled)))
    if not alike:
        return out
    listed = lake.table("inferences").partitions(versions["inferences"])
    for group in alike.values():
        windows = {m.model_id: baseline_window(m) for m in group}
        parts = [p for p in listed if p["model_id"] in windows
                 and windows[p["model_id"]][0] <= p["hour"] < windows[p["model_id"]][1]]
        have = {p["model_id"] for p in parts}
        out += [([m], None) for m in group if m.model_id not in have]
        kept = [m for m in group if m.model_id in have]
        if kept:
            out.append((kept, joined_rows(lake, parts, versions, labelled)))
    return out
