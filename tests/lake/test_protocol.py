"""A table whose protocol needs a reader feature the lake layer does not apply (deletion
vectors, column mapping, type widening) is refused in one line naming the table and the
feature, never read wrongly; features that only change the log are read as before.

The upgrades are commits written by hand, as another engine (Spark with delta-spark,
Databricks) would write them; delta-rs loads such tables, so the lake layer must check."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import types as T

from inferwatch.errors import UserError
from inferwatch.lake import Table
from inferwatch.lake.protocol import UnreadableTableError

SCHEMA = T.StructType([T.StructField("id", T.LongType())])


def _table(spark, tmp_path) -> Table:
    table = Table(spark, str(tmp_path / "t"), name="inferences").create(SCHEMA)
    table.append(spark.createDataFrame([(1,), (2,)], SCHEMA))
    return table


def _commit(table: Table, *actions: dict) -> None:
    """The next version of the table's log, written as another engine would."""
    log = Path(table.uri.removeprefix("file://")) / "_delta_log"
    version = max(int(p.stem) for p in log.glob("*.json")) + 1
    lines = [{"commitInfo": {"timestamp": 1796649507999, "operation": "SET TBLPROPERTIES"}},
             *actions]
    (log / f"{version:020d}.json").write_text("".join(json.dumps(a) + "\n" for a in lines))


def _protocol(reader: int, features: list[str] | None = None) -> dict:
    protocol = {"minReaderVersion": reader, "minWriterVersion": 7 if features else 5}
    if features is not None:
        protocol |= {"readerFeatures": features, "writerFeatures": features}
    return {"protocol": protocol}


def _metadata(table: Table, physical: str | None = None, **configuration: str) -> dict:
    """The table's metadata with `configuration`; `physical`: column mapping's id and
    physical name on its column."""
    meta = table.delta().metadata()
    schema = json.loads(table.delta().schema().to_json())
    if physical:
        schema["fields"][0]["metadata"] = {"delta.columnMapping.id": 1,
                                           "delta.columnMapping.physicalName": physical}
    return {"metaData": {"id": meta.id, "format": {"provider": "parquet", "options": {}},
                         "schemaString": json.dumps(schema),
                         "partitionColumns": [], "configuration": configuration,
                         "createdTime": 1796649507999}}


@pytest.mark.parametrize("feature", ["deletionVectors", "typeWidening", "someFutureFeature"])
def test_a_reader_feature_not_applied_is_refused_naming_table_and_feature(
        spark, tmp_path, feature):
    table = _table(spark, tmp_path)
    _commit(table, _protocol(3, [feature]))
    reader = Table(spark, table.uri, name="inferences")  # another process: a fresh snapshot
    for read in (lambda: reader.read().count(), lambda: table.read().count()):
        with pytest.raises(UnreadableTableError) as refused:
            read()
        message = str(refused.value)
        assert isinstance(refused.value, UserError) and "\n" not in message
        assert "table inferences" in message and f"'{feature}'" in message
        assert "version 2" in message or "delta-rs cannot read it" in message


def test_column_mapping_at_reader_version_2_is_refused(spark, tmp_path):
    table = _table(spark, tmp_path)
    _commit(table, _protocol(2), _metadata(table, "col-5f1a", **{"delta.columnMapping.mode": "name",
                                                     "delta.columnMapping.maxColumnId": "1"}))
    with pytest.raises(UnreadableTableError, match="'columnMapping'.*physical names"):
        Table(spark, table.uri, name="inferences").files()


def test_log_only_features_and_timestamp_ntz_read_as_before(spark, tmp_path):
    table = _table(spark, tmp_path)
    _commit(table, _protocol(3, ["timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"]))
    reader = Table(spark, table.uri, name="inferences")
    assert sorted(r.id for r in reader.read().collect()) == [1, 2]
    _commit(table, _protocol(2), _metadata(table, **{"delta.columnMapping.mode": "none"}))
    assert reader.read().count() == 2
