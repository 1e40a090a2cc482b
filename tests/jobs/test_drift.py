"""The profile and drift jobs on the scenario: every injected feature incident is
flagged against the baseline in its onset hour or the next; clean columns in clean hours
stay at or below the stated false-flag rate; re-runs change nothing."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from deltalake import DeltaTable

from inferwatch import read
from inferwatch.context import open_context
from inferwatch.jobs import drift, profile, run_job
from inferwatch.model_settings.drift import STATISTICS
from tests.alerts.test_alerts_job import assert_alert_scorecard
from tests.scenarios import copy_lake

FEATURE_INCIDENTS = {"covariate_drift", "unit_change", "stale_feature", "null_spike"}
# hourly comparisons with the baseline, per metric, on clean columns of clean hours
FALSE_FLAG_RATE = 0.03


def _drift(lake, long: bool = True) -> pd.DataFrame:
    """`metrics/drift` as stored (one row per comparison) or one row per statistic."""
    frame = DeltaTable(f"{lake}/metrics/drift").to_pandas()
    frame["window_start"] = pd.to_datetime(frame["window_start"], utc=True)
    return read.drift_metrics(frame) if long else frame


def _scored(lake, manifest: dict) -> tuple[pd.DataFrame, list[dict]]:
    rows = _drift(lake)
    rows = rows[(rows.comparison == "baseline") & (rows.granularity == "1h")
                & (rows.slice_key == "*")]
    incidents = [i for i in manifest["incidents"] if i["kind"] in FEATURE_INCIDENTS]
    live = rows[rows.window_start >= pd.Timestamp(manifest["start"]) + pd.Timedelta(days=1)]
    hit = pd.Series(False, index=live.index)
    for inc in incidents:
        end = pd.Timestamp(inc["end"]) if inc["end"] else pd.Timestamp.max.tz_localize("UTC")
        hit |= ((live.model_id == inc["model_id"]) & (live.column == inc["column"])
                & (live.window_start >= pd.Timestamp(inc["onset"])) & (live.window_start < end))
    # the prediction and the label follow the features (and the incidents) by design
    clean = live[~hit & ~live.column.isin(["prediction", "label"])]
    return clean, incidents


def _check(lake, manifest):
    clean, incidents = _scored(lake, manifest)
    rows = _drift(lake)
    assert incidents
    for inc in incidents:
        onset = pd.Timestamp(inc["onset"])
        first = rows[(rows.model_id == inc["model_id"]) & (rows.column == inc["column"])
                     & (rows.comparison == "baseline") & (rows.granularity == "1h")
                     & (rows.slice_key == "*") & rows.drifted
                     & (rows.window_start >= onset)].window_start.min()
        assert first <= onset + pd.Timedelta(hours=1), (inc, first)
    ok = clean[clean.status == "ok"]
    assert len(ok) > 500
    rates = ok.groupby("metric").drifted.mean()
    assert (rates <= FALSE_FLAG_RATE).all(), rates[rates > FALSE_FLAG_RATE]


def test_the_scenario_drift_is_flagged_at_onset_and_clean_columns_stay_quiet(scenario_lake):
    manifest = json.loads((scenario_lake.parent / "input" / "manifest.json").read_text())
    _check(scenario_lake, manifest)
    rows = _drift(scenario_lake)
    assert {"1h", "1d", "1w"} <= set(rows.granularity)
    assert {"baseline", "previous"} <= set(rows.comparison)
    assert set(rows.status) == {"ok", "insufficient_data"}
    thin = rows[rows.n < 50]
    assert (thin.status == "insufficient_data").all() and not thin.drifted.any()
    unjudged = rows[rows.threshold.isna()]
    assert set(unjudged.metric) <= {"chi2", "null_rate_delta"}, set(unjudged.metric)
    assert set(unjudged[unjudged.metric == "null_rate_delta"].column) <= {"label"}
    assert not rows[(rows.column == "label") & (rows.metric == "null_rate_delta")].drifted.any()
    # as stored: one row per window, slice, column and comparison, the statistics as columns
    stored = _drift(scenario_lake, long=False)
    keys = ["model_id", "granularity", "window_start", "slice_key", "slice_value", "column",
            "comparison"]
    assert not stored.duplicated(keys).any()
    judged = stored[stored.status == "ok"]
    assert len(rows.merge(judged[keys], on=keys)) >= 6 * len(judged), (len(rows), len(judged))
    # a comparison with too few values computes no distribution statistic, only null rates
    thin = stored[stored.status == "insufficient_data"]
    spread = [m for m in STATISTICS if m != "null_rate_delta"]
    assert len(thin) and thin[spread].isna().all().all()
    assert (stored.drifted == stored.drifted_metrics.map(len).gt(0)).all()


@pytest.mark.parametrize("seed", [5, 23])
def test_other_seeds_flag_every_feature_incident(spark, seed_lake, tmp_path, seed):
    # a copy of the seed's shared lake (tests/scenarios.py: three days ingested, partitioned
    # and labels joined, as the pipeline's first jobs leave them); drift comes next
    lake = copy_lake(seed_lake(seed), tmp_path)
    ctx = open_context("conf/local.yaml", lake=str(lake),
                       models_dir=tmp_path / "input" / "models", spark=spark)
    profiled = profile.run(ctx)
    assert profiled.status == "ok" and set(profiled.models) == {"eta", "fraud"}
    for table in ("state/profile", "metrics/profile"):
        # every model's hours in one commit per table: version 0 created it, 1 the run's
        assert DeltaTable(str(lake / table)).version() == 1, table
    first = drift.run(ctx)
    assert first.status == "ok", first.notes
    for model_id, part in first.models.items():  # the profile job's states, not a rescan
        assert "baseline hours' profile read from state/profile" in part.notes, part.notes
    if seed == 23:
        _same_as_profiling_the_rows(ctx)
    manifest = json.loads((tmp_path / "input" / "manifest.json").read_text())
    _check(lake, manifest)
    before = _drift(lake)
    again = drift.run(ctx)  # nothing changed: nothing recomputed
    assert again.status == "ok" and not again.outputs
    after = _drift(lake)
    assert len(after) == len(before)
    # the rest of the pipeline, then the alerts scored against the manifest
    for job in ("join-labels", "multivariate", "performance", "alerts"):
        assert run_job(ctx, job).status == "ok", job
    assert_alert_scorecard(lake, manifest)


def _same_as_profiling_the_rows(ctx) -> None:
    """The `default` baselines built from `state/profile` equal the same baselines built
    by profiling their rows again (stored as `rows`): counts, moments and bounds of every
    slice and column, and which thresholds were calibrated (the sketches' values agree
    within their error, not exactly: KLL is randomized)."""
    from inferwatch.metrics import baseline as bl
    from inferwatch.metrics.joined import baselines_rows

    models = list(ctx.selected_models().values())
    versions = {t: ctx.lake.table(t).version() for t in ("inferences", "labels")}
    batches = [b for b in baselines_rows(ctx.lake, models, versions) if b[1] is not None]
    bl.build_and_store_fleet(ctx.lake, "rows", batches, {m.model_id: [] for m in models},
                             {m.model_id: "rows" for m in models})
    keys = ["model_id", "scope", "window_start", "slice_key", "slice_value", "column"]
    stored = DeltaTable(str(ctx.lake.root) + "/baselines").to_pandas()
    both = [stored[stored.name == name].sort_values(keys).reset_index(drop=True)
            for name in ("default", "rows")]
    assert len(both[0]) == len(both[1]) > 0
    exact = ["count", "num_nulls", "num_nan", "num_inf", "num_zeros", "n_finite", "min", "max"]
    pd.testing.assert_frame_equal(both[0][keys + exact], both[1][keys + exact])
    pd.testing.assert_frame_equal(both[0][["mean", "m2"]], both[1][["mean", "m2"]], rtol=1e-9)
    limits = [frame.thresholds.map(lambda t: sorted(dict(t or {}))) for frame in both]
    assert limits[0].tolist() == limits[1].tolist()


def test_a_named_baseline_from_a_training_file_and_show_drift(spark, scenario_lake, tmp_path):
    import shutil

    from inferwatch.jobs.baseline import create
    from inferwatch.metrics import baseline as bl
    from inferwatch.summary import drifted

    lake = tmp_path / "lake"
    shutil.copytree(scenario_lake, lake)
    inputs = scenario_lake.parent / "input"
    training = sorted((inputs / "inferences").glob("*.parquet"))[0]
    # the states cached while a baseline is built are released once it is stored (counted
    # before the first: the second build's states would reuse the first's cache entries)
    cached = spark.sparkContext._jsc.getPersistentRDDs().size()
    from inferwatch.context import open_context

    ctx = open_context("conf/local.yaml", str(lake), inputs / "models", spark=spark,
                       model="fraud")
    line = create(ctx, "training", source=str(training))
    assert line.startswith("baseline 'training' version 1 of fraud")
    assert spark.sparkContext._jsc.getPersistentRDDs().size() == cached
    again = create(ctx, "training", source=str(training))
    assert "version 2" in again
    assert spark.sparkContext._jsc.getPersistentRDDs().size() == cached
    stored = bl.load(ctx.lake, "fraud", "training")
    rows = {(r["column"], r["slice_key"]): r for r in stored.where("slice_key = '*'").collect()}
    assert set(rows) >= {("amount", "*"), ("country", "*"), ("prediction", "*")}
    assert len(rows[("amount", "*")]["edges"]) == bl.BINS - 1
    assert rows[("amount", "*")]["version"] == 2 and rows[("amount", "*")]["thresholds"]
    assert bl.names(ctx.lake, "fraud") == ["default", "training"]
    text = drifted(str(lake), "fraud")
    assert "drift of fraud (1h):" in text and "amount" in text


def test_comparisons_scored_in_the_workers_equal_the_driver_scoring_them(spark, scenario_lake):
    """The drift job scores its comparisons batch by batch in the executors' Python
    workers (Arrow in and out: maps, arrays, times and nulls cross it), column by column
    (`drift_columns`); each row equals `drift.score` and `drift.compact` run row by row
    on the driver over the same collected summaries."""
    from inferwatch.metrics import baseline as bl
    from inferwatch.metrics import drift as metric
    from inferwatch.metrics import drift_scoring
    from inferwatch.metrics.window_store import read_fleet_windows

    ctx = open_context("conf/local.yaml", str(scenario_lake),
                       scenario_lake.parent / "input" / "models", spark=spark)
    start = pd.Timestamp(json.loads((scenario_lake.parent / "input" / "manifest.json")
                                    .read_text())["start"]).to_pydatetime()
    hours = [start + pd.Timedelta(hours=h) for h in range(30, 36)]
    targets = {m: {"1h": hours, "1d": [start + pd.Timedelta(days=1)]} for m in ctx.models}
    wanted = {m: {g: ws + [ws[0] - (ws[1] - ws[0] if len(ws) > 1 else pd.Timedelta(days=1))]
                  for g, ws in by.items()} for m, by in targets.items()}
    states = read_fleet_windows(ctx.lake, "state/profile", wanted)
    base = bl.load(ctx.lake, "fraud", "default").unionByName(bl.load(ctx.lake, "eta", "default"))
    limits = {m: drift.thresholds(model) for m, model in ctx.models.items()}
    found = drift.pairs(states, targets, base)
    workers = drift_scoring.scored(found, limits).toPandas()
    driver = pd.DataFrame([drift_scoring.compacted(row, numeric, limits) for row, numeric
                           in metric.scored(metric.summaries(found).collect())],
                          columns=metric.DRIFT_SCHEMA.fieldNames())
    assert len(workers) == len(driver) > 1000
    assert set(workers.comparison) == {"baseline", "previous"}
    keys = list(metric.KEYS)
    workers, driver = (f.sort_values(keys).reset_index(drop=True) for f in (workers, driver))
    driver["window_start"] = pd.to_datetime(driver.window_start).dt.tz_localize(None)
    workers["window_start"] = pd.to_datetime(workers.window_start).dt.tz_localize(None)
    for frame in (workers, driver):
        frame["reference_start"] = pd.to_datetime(frame.reference_start).dt.tz_localize(None)
        frame["thresholds"] = frame.thresholds.map(lambda m: sorted(dict(m).items()))
        frame["drifted_metrics"] = frame.drifted_metrics.map(list)
    pd.testing.assert_frame_equal(workers, driver, check_dtype=False)


def test_calibration_maxima_from_the_workers_equal_the_driver_scoring_every_pair(
        spark, scenario_lake):
    """Calibration scores each held-out baseline hour against the rest in the workers
    and Spark keeps each (slice, column, metric)'s largest scaled value: the same maxima
    (to 1e-12) as scoring every collected pair on the driver row by row."""
    from inferwatch.metrics import baseline as bl
    from inferwatch.metrics import drift as metric
    from inferwatch.metrics import drift_scoring, left_out
    from inferwatch.metrics.profile import STATE_SCHEMA
    from pyspark.sql import functions as F

    ctx = open_context("conf/local.yaml", str(scenario_lake),
                       scenario_lake.parent / "input" / "models", spark=spark)
    stored = ctx.lake.table("baselines").read(
        partitions=[{"model_id": m, "name": "default"} for m in ("fraud", "eta")])
    hourly = stored.where(F.col("scope") == "1h").select(*STATE_SCHEMA.fieldNames())
    # cached: merging KLL sketches is order-dependent, so two evaluations of the plan
    # differ within the sketches' rank error; both sides score the same merged sketches
    pairs = bl.with_edges(bl._pair(hourly, left_out.references(hourly)),
                          stored.where(F.col("scope") == "all")).persist()
    pairs.count()
    workers = {tuple(r[:6]): r["scaled"] for r in drift_scoring.scaled_maxima(pairs).collect()}
    driver: dict[tuple, float] = {}
    for row, numeric in metric.scored(metric.summaries(pairs).collect()):
        for name, value, _b, _t, _d, status in metric.score(row, {}, numeric):
            scale = metric.row_scale(name, row)
            if status == "ok" and value is not None and scale > 0:
                at = (*[row[k] for k in bl.KEYS], row["kind"], name)
                driver[at] = max(driver.get(at, 0.0), abs(value) / scale)
    pairs.unpersist()
    assert len(workers) > 100 and {k[0] for k in workers} == {"fraud", "eta"}
    assert workers.keys() == driver.keys()  # the workers sum in another order: ulps apart
    assert all(math.isclose(workers[k], driver[k], rel_tol=1e-12) for k in driver)
    # calibration leaves out the (slice, column)s none of whose hours has MIN_COUNT rows
    # (there are some), and still calibrates every one with a judged held-out hour
    largest = hourly.groupBy(*bl.KEYS).agg(F.max("count").alias("n")).collect()
    assert any(r["n"] < metric.MIN_COUNT for r in largest)
    calibrated = bl.calibrate(hourly, stored.where(F.col("scope") == "all")).collect()
    assert {tuple(r[:4]) for r in calibrated} == {k[:4] for k in driver}


def test_multivariate_drift_flags_incident_days_and_points_at_their_features(scenario_lake):
    manifest = json.loads((scenario_lake.parent / "input" / "manifest.json").read_text())
    rows = DeltaTable(f"{scenario_lake}/metrics/multivariate_drift").to_pandas()
    rows["window_start"] = pd.to_datetime(rows["window_start"], utc=True)
    assert set(rows.granularity) == {"1d"} and (rows.status == "ok").all(), rows
    start = pd.Timestamp(manifest["start"])
    shifting = [i for i in manifest["incidents"] if i["kind"] in ("unit_change",
                                                                  "covariate_drift")]
    assert shifting
    for model_id, days in rows.groupby("model_id"):
        first = days[days.window_start == start].iloc[0]  # the baseline's own day
        assert not first.drifted and abs(first.auc - 0.5) < 0.1, first
    for inc in shifting:
        onset = pd.Timestamp(inc["onset"])
        day = rows[(rows.model_id == inc["model_id"])
                   & (rows.window_start == onset.floor("D") + pd.Timedelta(days=1))]
        if day.empty:  # the incident started on the scenario's last day
            day = rows[(rows.model_id == inc["model_id"])
                       & (rows.window_start == onset.floor("D"))]
        row = day.iloc[0]
        top = [f["feature"] for f in row.top_features[:2]]
        assert row.drifted and inc["column"] in top, (inc, row.auc, row.top_features)


@pytest.mark.parametrize("spec,key", [
    ({"thresholds": {"psi": True}}, "drift.thresholds.psi"),  # YAML's true is no number
    ({"threshold": "high", "numeric": "psi"}, "drift.threshold"),
])
def test_a_drift_settings_mistake_is_one_line_naming_the_key(spec, key):
    import dataclasses

    from inferwatch.config import ConfigError
    from tests.helpers import models

    with pytest.raises(ConfigError) as err:  # when the model is built, as when its file loads
        dataclasses.replace(models()["fraud"], drift=spec)
    assert f"'{key}'" in str(err.value) and "\n" not in str(err.value)
