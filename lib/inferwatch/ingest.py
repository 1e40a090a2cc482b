"""Ingest: files (Parquet, CSV, JSON lines) or in-process records into `raw/*`.

One code path for both: every source is read as strings, checked against the required
columns and types, typed, and appended to `raw/inferences` or `raw/labels`; rows that
fail go to `quarantine` with every reason they failed. Re-ingesting the same files is a
no-op (each output commit carries the files' fingerprint as a Delta app transaction).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.config import ModelConfig
from inferwatch.runs import Run, track
from inferwatch.tables import Lake
from inferwatch.validate import REASON, parses, quarantine_rows, required, typed, with_reasons

KINDS = {
    "inferences": {
        "table": "raw/inferences",
        "required": ("inference_id", "model_id", "ts", "prediction"),
        "types": {"ts": T.TimestampType(), "prediction": T.DoubleType()},
        "optional": ("model_version", "prediction_label"),
    },
    "labels": {
        "table": "raw/labels",
        "required": ("inference_id", "label", "label_ts"),
        "types": {"label": T.DoubleType(), "label_ts": T.TimestampType(),
                  "inference_ts": T.TimestampType()},
        "optional": ("model_id", "inference_ts"),
    },
}
FORMATS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json",
           ".ndjson": "json"}
CORRUPT = "_corrupt_record"


class IngestError(ValueError):
    """A source that cannot be ingested at all (unknown format, missing columns)."""


def read_source(spark, path: str | Path) -> DataFrame:
    """Read one file or folder as all-string columns."""
    path = str(path)
    suffix = Path(path.rstrip("/")).suffix.lower()
    fmt = FORMATS.get(suffix) or ("parquet" if os.path.isdir(path) else None)
    if fmt is None:
        raise IngestError(f"{path}: unknown format '{suffix}'; expected one of "
                          f"{', '.join(sorted(FORMATS))} (or a folder of Parquet files)")
    if not os.path.exists(path) and "://" not in path:
        raise IngestError(f"{path}: no such file")
    if fmt == "csv":
        df = spark.read.option("header", True).option("mode", "PERMISSIVE").csv(path)
    elif fmt == "json":
        df = (spark.read.option("primitivesAsString", True).option("mode", "PERMISSIVE")
              .option("columnNameOfCorruptRecord", CORRUPT).json(path))
    else:
        df = spark.read.parquet(path)
        # pandas writes nanosecond timestamps, which Spark reads as longs (nanosAsLong).
        for column in _nanosecond_columns(path):
            df = df.withColumn(column, F.timestamp_micros(F.floor(F.col(f"`{column}`") / 1000)))
    return df.select(*[F.col(f"`{c}`").cast("string").alias(c) for c in df.columns])


def _nanosecond_columns(path: str) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from inferwatch.lake.files import filesystem

    fs, inner = filesystem(path)
    info = fs.get_file_info(inner)
    if info.type == pa.fs.FileType.Directory:
        found = [f for f in fs.get_file_info(pa.fs.FileSelector(inner, recursive=True))
                 if f.path.endswith(".parquet")]
        if not found:
            return []
        inner = found[0].path
    with fs.open_input_file(inner) as handle:
        schema = pq.read_schema(handle)
    return [f.name for f in schema
            if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]


def fingerprint(paths: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(map(str, paths)):
        stat = os.stat(path) if os.path.exists(path) else None
        digest.update(f"{os.path.abspath(path)}|{stat.st_size if stat else ''}|"
                      f"{stat.st_mtime_ns if stat else ''}".encode())
    return digest.hexdigest()[:16]


def ingest_files(lake: Lake, kind: str, paths: Sequence[str | Path],
                 models: Mapping[str, ModelConfig]) -> Run:
    """Ingest files of `kind` ('inferences' or 'labels'); returns the recorded run."""
    spec = _spec(kind)
    sources = [(str(p), read_source(lake.spark, p)) for p in paths]
    for name, df in sources:
        missing = [c for c in spec["required"] if c not in df.columns]
        if missing:
            raise IngestError(f"{name}: missing required columns {missing}; {kind} need "
                              f"{', '.join(spec['required'])}")
    frames = [df.withColumn("source", F.lit(name)) for name, df in sources]
    txn = f"ingest-{kind}-{fingerprint([str(p) for p in paths])}"
    return _ingest(lake, kind, frames, models, txn, {"paths": [str(p) for p in paths]})


def ingest_records(lake: Lake, kind: str, records: Iterable[Mapping[str, Any]] | Any,
                   models: Mapping[str, ModelConfig], source: str = "api") -> Run:
    """Ingest in-process records (dicts or a pandas DataFrame) through the same checks."""
    import pandas as pd

    spec = _spec(kind)
    pdf = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
    missing = [c for c in spec["required"] if c not in pdf.columns]
    if missing:
        raise IngestError(f"{source}: records lack required fields {missing}; {kind} need "
                          f"{', '.join(spec['required'])}")
    pdf = pdf.astype(object).where(pdf.notna(), None)
    for column in pdf.columns:
        pdf[column] = [None if v is None else _as_text(v) for v in pdf[column]]
    schema = T.StructType([T.StructField(str(c), T.StringType(), True) for c in pdf.columns])
    df = lake.spark.createDataFrame(pdf, schema=schema).withColumn("source", F.lit(source))
    return _ingest(lake, kind, [df], models, None, {"records": len(pdf), "source": source})


def _as_text(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _spec(kind: str) -> dict[str, Any]:
    if kind not in KINDS:
        raise IngestError(f"unknown kind '{kind}'; expected one of {', '.join(KINDS)}")
    return KINDS[kind]


def _ingest(lake: Lake, kind: str, frames: list[DataFrame], models: Mapping[str, ModelConfig],
            txn_id: str | None, params: dict[str, Any]) -> Run:
    spec = _spec(kind)
    raw, quarantine = lake.table(spec["table"]), lake.table("quarantine")
    with track(lake, f"ingest-{kind}", params) as run:
        if txn_id is not None and raw.txn_version(txn_id) is not None:
            run.notes.append("these files were ingested before; nothing to do")
            return run
        df = frames[0]
        for frame in frames[1:]:
            df = df.unionByName(frame, allowMissingColumns=True)
        for column in spec["optional"]:
            if column not in df.columns:
                df = df.withColumn(column, F.lit(None).cast("string"))
        kinds = dict(spec["types"])
        if kind == "inferences":
            for model in models.values():
                kinds.update({c: T.DoubleType() for c in model.numeric if c in df.columns})
        originals = [c for c in df.columns if c != CORRUPT]
        rules = [required(c) for c in spec["required"]]
        rules += [parses(c, t, _what(t)) for c, t in kinds.items()]
        if CORRUPT in df.columns:
            from inferwatch.validate import Rule

            rules.append(Rule(F.col(CORRUPT).isNotNull(),
                              F.concat(F.lit("malformed JSON line: "),
                                       F.substring(F.col(CORRUPT), 1, 80))))
        checked = with_reasons(df, rules).persist()
        try:
            counts = {r["ok"]: r["n"] for r in
                      checked.groupBy(F.col(REASON).isNull().alias("ok")).count()
                      .withColumnRenamed("count", "n").collect()}
            run.rows_in = sum(counts.values())
            run.rows_out, run.rows_quarantined = counts.get(True, 0), counts.get(False, 0)
            txn = None if txn_id is None else (txn_id, 1)
            if run.rows_quarantined and (txn_id is None or quarantine.txn_version(txn_id) is None):
                bad = quarantine_rows(checked.where(F.col(REASON).isNotNull()), spec["table"],
                                      run.job, run.run_id, originals)
                run.outputs["quarantine"] = quarantine.append(bad, txn=txn)
            good = typed(checked.where(F.col(REASON).isNull()).drop(REASON, CORRUPT), kinds)
            good = good.withColumn("ingested_at", F.lit(run.started_at).cast("timestamp"))
            good = good.withColumn("ingest_date", F.to_date("ingested_at"))
            run.outputs[spec["table"]] = raw.append(good, txn=txn)
            run.check_accounting()
        finally:
            checked.unpersist()
    return run


def _what(kind: T.DataType) -> str:
    return {"timestamp": "a timestamp", "double": "a number"}.get(kind.typeName(), kind.typeName())


def log_inferences(records: Iterable[Mapping[str, Any]] | Any, conf: str = "conf/local.yaml",
                   lake: str | None = None) -> Run:
    """Log a micro-batch of inferences from a serving process.

    >>> log_inferences([{"inference_id": "a1", "model_id": "fraud", "ts": now, "prediction": 0.7}])
    """
    return _log("inferences", records, conf, lake)


def log_labels(records: Iterable[Mapping[str, Any]] | Any, conf: str = "conf/local.yaml",
               lake: str | None = None) -> Run:
    """Log a micro-batch of ground-truth labels (`inference_id`, `label`, `label_ts`)."""
    return _log("labels", records, conf, lake)


def _log(kind: str, records, conf: str, lake_root: str | None) -> Run:
    from inferwatch.config import load_env, load_models
    from inferwatch.session import get_spark

    env = load_env(conf, lake=lake_root)
    spark = get_spark(env)
    models = load_models(env.models_dir) if env.models_dir.is_dir() else {}
    return ingest_records(Lake(spark, env.lake), kind, records, models)
