"""The partition job reading a model's `inferences_table` (a Delta table another engine
writes): the same rules as a file's rows, nothing lost or doubled after a kill between
any two commits, and a table that cannot be read failing that model only."""
from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime, timedelta, timezone

import pandas as pd
import pyarrow as pa
from deltalake import DeltaTable

from inferwatch.ingest import ingest_files
from inferwatch.jobs import partition
from inferwatch.lake.faults import InjectedFault, count_commits, fail_after_commit
from tests.helpers import context, delta_frame, models
from tests.lake import engines

UTC = timezone.utc
NOW = datetime(2026, 11, 1, tzinfo=UTC)
T0 = datetime(2026, 3, 2, 10)
TABLES = ("inferences", "inference_index", "quarantine", "state/deliveries")
# when, by which run and from where a row was written: not what it holds
VOLATILE = {"run_id", "quarantined_at", "ingested_at", "ingest_date", "source", "table", "job"}


def _rows(n: int = 12) -> pa.Table:
    """fraud's inferences as a serving platform logs them, with rows ingest refuses: a
    missing id, a NaN prediction, an amount that is not a number, another model's row."""
    ids = [f"t{i}" for i in range(n)] + [None, "nan", "text", "other"]
    return pa.table({
        "inference_id": ids,
        "model_id": [None] * n + [None, None, "fraud", "eta"],
        "ts": pa.array([T0 + timedelta(minutes=7 * i) for i in range(n + 4)], pa.timestamp("us")),
        "prediction": [i / n for i in range(n)] + [0.5, float("nan"), 0.5, 0.5],
        "amount": [str(10 * i) for i in range(n)] + ["1", "2", "lots", "3"],
        "country": ["PT", "US"] * (n // 2) + ["PT"] * 4,
    })


def _fraud_reading(path) -> dict:
    return {"fraud": dataclasses.replace(models()["fraud"], inferences_table=str(path))}


def _snapshot(lake_dir) -> dict[str, pd.DataFrame]:
    """The tables partition writes; deliveries summed per model-hour (a batch writes a
    row per model-hour it holds, however the versions were cut into batches)."""
    out = {}
    for name in TABLES:
        path = f"{lake_dir}/{name}"
        columns = [f.name for f in DeltaTable(path).schema().fields if f.name not in VOLATILE]
        out[name] = delta_frame(path, columns)
    counts = ["rows_new", "rows_duplicate", "rows_quarantined"]
    out["state/deliveries"] = (out["state/deliveries"].groupby(["model_id", "hour"])[counts]
                               .sum().reset_index())
    return out


def test_a_tables_rows_meet_the_rules_a_files_rows_meet(spark, tmp_path):
    served = tmp_path / "served"
    engines.create(served, _rows(), mapping=True)
    from_table = context(spark, tmp_path / "table-lake", _fraud_reading(served))
    run = partition.run(from_table, now=NOW)
    assert run.status == "ok" and run.models["fraud"].rows_in == 16

    csv = tmp_path / "same.csv"
    frame = _rows().to_pandas()
    frame = frame[frame["model_id"] != "eta"]  # refused by the table's model only
    frame["model_id"] = frame["model_id"].fillna("fraud")
    frame["prediction"] = frame["prediction"].map(lambda v: "NaN" if v != v else repr(v))
    frame.to_csv(csv, index=False)
    from_file = context(spark, tmp_path / "file-lake", {"fraud": models()["fraud"]})
    ingest_files(from_file.lake, "inferences", [csv], from_file.models)
    partition.run(from_file, now=NOW)

    table, files = _snapshot(tmp_path / "table-lake"), _snapshot(tmp_path / "file-lake")
    pd.testing.assert_frame_equal(table["inferences"], files["inferences"])
    reasons = table["quarantine"]["reason"].tolist()
    assert sorted(reasons) == sorted(files["quarantine"]["reason"].tolist() + [
        "model_id 'eta' in the inferences table of model 'fraud'"]), reasons
    assert len(reasons) == 4 and run.models["fraud"].rows_quarantined == 4
    # nothing new: nothing read, nothing written
    again = partition.run(from_table, now=NOW)
    assert again.models["fraud"].rows_in == 0 and again.models["fraud"].outputs == {}


def _served(root) -> dict:
    """The table before a run: rows, two of them deleted with a deletion vector; the
    model reading it."""
    engines.create(root, _rows(), mapping=True)
    engines.enable_deletion_vectors(root)
    engines.delete_rows(root, engines.data_files(root)[0], [0, 3])
    return _fraud_reading(root)


def _more(root) -> None:
    """What the table gets between two runs: new rows, one of them re-sent."""
    later = _rows(4).slice(0, 4)
    engines.append(root, later.set_column(0, "inference_id", pa.array(["t1", "u1", "u2", "u3"])))


def test_a_kill_after_any_commit_then_a_rerun_equals_a_clean_run(spark, tmp_path):
    """Killed after its nth commit, while the table grows before the re-run: the re-run
    finishes the killed batch, then reads the rest, and every table equals two clean runs."""
    clean = context(spark, tmp_path / "clean", _served(tmp_path / "served-clean"))
    with count_commits() as counter:
        partition.run(clean, now=NOW)
    _more(tmp_path / "served-clean")
    partition.run(clean, now=NOW)
    want = _snapshot(tmp_path / "clean")
    assert len(want["inferences"]) == 13 and counter.commits >= 5
    for n in range(1, counter.commits + 1):
        served = tmp_path / f"served-{n}"
        ctx = context(spark, tmp_path / f"killed-{n}", _served(served))
        try:
            with fail_after_commit(n):
                partition.run(ctx, now=NOW)
        except InjectedFault:
            pass
        else:  # the clean count held another thread's commit: every kill point was run
            assert n > 5
            break
        _more(served)
        rerun = partition.run(ctx, now=NOW).models["fraud"]
        assert rerun.rows_in == rerun.rows_out + rerun.rows_duplicate + rerun.rows_quarantined
        got = _snapshot(tmp_path / f"killed-{n}")
        for name, frame in want.items():
            pd.testing.assert_frame_equal(got[name], frame, obj=f"killed after {n}: {name}")


def test_a_table_that_cannot_be_read_fails_its_model_only(spark, tmp_path):
    served = tmp_path / "not-yet"
    both = {**_fraud_reading(served), "eta": models()["eta"]}
    ctx = context(spark, tmp_path / "lake", both)
    csv = tmp_path / "eta.csv"
    csv.write_text("inference_id,model_id,ts,prediction\n"
                   f"e1,eta,{T0.isoformat()}+00:00,31.5\n")
    ingest_files(ctx.lake, "inferences", [csv], ctx.models)
    run = partition.run(ctx, now=NOW)
    failed = run.models["fraud"]
    assert run.status == "partial" and run.rows_out == 1, run
    assert failed.status == "failed" and str(served) in failed.error
    assert "\n" not in failed.error
    # the table appears: the next run takes all of it, eta's row is not read again
    engines.create(served, _rows(4).slice(0, 4))
    again = partition.run(ctx, now=NOW)
    assert again.status == "ok" and again.rows_in == 0
    assert again.models["fraud"].rows_out == 4
    stored = delta_frame(str(tmp_path / "lake" / "inferences"), ["model_id", "inference_id"])
    assert sorted(stored["inference_id"]) == ["e1", "t0", "t1", "t2", "t3"]
    shutil.rmtree(served)


def test_a_labels_tables_rows_meet_the_rules_a_files_rows_meet(spark, tmp_path):
    """The same labels from a model's labels_table and from a file: the same `labels`,
    the same reasons in quarantine (a NaN label, a missing label time, another model's)."""
    from inferwatch.jobs import join_labels

    inferences = tmp_path / "inferences.csv"
    _rows(6).to_pandas().head(6).assign(model_id="fraud").to_csv(inferences, index=False)
    given = pa.table({
        "inference_id": ["t0", "t1", "t2", "t3", "t4", "t5"],
        "label": [1.0, 0.0, float("nan"), 1.0, 0.0, 1.0],
        "label_ts": pa.array([T0 + timedelta(hours=2)] * 3 + [None] + [T0 + timedelta(hours=3)] * 2,
                             pa.timestamp("us")),
        "model_id": [None, "fraud", None, None, "eta", None],
    })
    answered = tmp_path / "answered"
    engines.create(answered, given)
    csv = tmp_path / "labels.csv"
    frame = given.to_pandas()
    frame = frame[frame["model_id"] != "eta"]  # refused by the table's model only
    frame["label"] = frame["label"].map(lambda v: "NaN" if v != v else repr(v))
    frame.to_csv(csv, index=False)
    lakes = {}
    for name, fraud in (("table", dataclasses.replace(models()["fraud"],
                                                      labels_table=str(answered))),
                        ("file", models()["fraud"])):
        ctx = context(spark, tmp_path / name, {"fraud": fraud})
        ingest_files(ctx.lake, "inferences", [inferences], ctx.models)
        if name == "file":
            ingest_files(ctx.lake, "labels", [csv], ctx.models)
        partition.run(ctx, now=NOW)
        lakes[name] = join_labels.run(ctx, now=NOW)
    assert lakes["table"].models["fraud"].rows_in == 6
    table, file = (delta_frame(str(tmp_path / n / "labels"), ["inference_id", "label", "model_id"])
                   for n in ("table", "file"))
    pd.testing.assert_frame_equal(table, file)
    assert sorted(table["inference_id"]) == ["t0", "t1", "t5"]
    reasons = {n: sorted(delta_frame(str(tmp_path / n / "quarantine"), ["reason"])["reason"])
               for n in ("table", "file")}
    assert reasons["table"] == sorted(reasons["file"] + [
        "model_id 'eta' in the labels table of model 'fraud'"]), reasons
    assert len(reasons["file"]) == 2
