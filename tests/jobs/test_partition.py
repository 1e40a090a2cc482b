from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest
from pyspark.sql import types as T

from inferwatch import scenario
from inferwatch.ingest import ingest_files
from inferwatch.lake import Table
from inferwatch.jobs import partition
from inferwatch.runs import runs
from tests.helpers import delta_frame, models, context

UTC = timezone.utc
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenario")
    made = scenario.generate(seed=3, days=2, rows_per_hour=12)
    return made, scenario.write(made, out)


def _snapshot(lake_dir) -> dict[str, pd.DataFrame]:
    return {name: delta_frame(f"{lake_dir}/{name}", ["inference_id"] if name == "inferences"
                              else None)
            for name in ("inferences", "quarantine")}


def test_generated_rows_in_equal_rows_out_and_rerun_changes_nothing(spark, lake_dir, generated):
    made, files = generated
    ctx = context(spark, lake_dir)
    lake = ctx.lake
    ingest_files(lake, "inferences", files["inferences"], models())
    run = partition.run(ctx, now=NOW)

    # delta-rs alone reads exactly the generated rows minus duplicates and malformed ones
    expected = made.inferences.drop_duplicates("inference_id")
    stored = delta_frame(f"{lake_dir}/inferences")
    assert len(stored) == len(expected) == made.manifest["counts"]["inferences_unique"]
    merged = stored.merge(expected, on="inference_id", suffixes=("", "_gen"))
    assert len(merged) == len(expected)
    for column in ("model_id", "model_version", "prediction", "amount", "country"):
        pd.testing.assert_series_equal(merged[column], merged[f"{column}_gen"],
                                       check_names=False, check_dtype=False)
    assert (merged["ts"] == merged["ts_gen"]).all()
    assert (merged["hour"] == merged["ts"].dt.floor("h")).all()

    assert run.rows_in == run.rows_out + run.rows_duplicate + run.rows_quarantined
    assert run.rows_duplicate == made.manifest["counts"]["duplicates"]
    recorded = runs(str(lake_dir), "partition")[-1]
    assert (recorded["rows_in"], recorded["rows_out"], recorded["rows_duplicate"],
            recorded["rows_quarantined"]) == (run.rows_in, run.rows_out, run.rows_duplicate,
                                              run.rows_quarantined)

    before = _snapshot(lake_dir)
    versions = {n: lake.table(n).version() for n in ("inferences", "quarantine")}
    again = partition.run(ctx, now=NOW)
    assert again.rows_in == 0
    assert {n: lake.table(n).version() for n in versions} == versions
    after = _snapshot(lake_dir)
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name])


RAW = T.StructType([
    T.StructField("inference_id", T.StringType()), T.StructField("model_id", T.StringType()),
    T.StructField("ts", T.StringType()), T.StructField("prediction", T.StringType()),
    T.StructField("ingested_at", T.TimestampType()), T.StructField("ingest_date", T.DateType()),
])


def test_quarantine_reasons_and_dedup_against_stored_hours(spark, lake_dir):
    """A raw table written by another system (string columns) gets the same checks."""
    ctx = context(spark, lake_dir)
    lake = ctx.lake
    raw = Table(spark, f"{lake_dir}/raw/inferences").create(RAW, ["ingest_date"])
    t0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
    first = [("a", "m1", "2026-03-02 10:05:00", "0.1", t0), ("b", "m1", "2026-03-02 11:05:00", "1", t0)]
    raw.append(spark.createDataFrame([(*r, t0.date()) for r in first], RAW))
    assert partition.run(ctx, now=NOW).rows_out == 2
    second = [
        ("a", "m1", "2026-03-02 10:05:00", "0.1", t0),     # already stored in its hour
        ("c", "m1", "2026-03-02 10:30:00", "0.2", t0),     # new in a touched hour
        ("c", "m1", "2026-03-02 10:30:00", "0.2", t0),     # duplicate within the batch
        ("d", "../x", "2026-03-02 10:30:00", "0.2", t0),   # unsafe model_id
        (None, "m1", "2026-03-02 10:30:00", "0.2", t0),    # missing id
        ("e", "m1", None, "0.2", t0),                      # missing ts
        ("f", "m1", "2099-01-01 00:00:00", "0.2", t0),     # far future
        ("g", "m1", "2026-03-02 10:30:00", "NaNish", t0),  # unparseable prediction
        ("h", "m1", "soon", "0.2", t0),                    # unparseable ts
    ]
    raw.append(spark.createDataFrame([(*r, t0.date()) for r in second], RAW))
    run = partition.run(ctx, now=NOW)
    assert (run.rows_in, run.rows_out, run.rows_duplicate, run.rows_quarantined) == (9, 1, 2, 6)
    stored = delta_frame(f"{lake_dir}/inferences", ["inference_id", "hour"])
    assert stored["inference_id"].tolist() == ["a", "b", "c"]
    reasons = sorted(delta_frame(f"{lake_dir}/quarantine")["reason"])
    assert reasons == sorted([
        "model_id '../x' does not match ^[A-Za-z0-9_.-]+$",
        "missing inference_id",
        "missing ts",
        "ts 2099-01-01 00:00:00 is more than 24h in the future",
        "prediction 'NaNish' is not a number",
        "ts 'soon' is not a timestamp",
    ])
    # the stored hour partitions are folders named by value, never by a raw model_id
    assert all(".." not in f.path for f in lake.table("inferences").files())
