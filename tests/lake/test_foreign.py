"""Another engine's Delta table read by versions (`lake.foreign`): column mapping,
timestamp_ntz, a column added later, deletion vectors inline and in files, a file
deleted whole; every read compared row for row with delta-kernel-rs
(`polars_deltalake`) reading the same table at the same version."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars_deltalake
import pyarrow as pa
import pytest

from inferwatch.lake.foreign import ARRIVED, ForeignTable
from inferwatch.lake.protocol import UnreadableTableError
from tests.lake import engines

START = datetime(2026, 3, 1, 10)


def _rows(prefix: str, n: int, extra: dict | None = None) -> pa.Table:
    columns = {"inference_id": [f"{prefix}{i}" for i in range(n)],
               "ts": pa.array([START + timedelta(minutes=i) for i in range(n)], pa.timestamp("us")),
               "amount": [i * 1.5 for i in range(n)]}
    return pa.table({**columns, **(extra or {})})


def _ours(spark, root: Path, since: int | None, version: int, arrived: bool = False) -> list:
    table = ForeignTable(spark, str(root), name="serving")
    frame = table.read_new(table.new_files(since, version), version)
    return sorted(tuple(r) for r in (frame if arrived else frame.drop(ARRIVED)).collect())


def _kernel(root: Path, version: int) -> list[tuple]:
    frame = polars_deltalake.read_delta(str(root), version=version)
    return sorted(tuple(r) for r in frame.rows())


@pytest.mark.parametrize("mapping", [True, False], ids=["column-mapping", "plain"])
def test_every_version_reads_as_the_kernel_reads_it(spark, tmp_path, mapping):
    root = tmp_path / "serving"
    versions = [engines.create(root, _rows("a", 10), mapping=mapping),
                engines.append(root, _rows("b", 6, {"segment": ["web"] * 6})),
                engines.enable_deletion_vectors(root)]
    first, second = engines.data_files(root)
    versions += [engines.delete_rows(root, first, [1, 4]),
                 engines.delete_rows(root, second, [0, 5], inline=False),
                 engines.delete_rows(root, first, [7]),
                 engines.append(root, _rows("c", 3, {"segment": ["app"] * 3}))]
    table = ForeignTable(spark, str(root), name="serving")
    for version in versions:
        # the whole table at each version, as the kernel reads it
        assert _ours(spark, root, None, version) == _kernel(root, version), version
    # read by versions: what each range adds is the kernel's difference of its ends
    for since, upto in zip(versions, versions[1:]):
        then = {r[0] for r in _kernel(root, since)}
        ours = _ours(spark, root, since, upto)
        assert ours == [r for r in _kernel(root, upto) if r[0] not in then], (since, upto)
        if upto in versions[2:6]:
            assert ours == [], "a protocol change or a delete adds no rows"
    # rows counted from the log alone: the files' records less their vectors' rows
    new = table.new_files(None, versions[-1])
    assert sum(n.rows for n in new) == len(_kernel(root, versions[-1])) == 10 - 3 + 6 - 2 + 3
    # each row arrived when its file's commit was written, also read in one batch
    arrived = {r[0]: r[-1] for r in _ours(spark, root, None, versions[-1], arrived=True)}
    committed = engines.WRITTEN_AT / 1000
    assert arrived["a2"].timestamp() == committed + versions[0]
    assert arrived["b1"].timestamp() == committed + versions[1]
    assert arrived["c0"].timestamp() == committed + versions[-1]
    # a file added after the cursor and deleted from since is read without its rows
    engines.delete_rows(root, engines.data_files(root)[2], [0])
    assert [r[0] for r in _ours(spark, root, versions[-2], versions[-1] + 1)] == ["c1", "c2"]


def test_a_file_deleted_whole_after_the_cursor_adds_nothing(spark, tmp_path):
    root = tmp_path / "serving"
    engines.create(root, _rows("a", 4))
    since = engines.append(root, _rows("b", 2))
    engines.append(root, _rows("c", 2))
    gone = engines.data_files(root)[2]
    add = next(a for a in engines._live_adds(root) if a["path"] == gone)
    latest = engines.commit(root, {"remove": {"path": gone, "dataChange": True,
                                              "deletionTimestamp": engines.WRITTEN_AT,
                                              "size": add["size"]}})
    assert _ours(spark, root, since, latest) == []
    assert len(_kernel(root, latest)) == len(_kernel(root, since)) == 6


def test_a_reader_feature_it_does_not_apply_is_refused_naming_it(spark, tmp_path):
    root = tmp_path / "serving"
    engines.create(root, _rows("a", 2))
    APPLIED = ["deletionVectors", "timestampNtz"]  # noqa: N806
    engines.commit(root, {"protocol": {"minReaderVersion": 3, "minWriterVersion": 7,
                                       "readerFeatures": [*APPLIED, "typeWidening"],
                                       "writerFeatures": [*APPLIED, "typeWidening"]}})
    with pytest.raises(UnreadableTableError, match="'typeWidening' is not supported"):
        ForeignTable(spark, str(root), name="serving").delta()


def test_a_delete_that_rewrites_files_adds_the_rows_it_kept_only_if_they_were_new(spark,
                                                                                  tmp_path):
    root = tmp_path / "serving"
    versions = [engines.create(root, _rows("a", 6)), engines.append(root, _rows("b", 3))]
    versions.append(engines.rewrite(root, engines.data_files(root)[:1], keep=[0, 2, 5]))
    versions.append(engines.append(root, _rows("c", 4)))
    versions.append(engines.rewrite(root, engines.data_files(root)[-1:], keep=[1, 3]))
    for since, upto in [(0, 2), (2, 4), (0, 4), (3, 4)]:
        then = {r[0] for r in _kernel(root, since)}
        assert _ours(spark, root, since, upto) == [
            r for r in _kernel(root, upto) if r[0] not in then], (since, upto)
    assert [r[0] for r in _ours(spark, root, 0, 4)] == ["b0", "b1", "b2", "c1", "c3"]


def test_the_first_read_of_a_compacted_vacuumed_partitioned_table_starts_at_its_checkpoint(
        spark, tmp_path):
    from deltalake import DeltaTable

    from inferwatch.lake.foreign_log import LostLogError

    root = tmp_path / "serving"
    region = {"region": ["eu", "us", "eu", "us", "eu", "us"]}
    engines.create(root, _rows("a", 6, region), mapping=True, partition_by=("region",))
    engines.append(root, _rows("b", 6, region))
    files = engines.data_files(root)
    eu = [files[0], files[2]]  # each commit's first partition: the same region
    compacted = engines.rewrite(root, eu, operation="OPTIMIZE")
    engines.enable_deletion_vectors(root)
    latest = engines.delete_rows(root, engines.data_files(root)[-1], [1, 4])
    DeltaTable(str(root)).create_checkpoint()
    latest = engines.append(root, _rows("c", 6, region))
    # the log before the checkpoint and the compacted files are cleaned up
    for version in range(0, compacted + 1):
        (root / "_delta_log" / f"{version:020d}.json").unlink()
    for path in eu:
        (root / path).unlink()
    assert _ours(spark, root, None, latest) == _kernel(root, latest)
    assert len(_kernel(root, latest)) == 6 + 6 + 6 - 2
    with pytest.raises(LostLogError, match="the log of version 1 is gone"):
        _ours(spark, root, 0, latest)
    with pytest.raises(LostLogError, match="the table was replaced"):
        _ours(spark, root, latest + 3, latest)
