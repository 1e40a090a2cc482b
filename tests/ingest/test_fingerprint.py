"""An input is fingerprinted by what identifies its content (ETag where the store gives
one, else size and modification time), not by its path: the same object changed under
the same name is ingested again, an unchanged one is still a no-op. Shown on the local
disk as a `file://` URI (read through the object-store path, pyarrow's filesystem) and
as a folder of Parquet files whose part file is rewritten in place (the folder's own
time does not move)."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from inferwatch.ingest import ingest_files
from inferwatch.lake.tables import Lake
from tests.helpers import delta_frame, models


def _rows(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"inference_id": ids, "model_id": ["fraud"] * len(ids),
                         "ts": ["2026-03-02T10:15:00Z"] * len(ids),
                         "prediction": [0.5] * len(ids)})


def _uri(tmp_path: Path, ids: list[str]) -> str:
    path = tmp_path / "inferences.csv"
    _rows(ids).to_csv(path, index=False)
    return path.resolve().as_uri()


def _folder(tmp_path: Path, ids: list[str]) -> str:
    folder = tmp_path / "inferences"
    folder.mkdir(exist_ok=True)
    before = os.stat(folder).st_mtime_ns
    _rows(ids).to_parquet(folder / "part-0000.parquet", index=False)  # rewritten in place
    os.utime(folder, ns=(before, before))
    return str(folder)


@pytest.mark.parametrize("write", [_uri, _folder], ids=["file-uri", "folder"])
def test_a_changed_input_under_the_same_name_is_ingested_again(spark, tmp_path, write):
    lake_dir = tmp_path / "lake"
    lake = Lake(spark, str(lake_dir))
    source = write(tmp_path, ["a1", "a2"])
    first = ingest_files(lake, "inferences", [source], models())
    again = ingest_files(lake, "inferences", [source], models())  # unchanged: a no-op
    assert (first.rows_out, again.rows_in) == (2, 0) and "ingested before" in again.notes[0]

    assert write(tmp_path, ["b1", "b2"]) == source  # same name, same size, new content
    changed = ingest_files(lake, "inferences", [source], models())

    assert changed.rows_out == 2, changed.notes
    raw = delta_frame(f"{lake_dir}/raw/inferences", ["inference_id"])
    assert raw["inference_id"].tolist() == ["a1", "a2", "b1", "b2"]
