"""The performance job: per-slice metrics per (model_id, hour), rolled up to 1d and 1w.

For every (model_id, hour) whose inferences or labels changed since the last run, the
hour's mergeable state (confusion counts, error sums, score histograms, a delay sketch)
is computed from the joined rows, and just those hours' rows of `metrics/performance`
are replaced. Day and week rows are then re-merged from the stored hourly states of the
days and weeks those hours fall in: never a rescan of raw rows. Binary models with
`protected` attributes get the same treatment in `metrics/fairness` (`inferwatch.fairness`).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.config import ConfigError, ModelConfig, baseline_window
from inferwatch.estimation import build_reference, with_estimates, with_expectations
from inferwatch.fairness import fairness_metrics, fairness_state, merge_fairness
from inferwatch.perf_metrics import BINARY, metrics
from inferwatch.perf_state import hourly_state, merge_states
from inferwatch.runs import Run, last_input_version, track
from inferwatch.lake.files import DataFile
from inferwatch.tables import Lake

JOB = "performance"
TABLE = "metrics/performance"
FAIRNESS = "metrics/fairness"
ROLLUPS = {"1d": "day", "1w": "week"}
# rows of a granularity are filed by this span, so replacing a window rewrites one span
FILE_SPAN = {"1h": "day", "1d": "week", "1w": "month"}


def slice_specs(rows: DataFrame, model: ModelConfig, notes: list[str]) -> list[tuple[str, object]]:
    """(slice_key, value column) pairs: the whole model, each `slices` expression, and
    `model_version`. An expression that does not analyse is skipped with a note."""
    specs = [("*", F.lit("*"))]
    for expression in model.slices:
        try:
            rows.select(F.expr(expression)).schema  # analysis only, no Spark job
        except Exception as err:  # noqa: BLE001 - a bad slice must not stop the others
            notes.append(f"{model.model_id}: slice '{expression}' skipped: {str(err)[:120]}")
            continue
        specs.append((expression, F.expr(expression).cast("string")))
    specs.append(("model_version", F.col("model_version")))
    return specs


def sliced(rows: DataFrame, model: ModelConfig, notes: list[str]) -> DataFrame:
    """One row per (inference, slice) it belongs to."""
    pairs = F.array(*[
        F.struct(F.lit(key).alias("slice_key"),
                 F.coalesce(value, F.lit("null")).alias("slice_value"))
        for key, value in slice_specs(rows, model, notes)
    ])
    expected = [c for c in rows.columns if c == "_q" or c.startswith("_e_")]
    return (rows.withColumn("_slice", F.explode(pairs))
            .select("model_id", F.col("hour").alias("window_start"), "_slice.slice_key",
                    "_slice.slice_value", "prediction", "prediction_label", "label", "delay_s",
                    *expected))


def joined_rows(lake: Lake, parts: list[dict], versions: dict[str, int]) -> DataFrame:
    inferences = lake.table("inferences").read(version=versions["inferences"], partitions=parts)
    labels = (lake.table("labels").read(version=versions["labels"], partitions=parts)
              .select("inference_id", "label", "delay_s"))
    return inferences.join(labels, on="inference_id", how="left")


def baseline_rows(lake: Lake, model: ModelConfig, versions: dict[str, int]) -> DataFrame | None:
    """The model's labelled baseline: its `window` of the lake, or its `source` Parquet."""
    spec = model.baseline
    if "source" in spec:
        frame = lake.spark.read.parquet(str(spec["source"]))
        missing = [c for c in ("prediction", "label") if c not in frame.columns]
        if missing:
            raise ConfigError(model.path, "baseline.source",
                              "a Parquet file with prediction and label columns",
                              f"{spec['source']} lacks {missing}")
        if "model_version" not in frame.columns:
            frame = frame.withColumn("model_version", F.lit(None).cast("string"))
        return frame
    if "window" not in spec:
        return None
    start, end = baseline_window(model)
    parts = [p for p in lake.table("inferences").partitions(versions["inferences"])
             if p["model_id"] == model.model_id and start <= p["hour"] < end]
    return joined_rows(lake, parts, versions) if parts else None


def write_windows(lake: Lake, name: str, model_id: str, changed: set[datetime],
                  state: DataFrame, merge: Callable[[DataFrame, str], DataFrame],
                  finish: Callable[[DataFrame, str], DataFrame]) -> int:
    """Replace the changed hours' rows of table `name`, then their days' and weeks' rows,
    merged from the table's stored hourly states (never from raw rows). `finish(state,
    granularity)` turns a state into the stored rows; returns the table's last version.
    """
    version = _replace_windows(lake, name, model_id, "1h", finish(state, "1h"), sorted(changed))
    table, hourly = lake.table(name), {"model_id": model_id, "granularity": "1h"}
    for granularity in ROLLUPS:
        windows = sorted({_truncate(h, ROLLUPS[granularity]) for h in changed})
        length = timedelta(days=1 if granularity == "1d" else 7)
        spans = [(w, w + length) for w in windows]
        # only the hourly files whose bounds reach into these windows are read
        files = [f for f in table.files(version, partitions=[hourly]) if _overlaps(f, spans)]
        stored = table.read_files(files, version).select(*state.columns)
        merged = merge(stored.where((F.col("window_start") >= F.lit(windows[0]))
                                    & (F.col("window_start") < F.lit(windows[-1] + length))),
                       granularity)
        merged = merged.join(
            lake.spark.createDataFrame([(w,) for w in windows], "window_start timestamp"),
            on="window_start", how="left_semi")
        version = _replace_windows(lake, name, model_id, granularity,
                                   finish(merged, granularity), windows)
    return version


def _replace_windows(lake: Lake, name: str, model_id: str, granularity: str, fresh: DataFrame,
                     windows: list[datetime]) -> int:
    """Replace the rows of `windows` in the (model_id, granularity) partition of `name`.

    Only the files whose `window_start` bounds overlap `windows` are rewritten, so the
    cost follows the windows replaced, not the partition's history.
    """
    table = lake.table(name)
    part = {"model_id": model_id, "granularity": granularity}
    if not table.exists():
        table.create(fresh.schema, ["model_id", "granularity"])
    read_version = table.version()
    points = [(w, w + timedelta(microseconds=1)) for w in windows]
    doomed = [f for f in table.files(read_version, partitions=[part]) if _overlaps(f, points)]
    stale = lake.spark.createDataFrame([(w,) for w in windows], "window_start timestamp")
    kept = (table.read_files(doomed, read_version)
            .join(F.broadcast(stale), on="window_start", how="left_anti"))
    unit = FILE_SPAN[granularity]
    spans = {_truncate(w, unit) for w in windows}
    for f in doomed:
        low, high = f.bounds.get("window_start", (None, None))
        if low is not None and high is not None:
            step = _truncate(_utc(low), unit)
            while step <= _utc(high):
                spans.add(step)
                step = _truncate(step + timedelta(days=32 if unit == "month" else 7 if unit == "week" else 1), unit)
    cluster = (F.date_trunc(unit, "window_start"), len(spans))
    return table.replace_files(kept.unionByName(fresh, allowMissingColumns=True), doomed, [part],
                               read_version=read_version, cluster=cluster)


def _overlaps(data_file: DataFile, spans: list[tuple[datetime, datetime]]) -> bool:
    """Whether the file's `window_start` bounds reach into any [start, end) span."""
    low, high = data_file.bounds.get("window_start", (None, None))
    if low is None or high is None:
        return True  # no stats: the file may hold any window
    low, high = (_utc(v) for v in (low, high))
    return any(low < end and high >= start for start, end in spans)


def _truncate(moment: datetime, unit: str) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if unit == "month" else day


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _fairness(lake: Lake, model: ModelConfig, changed: set[datetime], joined: DataFrame,
              notes: list[str]) -> int | None:
    """`metrics/fairness` rows of the changed hours and their days and weeks."""
    protected = [c for c in model.protected if c in joined.columns]
    absent = sorted(set(model.protected) - set(protected))
    if absent:
        notes.append(f"{model.model_id}: protected attributes {absent} are not in the "
                     "inferences; no fairness rows for them")
    if not protected:
        return None
    state = fairness_state(joined, protected, model.threshold)
    return write_windows(lake, FAIRNESS, model.model_id, changed, state, merge_fairness,
                         lambda s, g: fairness_metrics(s).withColumn("granularity", F.lit(g)))


def _metrics(state: DataFrame, problem_type: str, granularity: str) -> DataFrame:
    return with_estimates(metrics(state, problem_type), problem_type).withColumn(
        "granularity", F.lit(granularity))


def run_performance(lake: Lake, models: dict[str, ModelConfig], start: datetime | None = None,
                    end: datetime | None = None) -> Run:
    with track(lake, JOB, {"start": start, "end": end, "models": sorted(models)}) as run:
        inferences, labels = lake.table("inferences"), lake.table("labels")
        versions = {"inferences": inferences.version(), "labels": labels.version()}
        run.inputs.update(versions)
        hours: dict[str, set[datetime]] = defaultdict(set)
        for name, table in (("inferences", inferences), ("labels", labels)):
            since = last_input_version(lake.root, JOB, name)
            for part in table.changed_partitions(since, versions[name]):
                hour, model_id = part["hour"], part["model_id"]
                if model_id in models and (start is None or hour >= start) and (
                        end is None or hour < end):
                    hours[model_id].add(hour)
        if not hours:
            run.notes.append("no changed hours")
            return run
        for model_id, changed in sorted(hours.items()):
            model = models[model_id]
            parts = [{"model_id": model_id, "hour": h} for h in sorted(changed)]
            baseline = baseline_rows(lake, model, versions)
            reference = None if baseline is None else build_reference(
                baseline, model.problem_type, model.threshold, model.classes)
            run.notes.append(f"{model_id}: estimates from " + (
                f"a reference of {reference.rows} labelled baseline rows" if reference
                else "confidence (no labelled baseline)"))
            joined = with_expectations(joined_rows(lake, parts, versions), reference,
                                       model.problem_type)
            rows = sliced(joined, model, run.notes)
            state = hourly_state(rows, model.problem_type, model.threshold,
                                 model.classes or None).persist()
            run.rows_in += state.count()
            run.outputs[TABLE] = write_windows(
                lake, TABLE, model_id, changed, state, merge_states,
                lambda s, g: _metrics(s, model.problem_type, g))
            state.unpersist()
            if model.problem_type == BINARY and model.protected:
                version = _fairness(lake, model, changed, joined, run.notes)
                if version is not None:
                    run.outputs[FAIRNESS] = version
            run.notes.append(f"{model_id}: {len(changed)} hours recomputed")
        run.rows_out = run.rows_in
    return run
