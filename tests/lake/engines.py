"""Delta tables as other engines write them, every commit written by hand as delta-spark
writes it (delta-rs 1.6.6 writes a column-mapped table's Parquet under the logical names
and cannot write deletion vectors): column mapping by name, partitions, columns added by
a later commit, protocol upgrades, deletes with a deletion vector (inline in the log or
in a file beside the data) or by rewriting files, compactions. `polars_deltalake`
(delta-kernel-rs) is the independent reader the tests compare with."""
from __future__ import annotations

import json
import struct
import uuid
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable
from pyroaring import BitMap

from inferwatch.lake.vectors import MAGIC, Z85

WRITTEN_AT = 1796649507999


def create(root: Path, data: pa.Table, mapping: bool = False,
           partition_by: tuple[str, ...] = ()) -> int:
    """A new table holding `data` (column mapping by name if `mapping`, partitioned by
    `partition_by`), committed by hand: delta-rs 1.6.6 writes a column-mapped table's
    Parquet under the logical names."""
    features = sorted({"timestampNtz" for f in data.schema
                       if pa.types.is_timestamp(f.type) and not f.type.tz}
                      | ({"columnMapping"} if mapping else set()))
    protocol = ({"minReaderVersion": 3, "minWriterVersion": 7, "readerFeatures": features,
                 "writerFeatures": features} if features
                else {"minReaderVersion": 1, "minWriterVersion": 2})
    config = {"delta.columnMapping.mode": "name"} if mapping else {}
    schema = {"type": "struct", "fields": []}
    metadata = _grown(schema, config, data, {"id": str(uuid.uuid4()), "createdTime": WRITTEN_AT,
                                             "partitionColumns": list(partition_by)})
    (root / "_delta_log").mkdir(parents=True)
    return commit(root, {"protocol": protocol}, metadata,
                  *_adds(root, data, schema, config, list(partition_by)),
                  operation="CREATE TABLE", version=0)


def append(root: Path, data: pa.Table) -> int:
    """Append `data` as one file, by hand as delta-spark does (delta-rs 1.6.6 writes a
    column mapping id as a string when it merges a schema): a column new to the table
    is added to the schema first, with its own physical name under column mapping."""
    dt = DeltaTable(str(root))
    schema, config = json.loads(dt.schema().to_json()), dict(dt.metadata().configuration)
    before = len(schema["fields"])
    partition_by = list(dt.metadata().partition_columns)
    metadata = _grown(schema, config, data, {"id": dt.metadata().id,
                                             "createdTime": dt.metadata().created_time,
                                             "partitionColumns": partition_by})
    actions = [metadata] if len(schema["fields"]) > before else []
    return commit(root, *actions, *_adds(root, data, schema, config, partition_by),
                  operation="WRITE")


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
                         "schemaString": json.dumps(schema), "configuration": config}}


def _adds(root: Path, data: pa.Table, schema: dict, config: dict,
          partition_by: list[str]) -> list[dict]:
    """Write `data` as one Parquet file per partition under its physical column names
    (in a Hive folder of the physical names, as delta-spark does with a random prefix);
    their add actions, partition values keyed by physical name."""
    mapped = config.get("delta.columnMapping.mode", "none") != "none"
    physical = {f["name"]: (f["metadata"].get("delta.columnMapping.physicalName", f["name"])
                            if mapped else f["name"]) for f in schema["fields"]}
    groups = [({}, data)]
    if partition_by:
        keys = data.select(partition_by).to_pylist()
        unique = list({tuple(k.items()): k for k in keys}.values())
        groups = [(k, data.filter(pa.array([row == k for row in keys])))
                  for k in unique]
    adds = []
    for values, rows in groups:
        folder = "/".join(f"{physical[c]}={values[c]}" for c in partition_by)
        name = f"{folder}/part-00000-{uuid.uuid4()}-c000.snappy.parquet".lstrip("/")
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        rows = rows.drop_columns(partition_by)
        pq.write_table(rows.rename_columns([physical[c] for c in rows.column_names]),
                       root / name)
        adds.append({"add": {
            "path": name, "size": (root / name).stat().st_size,
            "partitionValues": {physical[c]: str(values[c]) for c in partition_by},
            "modificationTime": WRITTEN_AT, "dataChange": True,
            "stats": json.dumps({"numRecords": rows.num_rows})}})
    return adds


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
    # a second a commit, as commits are apart in time
    lines = [{"commitInfo": {"timestamp": WRITTEN_AT + 1000 * version, "operation": operation}},
             *actions]
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


def rewrite(root: Path, paths: list[str], keep=None, operation: str = "DELETE") -> int:
    """Replace the data files `paths` by one file of their rows (`keep`: the row indexes
    kept, all when None), as a DELETE without deletion vectors (`dataChange`) or an
    OPTIMIZE (`operation="OPTIMIZE"`, no data change) commits it."""
    adds = [_live_add(root, p) for p in paths]
    rows = pa.concat_tables([pq.read_table(root / p) for p in paths])
    if keep is not None:
        rows = rows.take(pa.array(sorted(keep), pa.int64()))
    data_change = operation != "OPTIMIZE"
    name = str(Path(paths[0]).parent / f"part-00000-{uuid.uuid4()}-c000.snappy.parquet")
    name = name.removeprefix("./")
    pq.write_table(rows, root / name)
    removes = [{"remove": {"path": a["path"], "deletionTimestamp": WRITTEN_AT,
                           "dataChange": data_change, "size": a["size"],
                           "partitionValues": a.get("partitionValues", {})}} for a in adds]
    add = {"path": name, "size": (root / name).stat().st_size, "dataChange": data_change,
           "partitionValues": adds[0].get("partitionValues", {}),
           "modificationTime": WRITTEN_AT, "stats": json.dumps({"numRecords": rows.num_rows})}
    return commit(root, *removes, {"add": add}, operation=operation)


def z85_encode(data: bytes) -> str:
    """Bytes as Z85 text, zero-padded to a multiple of 4 bytes (as Delta writes them)."""
    data = data + b"\0" * (-len(data) % 4)
    out = []
    for i in range(0, len(data), 4):
        value, chunk = int.from_bytes(data[i:i + 4], "big"), []
        for _ in range(5):
            value, rest = divmod(value, 85)
            chunk.append(Z85[rest])
        out.extend(reversed(chunk))
    return "".join(out)


def serialize(rows) -> bytes:
    """Row indexes as a deletion vector's bitmap (magic number and portable 64-bit
    Roaring format), the inverse of `lake.vectors.deleted_rows`' decoding."""
    rows = np.asarray(sorted(set(int(r) for r in rows)), dtype=np.uint64)
    buckets = sorted(set((rows >> 32).tolist()))
    out = struct.pack("<iQ", MAGIC, len(buckets))
    for high in buckets:
        low = rows[(rows >> 32) == high] & 0xFFFFFFFF
        out += struct.pack("<I", high) + BitMap(low.astype(np.uint32).tolist()).serialize()
    return out
