"""A job never computes past what its inputs still owe: drift leaves the hours a bounded
profile run left undone (`hours_owed`) for later and scores them once profile has done
them; alerts leave out the windows their metric tables' jobs still owe, and read the
lake through its own storage settings."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pandas as pd
from deltalake import write_deltalake

from inferwatch.alerts import inputs
from inferwatch.jobs import alerts as alerts_job
from inferwatch.jobs import drift
from inferwatch.runs import runs, track
from tests.helpers import context, models

UTC = timezone.utc
H1 = datetime(2026, 3, 2, 10, tzinfo=UTC)
H2 = H1 + timedelta(hours=1)


def _profiled(ctx, owed: list[datetime]) -> None:
    """A profile run of `fraud` recorded as a bounded run that left `owed` undone."""
    versions = {t: ctx.lake.table(t).version() for t in drift.INPUTS}
    with track(ctx.lake, "profile", {"start": H1, "end": H2}) as job:
        job.inputs.update(versions)
        part = job.for_model("fraud")
        part.inputs.update(versions)
        part.owed = owed


def test_drift_leaves_the_hours_profile_owes_for_later(spark, tmp_path, monkeypatch):
    ctx = dataclasses.replace(context(spark, tmp_path / "lake"), model="fraud")
    rows = spark.createDataFrame(
        [(f"i{h:%H}", "fraud", "v1", h + timedelta(minutes=5), 0.5, h) for h in (H1, H2)],
        "inference_id string, model_id string, model_version string, ts timestamp, "
        "prediction double, hour timestamp")
    ctx.lake.table("inferences").append(rows)
    ctx.lake.table("labels")
    scored: list[set[datetime]] = []
    monkeypatch.setattr(drift, "_prepare", lambda _c, _m, hours, _p, _d, **_run: scored.append(hours))

    _profiled(ctx, owed=[H2])  # profile did H1 only
    first = drift.run(ctx)
    assert scored == [{H1}], first.notes
    [row] = [r for r in runs(ctx.lake.root, "drift") if r["model_id"] == "fraud"]
    assert json.loads(row["hours_owed"]) == [H2.isoformat()]

    drift.run(ctx)  # profile still owes H2: nothing to do
    assert scored == [{H1}]

    _profiled(ctx, owed=[])  # profile has done H2 now
    drift.run(ctx)
    assert scored == [{H1}, {H2}]
    last = [r for r in runs(ctx.lake.root, "drift") if r["model_id"] == "fraud"][-1]
    assert json.loads(last["hours_owed"]) == []


def _frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["granularity", "window_start", "value"]).assign(
        window_start=lambda f: pd.to_datetime(f["window_start"], utc=True))


def test_alerts_leave_out_the_windows_their_tables_job_owes():
    day, week = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
    other_day = day + timedelta(days=1)
    found = {"metrics/drift": _frame([("1h", H1, 1), ("1h", H2, 2), ("1d", day, 3),
                                      ("1d", other_day, 4), ("1w", week, 5)]),
             "metrics/performance": _frame([("1h", H2, 6), ("1d", day, 7)])}
    kept = inputs.without_owed(found, {"metrics/drift": {H2},
                                           "metrics/performance": set()})
    assert kept["metrics/drift"]["value"].tolist() == [1, 4]
    assert kept["metrics/performance"]["value"].tolist() == [6, 7]


def _metrics(root, name: str) -> None:
    """A small metric table written with delta-rs: two models, hours and a day."""
    frame = pd.DataFrame({
        "model_id": ["fraud", "fraud", "fraud", "eta"],
        "granularity": ["1h", "1h", "1d", "1h"],
        "window_start": pd.to_datetime([H1, H2, datetime(2026, 3, 2), H2], utc=True),
        "value": [1.0, 2.0, 3.0, 4.0]})
    if name == "metrics/drift":  # one comparison per row, a column per statistic
        import pyarrow as pa

        # and one comparison with the previous hour, which alerts do not read
        frame = pd.concat([frame.assign(comparison="baseline"), frame.iloc[[1]].assign(
            comparison="previous", value=5.0)], ignore_index=True)
        table = pa.Table.from_pandas(frame.rename(columns={"value": "psi"}).assign(
            slice_key="*", drifted_metrics=[["psi"]] * 5, status="ok", n=100,
            n_reference=100), preserve_index=False)
        frame = table.append_column("thresholds", pa.array(
            [{"psi": 0.2}] * 5, type=pa.map_(pa.string(), pa.float64())))
    write_deltalake(f"{root}/{name}", frame, partition_by=["model_id", "granularity"])


def test_the_alerts_job_reads_what_read_reads_through_the_lakes_storage(spark, tmp_path):
    from inferwatch import read
    from inferwatch.alerts import history

    ctx = context(spark, tmp_path / "lake")
    for name in ("metrics/performance", "metrics/drift"):
        _metrics(ctx.lake.root, name)
    span = timedelta(days=1)
    assert inputs.since(ctx.lake, "fraud", span) == history.start(ctx.lake.root, "fraud",
                                                                      span)
    assert inputs.since(ctx.lake, "nope", span) is None
    mine, theirs = (inputs.frames(ctx.lake, "fraud", H2),
                    inputs.frames(ctx.lake.root, "fraud", H2))
    assert set(mine) == set(theirs) == set(alerts_job.INPUTS)
    for name in alerts_job.INPUTS:
        key = sorted(theirs[name].columns)
        pd.testing.assert_frame_equal(
            mine[name][key].sort_values(key).reset_index(drop=True) if key else mine[name],
            theirs[name][key].sort_values(key).reset_index(drop=True) if key
            else theirs[name])
    assert mine["metrics/drift"]["value"].tolist() == [2.0, 5.0]
    assert read.table(ctx.lake.root, "metrics/drift", model="fraud").shape[0] == 4
    # the job reads each table once for a batch of models and cuts it per model: the same
    starts = {"fraud": H2, "eta": None, "nope": H1}
    batch = inputs.Batch(ctx.lake, starts, ())
    for model_id, start in starts.items():
        alone, cut = inputs.frames(ctx.lake, model_id, start), batch.frames(model_id)
        for name in alerts_job.INPUTS:
            if alone[name].empty:
                assert cut[name].empty, (model_id, name)
                continue
            if name == "metrics/drift":  # only what alerts judge (`inputs.JUDGED`)
                alone[name] = alone[name][alone[name]["comparison"] == "baseline"
                                          ].reset_index(drop=True)
            pd.testing.assert_frame_equal(alone[name], cut[name][alone[name].columns],
                                          check_dtype=False)
    assert inputs.newest(ctx.lake, ["fraud", "eta", "nope"]) == {
        m: inputs.newest(ctx.lake, [m])[m] for m in ("fraud", "eta")}


def test_the_alerts_job_reads_no_table_with_the_environments_settings_only(
        spark, tmp_path, monkeypatch):
    from inferwatch import read

    def environment_only(*_args, **_kwargs):
        raise AssertionError("read with the environment's storage variables only")

    ctx = context(spark, tmp_path / "lake", {"fraud": models()["fraud"]})
    for name in ("table", "newest", "exists"):
        monkeypatch.setattr(read, name, environment_only)
    run = alerts_job.run(ctx)
    assert run.status == "ok", run.notes
