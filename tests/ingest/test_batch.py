from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd
import pytest

from inferwatch.ingest import IngestError, ingest_files, ingest_records
from inferwatch.runs import runs
from inferwatch.lake.tables import Lake
from tests.helpers import delta_frame, models

UTC = timezone.utc


def _lake(spark, lake_dir) -> Lake:
    return Lake(spark, str(lake_dir))


def test_csv_json_parquet_one_path(spark, lake_dir, tmp_path):
    lake = _lake(spark, lake_dir)
    (tmp_path / "a.csv").write_text(
        "inference_id,model_id,ts,prediction,amount,country\n"
        "i1,fraud,2026-03-02T10:15:00Z,0.2,10.5,DE\n"
        "i2,fraud,yesterday,0.3,1,FR\n"
        ",fraud,2026-03-02T10:16:00Z,0.3,1,FR\n"
        "i4,fraud,2026-03-02T10:17:00Z,high,abc,FR\n"
    )
    (tmp_path / "b.jsonl").write_text(
        json.dumps({"inference_id": "i5", "model_id": "eta", "ts": "2026-03-02 11:00:00",
                    "prediction": 31.5, "city": "Oslo"}) + "\n{not json\n"
    )
    pd.DataFrame({"inference_id": ["i6"], "model_id": ["fraud"],
                  "ts": [pd.Timestamp("2026-03-02 12:00:00.123456", tz="UTC")],
                  "prediction": [0.9]}).to_parquet(tmp_path / "c.parquet")
    run = ingest_files(lake, "inferences",
                       [tmp_path / "a.csv", tmp_path / "b.jsonl", tmp_path / "c.parquet"], models())
    assert (run.rows_in, run.rows_out, run.rows_quarantined) == (7, 3, 4)
    raw = delta_frame(f"{lake_dir}/raw/inferences", ["inference_id", "ts", "prediction", "amount"])
    assert raw["inference_id"].tolist() == ["i1", "i5", "i6"]
    assert raw["ts"].tolist() == [pd.Timestamp("2026-03-02 10:15", tz="UTC"),
                                  pd.Timestamp("2026-03-02 11:00", tz="UTC"),
                                  pd.Timestamp("2026-03-02 12:00:00.123456", tz="UTC")]
    assert raw["amount"].tolist()[0] == 10.5
    reasons = sorted(delta_frame(f"{lake_dir}/quarantine")["reason"])
    assert reasons == sorted([
        "ts 'yesterday' is not a timestamp",
        "missing inference_id",
        "prediction 'high' is not a number; "
        "amount 'abc' is not a number (a numeric feature of fraud)",
        "missing inference_id; missing model_id; missing ts; missing prediction; "
        "malformed JSON line: {not json",
    ])
    quarantined = delta_frame(f"{lake_dir}/quarantine")
    assert json.loads(quarantined["row"][quarantined["reason"] == "missing inference_id"].iloc[0])[
        "ts"] == "2026-03-02T10:16:00Z"
    recorded = runs(str(lake_dir), "ingest-inferences")[-1]
    assert (recorded["rows_in"], recorded["rows_out"], recorded["rows_quarantined"]) == (7, 3, 4)
    assert json.loads(recorded["output_versions"])["raw/inferences"] >= 1


def test_same_files_twice_is_a_no_op(spark, lake_dir, tmp_path):
    lake = _lake(spark, lake_dir)
    path = tmp_path / "l.csv"
    path.write_text("inference_id,label,label_ts\nx1,1,2026-03-05T00:00:00Z\nx2,1,not-a-date\n")
    first = ingest_files(lake, "labels", [path], models())
    version = lake.table("raw/labels").version()
    second = ingest_files(lake, "labels", [path], models())
    assert (first.rows_out, first.rows_quarantined) == (1, 1)
    assert second.rows_in == 0 and "ingested before" in second.notes[0]
    assert lake.table("raw/labels").version() == version
    assert len(delta_frame(f"{lake_dir}/quarantine")) == 1


def test_missing_columns_and_unknown_formats_are_clear_errors(spark, lake_dir, tmp_path):
    lake = _lake(spark, lake_dir)
    path = tmp_path / "x.csv"
    path.write_text("inference_id,ts\na,2026-01-01\n")
    with pytest.raises(IngestError, match=r"x.csv: missing required columns \['model_id', "
                                          r"'prediction'\]"):
        ingest_files(lake, "inferences", [path], models())
    with pytest.raises(IngestError, match="unknown format '.xlsx'"):
        ingest_files(lake, "inferences", [tmp_path / "x.xlsx"], models())
    with pytest.raises(IngestError, match=r"api: missing required columns \['label', 'label_ts'\]"):
        ingest_records(lake, "labels", [{"inference_id": "a"}], models())


def test_records_use_the_same_checks(spark, lake_dir):
    lake = _lake(spark, lake_dir)
    now = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    run = ingest_records(lake, "inferences", [
        {"inference_id": "r1", "model_id": "fraud", "ts": now, "prediction": 0.4, "amount": 3},
        {"inference_id": "r2", "model_id": "fraud", "ts": now, "prediction": None},
    ], models())
    assert (run.rows_out, run.rows_quarantined) == (1, 1)
    raw = delta_frame(f"{lake_dir}/raw/inferences", ["inference_id", "ts", "amount", "source"])
    assert raw.to_dict("records") == [{"inference_id": "r1", "ts": pd.Timestamp(now),
                                       "amount": 3.0, "source": "api"}]
