"""Progress per (job, model): filtered runs in any order, and a model described after its
data arrived, converge to exactly what one unfiltered run from scratch produces."""
from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable

from inferwatch.model_config import parse_model
from inferwatch.ingest import ingest_records
from inferwatch.jobs import join_labels, partition, performance
from inferwatch.runs import runs
from tests.helpers import context, delta_frame, models

UTC = timezone.utc
START = datetime(2026, 3, 2, 22, tzinfo=UTC)  # 4 hours across a day boundary
HOURS = [START + timedelta(hours=h) for h in range(4)]
TABLES = ("metrics/performance", "state/performance", "metrics/fairness", "state/fairness")
# the KLL sketch bytes may differ with the order rows were merged in; its quantiles do not
VOLATILE = {"delay_sketch"}


def _records(rng: np.random.Generator, n: int = 160):
    inferences, labels = [], []
    for i in range(n):
        model = "fraud" if i % 2 else "eta"
        ts = START + timedelta(minutes=int(rng.integers(0, 4 * 60)))
        row = {"inference_id": f"q{i}", "model_id": model, "model_version": f"v{i % 3}",
               "ts": ts, "amount": float(rng.uniform(0, 2000)),
               "country": str(rng.choice(["DE", "FR"])), "gender": str(rng.choice(["F", "M"])),
               "city": "Lisbon", "vehicle": "bike"}
        row["prediction"] = float(rng.uniform(0, 1)) if model == "fraud" else float(
            rng.uniform(10, 60))
        inferences.append(row)
        if i % 4:
            label = float(rng.uniform(0, 1) < row["prediction"]) if model == "fraud" else (
                row["prediction"] + float(rng.normal(0, 5)))
            labels.append({"inference_id": row["inference_id"], "label": label,
                           "label_ts": ts + timedelta(hours=int(rng.integers(1, 30)))})
    return inferences, labels


@pytest.fixture(scope="module")
def base(spark, tmp_path_factory):
    """A lake with the records ingested, partitioned and labelled (no performance yet)."""
    lake_dir = tmp_path_factory.mktemp("base") / "lake"
    ctx = context(spark, lake_dir)
    inferences, labels = _records(np.random.default_rng(21))
    ingest_records(ctx.lake, "inferences", inferences, models())
    ingest_records(ctx.lake, "labels", labels, models())
    partition.run(ctx)
    join_labels.run(ctx)
    return lake_dir


def _lake(spark, tmp_path_factory, base, name: str, described=None):
    """A copy of the base lake (Delta logs hold relative paths)."""
    lake_dir = tmp_path_factory.mktemp(name) / "lake"
    shutil.copytree(base, lake_dir)
    return context(spark, lake_dir, described), lake_dir


def _tables(lake_dir) -> dict[str, pd.DataFrame]:
    out = {}
    for name in TABLES:
        fields = DeltaTable(f"{lake_dir}/{name}").schema().fields
        out[name] = delta_frame(f"{lake_dir}/{name}",
                                [f.name for f in fields if f.name not in VOLATILE])
    return out


def _assert_same(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    for name, frame in want.items():
        assert len(frame) > 0, name
        pd.testing.assert_frame_equal(got[name][frame.columns], frame, check_like=False,
                                      obj=name)


@pytest.fixture(scope="module")
def full(spark, tmp_path_factory, base):
    ctx, lake_dir = _lake(spark, tmp_path_factory, base, "full")
    performance.run(ctx)
    return _tables(lake_dir)


def test_filtered_runs_in_any_order_equal_one_full_run(spark, tmp_path_factory, base, full):
    ctx, lake_dir = _lake(spark, tmp_path_factory, base, "filtered")
    day_two = HOURS[2]
    steps = [
        dict(model="eta", start=day_two),             # eta, second day only
        dict(start=HOURS[0], end=HOURS[1]),           # every model, one hour
        dict(model="fraud"),                          # fraud, everything it is owed
        dict(model="eta", start=HOURS[0], end=day_two),  # eta, the rest it is owed
    ]
    for step in steps:
        run = performance.run(dataclasses.replace(ctx, **step))
        assert run.status == "ok", run.notes
    _assert_same(_tables(lake_dir), full)
    # each model's progress is its own: the first run left eta's first-day hours owed
    first = [r for r in runs(str(lake_dir), "performance") if r["model_id"] == "eta"][0]
    assert first["hours_owed"].count("2026-03-02T2") == 2


def test_a_model_described_after_its_data_arrived_gets_its_history(spark, tmp_path_factory,
                                                                    base, full):
    only_fraud = {"fraud": models()["fraud"]}
    ctx, lake_dir = _lake(spark, tmp_path_factory, base, "late", only_fraud)
    performance.run(ctx)
    assert set(delta_frame(f"{lake_dir}/metrics/performance")["model_id"]) == {"fraud"}
    performance.run(dataclasses.replace(ctx, models=models()))  # eta's YAML is added
    _assert_same(_tables(lake_dir), full)


def test_rebuild_recomputes_a_range_with_new_slices(spark, tmp_path_factory, base, full):
    ctx, lake_dir = _lake(spark, tmp_path_factory, base, "rebuild")
    performance.run(ctx)
    eta = models()["eta"]
    sliced = parse_model(eta.path, {"model_id": "eta", "problem_type": "regression",
                                    "slices": ["prediction > 30"]})
    changed = dataclasses.replace(ctx, models={"eta": sliced})
    assert performance.run(changed).notes == ["eta: 0 hours recomputed"]  # nothing changed
    performance.run(dataclasses.replace(changed, rebuild=True, start=HOURS[0], end=HOURS[2]))
    perf = delta_frame(f"{lake_dir}/metrics/performance")
    new = perf[(perf["slice_key"] == "prediction > 30") & (perf["granularity"] == "1h")]
    assert sorted(new["window_start"].unique()) == [pd.Timestamp(h) for h in HOURS[:2]]
    # the rebuilt model's other slices are what a full run computes
    wanted = full["metrics/performance"]
    wanted = wanted[(wanted["model_id"] == "eta") & (wanted["slice_key"] == "*")]
    got = perf[(perf["model_id"] == "eta") & (perf["slice_key"] == "*")]
    pd.testing.assert_frame_equal(got[wanted.columns].reset_index(drop=True),
                                  wanted.reset_index(drop=True))


def test_one_models_failure_is_a_value_and_the_others_go_on(spark, tmp_path_factory, base):
    ctx, lake_dir = _lake(spark, tmp_path_factory, base, "partial")
    fraud = models()["fraud"]
    broken = dataclasses.replace(fraud, baseline={"source": str(lake_dir / "no.parquet")})
    run = performance.run(dataclasses.replace(ctx, models={"fraud": broken,
                                                           "eta": models()["eta"]}))
    assert run.status == "partial"
    assert run.models["fraud"].status == "failed"
    assert "baseline.source" in run.models["fraud"].error
    assert run.models["eta"].status == "ok"
    recorded = {r["model_id"]: r for r in runs(str(lake_dir), "performance")}
    assert recorded[None]["status"] == "partial" and recorded["fraud"]["status"] == "failed"
    assert set(delta_frame(f"{lake_dir}/metrics/performance")["model_id"]) == {"eta"}
    # fixed, the failed model is computed on the next run; eta has nothing new
    again = performance.run(ctx)
    assert again.status == "ok" and "eta: 0 hours recomputed" in again.notes
    assert set(delta_frame(f"{lake_dir}/metrics/performance")["model_id"]) == {"eta", "fraud"}
