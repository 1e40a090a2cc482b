"""Writing a generated scenario out as the raw files the ingest job reads."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from inferwatch.scenario.generate import JSONL_ROWS, Scenario
from inferwatch.scenario.incidents import iso


def arrow_schema(frame: pd.DataFrame) -> pa.Schema:
    """Explicit schema so every part file agrees even when a column is all-null in it."""
    fields = []
    for col, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.DatetimeTZDtype):
            fields.append(pa.field(col, pa.timestamp("us", tz="UTC")))
        elif pd.api.types.is_float_dtype(dtype):
            fields.append(pa.field(col, pa.float64()))
        else:
            fields.append(pa.field(col, pa.string()))
    return pa.schema(fields)


def _write_parts(frame: pd.DataFrame, keys: pd.Series, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("part-*.parquet"):  # a rewrite must not leave an older run's days
        stale.unlink()
    schema, paths = arrow_schema(frame), []
    for k, (_, part) in enumerate(frame.groupby(keys, sort=True)):
        path = folder / f"part-{k:04d}.parquet"
        table = pa.Table.from_pandas(part, schema=schema, preserve_index=False)
        pq.write_table(table, path, coerce_timestamps="us", allow_truncated_timestamps=True)
        paths.append(path)
    return paths


def _json_value(value):
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else iso(value)
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def write(scenario: Scenario, out_dir: str | Path) -> dict[str, list[Path]]:
    """Write the scenario as raw files under ``out_dir`` and return the data file paths.

    Inferences: ``inferences/part-XXXX.parquet`` (one per UTC day, duplicates included),
    a few of the same valid rows moved to ``inferences_extra.jsonl`` (parquet + jsonl ==
    ``scenario.inferences``), and ``inferences_malformed.csv``. Labels:
    ``labels/part-XXXX.parquet`` (one per arrival day, then one for labels arriving after
    the end). Also ``manifest.json`` and ``models/<id>.yaml``.
    """
    out = Path(out_dir)
    inf, manifest = scenario.inferences, scenario.manifest
    n_unique = manifest["counts"]["inferences_unique"]
    jsonl_pos = np.unique(np.linspace(0, n_unique - 1, min(JSONL_ROWS, n_unique)).round().astype(int))
    in_parquet = inf.drop(index=inf.index[jsonl_pos])
    paths = _write_parts(in_parquet, in_parquet["ts"].dt.floor("D"), out / "inferences")
    jsonl = out / "inferences_extra.jsonl"
    with jsonl.open("w") as fh:
        for row in inf.iloc[jsonl_pos].to_dict(orient="records"):
            fh.write(json.dumps({k: _json_value(v) for k, v in row.items()}) + "\n")
    csv = out / "inferences_malformed.csv"
    scenario.malformed.to_csv(csv, index=False)
    labels = scenario.labels
    end = pd.Timestamp(manifest["end"])
    label_day = labels["label_ts"].dt.floor("D").where(labels["label_ts"] < end, end)
    label_paths = _write_parts(labels, label_day, out / "labels")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "models").mkdir(exist_ok=True)
    for model_id, desc in scenario.models.items():
        (out / "models" / f"{model_id}.yaml").write_text(yaml.safe_dump(desc, sort_keys=False))
    return {"inferences": [*paths, csv, jsonl], "labels": label_paths}
