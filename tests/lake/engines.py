"""Delta tables as other engines write them: delta-rs writes the data (column mapping by
name when asked), and what delta-rs cannot write, deletion vectors, is committed by hand
as Spark with delta-spark writes it: a protocol upgrade, then per delete a remove and an
add of the same file carrying the vector (inline in the log, or in a file beside the
data). `polars_deltalake` (delta-kernel-rs) is the independent reader the tests compare
with."""
from __future__ import annotations

import json
import struct
import uuid
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from inferwatch.lake.vectors import serialize, z85_encode

WRITTEN_AT = 1796649507999


def create(root: Path, data: pa.Table, mapping: bool = False) -> int:
    """A new table holding `data` (column mapping by name if `mapping`), committed by
    hand: delta-rs 1.6.6 writes a column-mapped table's Parquet under the logical names."""
    features = sorted({"timestampNtz" for f in data.schema
                       if pa.types.is_timestamp(f.type) and not f.type.tz}
                      | ({"columnMapping"} if mapping else set()))
    protocol = ({"minReaderVersion": 3, "minWriterVersion": 7, "readerFeatures": features,
                 "writerFeatures": features} if features
                else {"minReaderVersion": 1, "minWriterVersion": 2})
    config = {"delta.columnMapping.mode": "name"} if mapping else {}
    schema = {"type": "struct", "fields": []}
    metadata = _grown(schema, config, data, {"id": str(uuid.uuid4()), "createdTime": WRITTEN_AT})
    (root / "_delta_log").mkdir(parents=True)
    return commit(root, {"protocol": protocol}, metadata, _add(root, data, schema, config),
                  operation="CREATE TABLE", version=0)


def append(root: Path, data: pa.Table) -> int:
    """Append `data` as one file, by hand as delta-spark does (delta-rs 1.6.6 writes a
    column mapping id as a string when it merges a schema): a column new to the table
    is added to the schema first, with its own physical name under column mapping."""
    dt = DeltaTable(str(root))
    schema, config = json.loads(dt.schema().to_json()), dict(dt.metadata().configuration)
    before = len(schema["fields"])
    metadata = _grown(schema, config, data, {"id": dt.metadata().id,
                                             "createdTime": dt.metadata().created_time})
    actions = [metadata] if len(schema["fields"]) > before else []
    return commit(root, *actions, _add(root, data, schema, config), operation="WRITE")


def _grown(schema: dict, config: dict, data: pa.Table, identity: dict) -> dict:
    """Add `data`'s new columns to `schema` (in place; a physical name and an id each
    under column mapping); the metaData action of the result."""
    mapped = config.get("delta.columnMapping.mode", "none") != "none"
    known = {f["name"] for f in schema["fields"]}
    for field in data.schema:
        if field.name in known:
            continue
        entry = {"name": field.name, "type": _delta_type(field.type), "nullable": True,
                 "metadata": {}}
        if mapped:
            next_id = int(config.get("delta.columnMapping.maxColumnId", "0")) + 1
            config["delta.columnMapping.maxColumnId"] = str(next_id)
            entry["metadata"] = {"delta.columnMapping.id": next_id,
                                 "delta.columnMapping.physicalName": f"col-{uuid.uuid4()}"}
        schema["fields"].append(entry)
    return {"metaData": {**identity, "format": {"provider": "parquet", "options": {}},
                         "schemaString": json.dumps(schema), "partitionColumns": [],
                         "configuration": config}}


def _add(root: Path, data: pa.Table, schema: dict, config: dict) -> dict:
    """Write `data` as one Parquet file under its physical column names; its add action."""
    mapped = config.get("delta.columnMapping.mode", "none") != "none"
    physical = {f["name"]: (f["metadata"].get("delta.columnMapping.physicalName", f["name"])
                            if mapped else f["name"]) for f in schema["fields"]}
    name = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
    pq.write_table(data.rename_columns([physical[c] for c in data.column_names]), root / name)
    return {"add": {"path": name, "partitionValues": {}, "size": (root / name).stat().st_size,
                    "modificationTime": WRITTEN_AT, "dataChange": True,
                    "stats": json.dumps({"numRecords": data.num_rows})}}


def _delta_type(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind):
        return "timestamp" if kind.tz else "timestamp_ntz"
    return {pa.float64(): "double", pa.int64(): "long", pa.string(): "string"}[kind]


def commit(root: Path, *actions: dict, operation: str = "DELETE",
           version: int | None = None) -> int:
    """The next version of the table's log, written by hand; returns it."""
    log = root / "_delta_log"
    if version is None:
        version = max(int(p.stem) for p in log.glob("*.json")) + 1
    lines = [{"commitInfo": {"timestamp": WRITTEN_AT, "operation": operation}}, *actions]
    (log / f"{version:020d}.json").write_text("".join(json.dumps(a) + "\n" for a in lines))
    return version


def enable_deletion_vectors(root: Path) -> int:
    """Upgrade the protocol as `delta.enableDeletionVectors = true` does (keeping column
    mapping, if the table has it, as a reader feature)."""
    dt = DeltaTable(str(root))
    features = sorted({"deletionVectors", *(dt.protocol().reader_features or ())})
    if dt.metadata().configuration.get("delta.columnMapping.mode", "none") != "none":
        features = sorted({*features, "columnMapping"})
    return commit(root, {"protocol": {"minReaderVersion": 3, "minWriterVersion": 7,
                                      "readerFeatures": features, "writerFeatures": features}},
                  operation="SET TBLPROPERTIES")


def delete_rows(root: Path, path: str, rows: list[int], inline: bool = True) -> int:
    """Delete rows (by index) of the data file `path` with a deletion vector, as a DELETE
    of delta-spark commits it: remove the file, add it again with the vector (the union
    with the vector it had)."""
    add = _live_add(root, path)
    before = set()
    if add.get("deletionVector"):
        from inferwatch.lake.vectors import deleted_rows

        before = set(deleted_rows(add["deletionVector"],
                                  lambda p: (root / p).read_bytes()).tolist())
    rows = sorted(before | set(rows))
    data = serialize(rows)
    if inline:
        vector = {"storageType": "i", "pathOrInlineDv": z85_encode(data),
                  "sizeInBytes": len(data), "cardinality": len(rows)}
    else:
        vector = _stored_vector(root, data, len(rows))
    remove = {"path": add["path"], "deletionTimestamp": WRITTEN_AT, "dataChange": True,
              "extendedFileMetadata": True, "partitionValues": add.get("partitionValues", {}),
              "size": add["size"]}
    if add.get("deletionVector"):
        remove["deletionVector"] = add["deletionVector"]
    return commit(root, {"remove": remove},
                  {"add": {**add, "deletionVector": vector, "dataChange": True}})


def data_files(root: Path) -> list[str]:
    """The paths of the table's live data files, in the order they were added."""
    return [a["path"] for a in _live_adds(root)]


def _stored_vector(root: Path, data: bytes, cardinality: int) -> dict:
    """A vector in its own file (format version 1, then size, bitmap, CRC-32)."""
    name = uuid.uuid4()
    prefix = "dv"
    (root / prefix).mkdir(exist_ok=True)
    blob = b"\x01" + struct.pack(">i", len(data)) + data + struct.pack(">I", zlib.crc32(data))
    (root / prefix / f"deletion_vector_{name}.bin").write_bytes(blob)
    return {"storageType": "u", "pathOrInlineDv": prefix + z85_encode(name.bytes),
            "offset": 1, "sizeInBytes": len(data), "cardinality": cardinality}


def _live_adds(root: Path) -> list[dict]:
    live: dict[str, dict] = {}
    for log in sorted((root / "_delta_log").glob("*.json")):
        for line in log.read_text().splitlines():
            action = json.loads(line)
            if "remove" in action:
                live.pop(action["remove"]["path"], None)
            if "add" in action:
                live[action["add"]["path"]] = action["add"]
    return list(live.values())


def _live_add(root: Path, path: str) -> dict:
    return next(a for a in _live_adds(root) if a["path"] == path)
