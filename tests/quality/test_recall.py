"""Recall of the quality job: on the scenario's seed and two others, each data error fails
an expectation that names it, in the hour it starts.

The scenario injects the null spike, the unit change and the stale feature; this test
adds to the same files, for model eta: a schema change (`vehicle` renamed to
`vehicle_type` for two hours), a stopped feed (three hours of eta's rows re-addressed to
a model nobody describes, while fraud keeps sending), and a duplicate flood (half of one
hour's rows delivered again in a later batch)."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pandas as pd
import pytest
from deltalake import DeltaTable

from inferwatch import scenario
from inferwatch.context import open_context
from inferwatch.ingest import ingest_files
from inferwatch.jobs import baseline, partition, quality

DAY2 = scenario.DEFAULT_START + timedelta(days=1)
SCHEMA_AT, STOP_AT, FLOOD_AT = (DAY2 + timedelta(hours=h) for h in (4, 6, 12))


def _inject(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    eta, hour = frame.model_id == "eta", frame.ts.dt.floor("h")
    renamed = eta & hour.between(SCHEMA_AT, SCHEMA_AT + timedelta(hours=1))
    frame["vehicle_type"] = frame.vehicle.where(renamed, None)
    frame.loc[renamed, "vehicle"] = None
    stopped = eta & hour.between(STOP_AT, STOP_AT + timedelta(hours=2))
    frame.loc[stopped, "model_id"] = "eta_offline"
    return frame


def _lake(spark, root, seed: int):
    generated = scenario.generate(seed=seed, days=2, rows_per_hour=60)
    generated = dataclasses.replace(generated, inferences=_inject(generated.inferences))
    files = scenario.write(generated, root / "input")
    ctx = open_context("conf/local.yaml", lake=str(root / "lake"),
                       models_dir=root / "input" / "models", spark=spark)
    ingest_files(ctx.lake, "inferences", files["inferences"], ctx.models)
    partition.run(ctx)
    day2 = [f for f in files["inferences"] if f.suffix == ".parquet"][-1]
    rows = pd.read_parquet(day2)
    hour = pd.to_datetime(rows.ts, utc=True).dt.floor("h")
    flood = rows[(rows.model_id == "eta") & (hour == FLOOD_AT)]
    flood.iloc[::2].to_parquet(root / "flood.parquet")
    ingest_files(ctx.lake, "inferences", [root / "flood.parquet"], ctx.models)
    partition.run(ctx)
    start = scenario.DEFAULT_START
    for model in ("eta", "fraud"):
        window = dataclasses.replace(ctx, model=model, start=start,
                                     end=start + timedelta(days=1))
        baseline.create(window, "default")
    return ctx, generated.manifest


def _validated(ctx) -> pd.DataFrame:
    """Every model-hour of the two days, validated by one quality run (its Spark jobs do
    not grow with the hours: tests/quality/test_one_pass.py)."""
    start = scenario.DEFAULT_START
    assert quality.run(dataclasses.replace(ctx, start=start,
                                           end=start + timedelta(days=2))).status == "ok"
    rows = DeltaTable(f"{ctx.lake.root}/metrics/quality").to_pandas()
    return rows.assign(window_start=pd.to_datetime(rows.window_start, utc=True))


def _at(rows: pd.DataFrame, model: str, hour: datetime) -> pd.DataFrame:
    return rows[(rows.model_id == model) & (rows.window_start == pd.Timestamp(hour))]


def _failed(rows: pd.DataFrame, kind: str, column: str | None = None) -> pd.DataFrame:
    hit = rows[(rows.expectation_type == kind) & ~rows.success]
    return hit if column is None else hit[hit.column == column]


@pytest.mark.parametrize("seed", [11, 5, 23])
def test_every_data_error_fails_in_its_onset_hour(spark, tmp_path, seed):
    ctx, manifest = _lake(spark, tmp_path, seed)
    validated = _validated(ctx)
    onsets = {i["kind"]: datetime.fromisoformat(i["onset"].replace("Z", "+00:00"))
              for i in manifest["incidents"]}

    schema = _failed(_at(validated, "eta", SCHEMA_AT), "expect_table_columns_to_match_set")
    assert len(schema) == 1 and "vehicle_type" in schema.message.iloc[0], schema.message.tolist()
    assert "missing vehicle" in schema.message.iloc[0]

    stopped = _failed(_at(validated, "eta", STOP_AT), "expect_table_row_count_to_be_between")
    assert len(stopped) == 1 and stopped.observed_value.iloc[0] == "0"
    assert "feed stopped" in stopped.message.iloc[0]

    flood = _failed(_at(validated, "eta", FLOOD_AT), "inferwatch_duplicate_rate_to_be_below")
    assert len(flood) == 1 and float(flood.observed_value.iloc[0]) > 0.25, flood

    spike = _at(validated, "fraud", onsets["null_spike"])
    assert len(_failed(spike, "expect_column_values_to_not_be_null", "account_age_days")) == 1

    unit = _at(validated, "eta", onsets["unit_change"])
    assert len(_failed(unit, "expect_column_mean_to_be_between", "distance_km")) == 1

    stale = _at(validated, "eta", onsets["stale_feature"])
    assert len(_failed(stale, "expect_column_stdev_to_be_between", "courier_load")) == 1
