"""A model whose raw log is a Delta table another engine writes (`inferences_table:` in
its model file), monitored end to end: every table the hourly pipeline writes equals the
local run of the same rows ingested from files (tests/cluster/conftest.py).

The tables are the scenario's `fraud` inferences and labels as a serving platform would
keep them: column mapping by name (inferences), times as timestamp_ntz, two commits each
(the second adds columns to the inferences), rows a later DELETE removed with deletion
vectors (inline in the log, and in a file), read over two runs of partition and
join-labels.
 The other model's rows, and the malformed and JSON-lines files,
are ingested from files as before.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from tests.cluster.conftest import SHUFFLE_PARTITIONS
from tests.cluster.tables import differences, snapshot
from tests.lake import engines

MODEL = "fraud"
OTHER_MODEL_COLUMNS = ["items", "prep_time_min", "courier_load", "city", "vehicle"]
# what says where a row came from, not what it is: a file's path or the table's
PROVENANCE = {"inferences": ["source"], "labels": ["source"], "job_runs": None,
              "raw/inferences": None, "raw/labels": None, "quarantine": ["table", "job"]}


def _served(rows: pa.Table, junk: int, ts: str = "ts") -> pa.Table:
    """`rows` as the serving platform logged them (UTC wall time as timestamp_ntz), then
    `junk` rows a later DELETE removes."""
    rows = rows.set_column(rows.schema.get_field_index(ts), ts,
                           pc.cast(rows[ts], pa.timestamp("us")))
    extra = rows.slice(0, junk)
    ids = pa.array([f"deleted-{i}" for i in range(junk)], pa.string())
    return pa.concat_tables([rows, extra.set_column(0, "inference_id", ids)])


def _split_input(files: list[str], folder: Path, order: str) -> tuple[list[str], pa.Table]:
    """(the files with the model's Parquet rows taken out, those rows by `order`); a
    row is the model's by its id (a label may name no model)."""
    kept, taken = [], []
    folder.mkdir(exist_ok=True)
    for path in map(Path, files):
        if path.suffix != ".parquet":
            kept.append(str(path))
            continue
        table = pq.read_table(path)
        mine = pc.starts_with(table["inference_id"], f"{MODEL}-")
        taken.append(table.filter(mine))
        out = folder / path.name
        pq.write_table(table.filter(pc.invert(mine)), out)
        kept.append(str(out))
    return kept, pa.concat_tables(taken, promote_options="default").sort_by(order)


def _per_hour(tables: dict) -> dict:
    """Deliveries summed per model-hour: a batch writes a row per model-hour it holds,
    and the model's hours now come in the table's batches and the files' batch."""
    counts = ["rows_new", "rows_duplicate", "rows_quarantined"]
    tables["state/deliveries"] = (tables["state/deliveries"].groupby(["model_id", "hour"])
                                  [counts].sum().reset_index())
    return tables


def test_a_models_delta_table_is_monitored_as_its_files_are(spark, cluster_input,
                                                             local_reference, tmp_path):
    from inferwatch.context import open_context
    from inferwatch.ingest import ingest_files
    from inferwatch.jobs import partition
    from inferwatch.jobs.hourly import run as run_hourly
    from inferwatch.scoped_conf import scoped
    from inferwatch.jobs import join_labels

    given = cluster_input[1].parent  # the files the reference lake ingested, same paths
    files = {kind: sorted(map(str, (given / kind).iterdir())) for kind in ("inferences",
                                                                           "labels")}
    files["inferences"] += [str(p) for p in sorted(given.glob("inferences_*"))]
    inference_files, rows = _split_input(files["inferences"], tmp_path / "i", "ts")
    label_files, labels = _split_input(files["labels"], tmp_path / "l", "label_ts")
    models = tmp_path / "models"
    shutil.copytree(cluster_input[1], models)
    served, answered = tmp_path / "serving" / "inferences", tmp_path / "serving" / "labels"
    own = yaml.safe_load((models / f"{MODEL}.yaml").read_text())
    (models / f"{MODEL}.yaml").write_text(yaml.safe_dump(
        {**own, "inferences_table": str(served), "labels_table": str(answered)}))
    half, early = rows.num_rows // 2, labels.num_rows // 2
    first, second = _served(rows.slice(0, half), 4), _served(rows.slice(half), 3)

    # the other model's columns (null on these rows) come with the second commit only
    engines.create(served, first.drop_columns(OTHER_MODEL_COLUMNS), mapping=True)
    engines.enable_deletion_vectors(served)
    engines.delete_rows(served, engines.data_files(served)[0], range(half, half + 4))
    engines.create(answered, _served(labels.slice(0, early), 2, ts="label_ts"))
    engines.enable_deletion_vectors(answered)
    engines.delete_rows(answered, engines.data_files(answered)[0], [early, early + 1])
    lake = tmp_path / "lake"
    ctx = open_context("conf/local.yaml", lake=str(lake), models_dir=models, spark=spark)
    for kind, paths in (("inferences", inference_files), ("labels", label_files)):
        ingest_files(ctx.lake, kind, paths, ctx.models)
    with scoped(spark, {"spark.sql.shuffle.partitions": str(SHUFFLE_PARTITIONS)}):
        early_runs = [partition.run(ctx), join_labels.run(ctx)]
        # the second halves arrive, the inferences with a column the first lacked, and
        # their own deletes
        engines.append(served, second)
        engines.delete_rows(served, engines.data_files(served)[1],
                            range(second.num_rows - 3, second.num_rows), inline=False)
        engines.append(answered, _served(labels.slice(early), 0, ts="label_ts"))
        runs = run_hourly(ctx)
    assert early_runs[0].models[MODEL].rows_in == half, early_runs[0].models[MODEL]
    assert early_runs[1].models[MODEL].rows_in >= early, early_runs[1].models[MODEL]
    assert {r.status for r in [*early_runs, *runs]} == {"ok"}, [(r.job, r.error) for r in runs]
    assert runs[0].models[MODEL].rows_in == rows.num_rows - half

    expected, actual = (_per_hour(snapshot(spark, root)) for root in (local_reference, lake))
    found = {}
    for name in expected.keys() | actual.keys():
        if name not in expected or name not in actual:
            found[name] = ["missing"]
            continue
        left = PROVENANCE.get(name, [])
        if left is None:
            continue
        lines = differences(expected[name].drop(columns=left), actual[name].drop(columns=left))
        if lines:
            found[name] = lines
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in sorted(found.items()))
