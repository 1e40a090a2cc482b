"""One rule set: the bad-input corpus logged by the serving-side logger (plain Python) and
ingested as records by `inferwatch ingest`'s path (Spark) gets the same quarantine reason
for every row, and the same typed values for every accepted row."""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone

import numpy as np
import pytest
from deltalake import DeltaTable

from inferwatch.ingest import IngestError, ingest_records
from inferwatch.log import InferenceLogger
from tests.helpers import context, delta_frame, models
from tests.ingest.test_bad_inputs import CSV_COLUMNS, CSV_ROWS, JSON_LINES, LABEL_ROWS, T0

# how producers write numbers and timestamps (Spark's try_cast decides what they mean)
EDGE_TS = ["2026-03-02", "2026-03", " 2026-03-02T10:15:00Z ", "2026-03-02T10:15:00.123456789Z",
           "2026-03-02T10:15Z", "2026-3-2T1:2:3Z", "2026-03-02T25:00:00Z", "2026-02-30",
           "2026-03-02T10:15:00-0530", "2026-03-02T10:15:00+01", "2026/03/02 10:15",
           "10:15:00", "T10:15:00", "", "   ", "0002-01-01T00:00:00Z", "-2026-03-02", "２０２６-03-02",
           "2026-03-02T10", "2026-03-02T10:15", "2026-03-02T", "2026-07-02T10:15:00 Europe/Paris",
           "2026-03-02T10:15:00GMT+01:00", "2026-03-02T10:15:00 UTC", "12026-03-02"]
EDGE_NUMBERS = ["1e3", "7d", "2.5F", " 0.5 ", "+.5", "5.", "0x10", "1_000", "١٢", "--1",
                "Inf", "+Infinity", "-INF", "nan", "1e400", "-0", "1,5", "", "0.1e-2"]


def _corpus() -> list[dict]:
    rows = [{k: (v if v != "" else None) for k, v in zip(CSV_COLUMNS, row)} for row in CSV_ROWS]
    rows += [dict(r) for r in JSON_LINES]
    rows += [{"inference_id": f"ts-edge-{i}", "model_id": "fraud", "ts": ts, "prediction": 0.5}
             for i, ts in enumerate(EDGE_TS)]
    rows += [{"inference_id": f"num-edge-{i}", "model_id": "fraud", "ts": T0, "prediction": n,
              "amount": n} for i, n in enumerate(EDGE_NUMBERS)]
    rows += [{"inference_id": "typed-1", "model_id": "fraud", "prediction": 0.25, "amount": 3,
              "ts": datetime(2026, 3, 2, 10, 15, tzinfo=timezone.utc), "flag": True,
              "ctx": {"device": "ios"}}]
    rows += [{"inference_id": "numpy-1", "model_id": "fraud", "ts": np.datetime64(
        "2026-03-02T10:15"), "prediction": np.float64(0.75), "amount": np.int64(12),
        "flag": np.bool_(False), "note": np.str_("np")}]  # as pandas hands out values
    return rows


def _labels() -> list[dict]:
    columns = ["inference_id", "label", "label_ts", "model_id", "inference_ts"]
    return [{k: (v if v != "" else None) for k, v in zip(columns, row)} for row in LABEL_ROWS]


@pytest.fixture(scope="module")
def lakes(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("one_rule_set")
    ctx = context(spark, root / "batch")
    ingest_records(ctx.lake, "inferences", _corpus(), models())
    ingest_records(ctx.lake, "labels", _labels(), models())
    with InferenceLogger(str(root / "logged"), models_dir="conf/models",
                         spill_dir=root / "spill", flush_rows=10_000) as logger:
        logger.log_batch(_corpus())
        for row in _labels():
            logger.log_label(row["inference_id"], row["label"], label_ts=row["label_ts"],
                             model_id=row["model_id"], inference_ts=row["inference_ts"])
        assert logger.flush()
        stats = logger.stats()
    return root / "batch", root / "logged", stats


def _reasons(lake) -> Counter:
    frame = delta_frame(f"{lake}/quarantine")
    return Counter((json.loads(r).get("inference_id"), t, why)
                   for r, t, why in zip(frame["row"], frame["table"], frame["reason"]))


def test_every_bad_row_gets_the_same_reason_either_way(lakes):
    batch, logged, stats = lakes
    assert _reasons(logged) == _reasons(batch)
    assert stats["errors"] == 0 and stats["dropped"] == 0
    assert stats["logged"] == stats["flushed"] + stats["quarantined"]


@pytest.mark.parametrize("table,columns", [
    ("raw/inferences", ["inference_id", "model_id", "ts", "prediction", "amount",
                        "distance_km", "country", "note", "flag", "ctx"]),
    ("raw/labels", ["inference_id", "label", "label_class", "label_ts", "inference_ts"]),
])
def test_accepted_rows_are_typed_the_same_either_way(lakes, table, columns):
    batch, logged, _ = lakes
    assert delta_frame(f"{logged}/{table}", columns).equals(
        delta_frame(f"{batch}/{table}", columns))


def test_a_column_name_no_raw_table_may_hold_is_refused_either_way(spark, tmp_path):
    row = {"inference_id": "a", "model_id": "fraud", "ts": T0, "prediction": 0.1, "user.age": 3}
    with pytest.raises(IngestError) as refused:
        ingest_records(context(spark, tmp_path / "batch").lake, "inferences", [row], models())
    lake = tmp_path / "logged"
    with InferenceLogger(str(lake), model_id="fraud", models_dir="conf/models",
                         spill_dir=tmp_path / "spill") as logger:
        logger.log("b", prediction=0.2, features={"user.age": 3, "amount": 1.0})
        logger.log_batch([row, {**row, "inference_id": "c", "user.age": None}])
        logger.log_batch([{"inference_id": "d", "prediction": 0.3, "features": {"a`b": 1}}])
        logger.log("ok", prediction=0.4, features={"amount": 1.0})
        assert logger.flush()
        stats, why = logger.stats(), logger.dropped_reasons()
    said = str(refused.value).removeprefix("api: ")  # the batch path's words, for one rule
    assert said == "column names with '.' or '`' are not supported ['user.age']; rename them"
    assert why == {said: 3, said.replace("'user.age'", "'a`b'"): 1}
    assert stats["dropped"] == 4 and stats["logged"] == stats["flushed"] == 1
    raw = DeltaTable(str(lake / "raw/inferences"))
    assert "user.age" not in raw.schema().to_arrow().names
    assert list(delta_frame(str(lake / "raw/inferences"), ["inference_id"])["inference_id"]) \
        == ["ok"]
    assert not (lake / "quarantine").exists()
