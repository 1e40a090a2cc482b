"""Deletion vectors: which rows of a data file a Delta table has deleted.

A deletion vector (Delta protocol, "Deletion Vectors") marks the deleted rows of one
Parquet file by their row index, as a 64-bit Roaring bitmap (a magic number, then
32-bit Roaring bitmaps keyed by the high 32 bits of the index). The bitmap is stored
inline in the log (`storageType` 'i', Z85 text), in a file beside the data named by a
UUID ('u', a folder prefix and the UUID's Z85 text) or at an absolute path ('p'); in a
file it sits at `offset` as a big-endian size, the bitmap and a CRC-32.
"""
from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from pyroaring import BitMap

MAGIC = 1681511377
Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
_VALUE = {c: i for i, c in enumerate(Z85)}


class DeletionVectorError(ValueError):
    """A deletion vector that cannot be read as the protocol describes it."""


def z85_decode(text: str) -> bytes:
    """Z85 (ZeroMQ's Base85) text as bytes, 4 for every 5 characters."""
    if len(text) % 5:
        raise DeletionVectorError(f"Z85 text of {len(text)} characters, not a multiple of 5")
    out = bytearray()
    for i in range(0, len(text), 5):
        value = 0
        for char in text[i:i + 5]:
            value = value * 85 + _VALUE[char]
        out += value.to_bytes(4, "big")
    return bytes(out)


def deleted_rows(descriptor: Mapping[str, Any], read: Callable[[str], bytes]) -> np.ndarray:
    """The sorted row indexes a deletion vector descriptor (an add action's
    `deletionVector`) deletes; `read(path)` returns the bytes of a file, a path relative
    to the table root or absolute."""
    kind, where = descriptor.get("storageType"), descriptor.get("pathOrInlineDv", "")
    size = int(descriptor["sizeInBytes"])
    if kind == "i":
        data = z85_decode(where)[:size]
    elif kind in ("u", "p"):
        path = where if kind == "p" else _uuid_path(where)
        data = _stored(read(path), int(descriptor.get("offset") or 0), size, path)
    else:
        raise DeletionVectorError(f"unknown deletion vector storage type {kind!r}")
    rows = _bitmap(data)
    if len(rows) != int(descriptor.get("cardinality", len(rows))):
        raise DeletionVectorError(f"deletion vector holds {len(rows)} rows, its descriptor "
                                  f"says {descriptor.get('cardinality')}")
    return rows


def _uuid_path(where: str) -> str:
    """A 'u' descriptor's file: its folder prefix, then the UUID's 20 Z85 characters."""
    prefix, encoded = where[:-20], where[-20:]
    name = f"deletion_vector_{uuid.UUID(bytes=z85_decode(encoded))}.bin"
    return f"{prefix}/{name}" if prefix else name


def _stored(blob: bytes, offset: int, size: int, path: str) -> bytes:
    """The bitmap at `offset` of a deletion vector file (format version 1), its size and
    CRC-32 checked."""
    if blob[:1] != b"\x01":
        raise DeletionVectorError(f"{path}: deletion vector file format {blob[:1]!r}, "
                                  f"expected version 1")
    (stored_size,) = struct.unpack(">i", blob[offset:offset + 4])
    data = blob[offset + 4:offset + 4 + size]
    (checksum,) = struct.unpack(">I", blob[offset + 4 + size:offset + 8 + size])
    if stored_size != size or len(data) != size or zlib.crc32(data) != checksum:
        raise DeletionVectorError(f"{path}: the deletion vector at offset {offset} does "
                                  f"not match its size {size} and checksum")
    return data


def _bitmap(data: bytes) -> np.ndarray:
    magic, buckets = struct.unpack_from("<iQ", data)
    if magic != MAGIC:
        raise DeletionVectorError(f"deletion vector magic number {magic}, expected {MAGIC}")
    position, parts = 12, []
    for _ in range(buckets):
        (high,) = struct.unpack_from("<I", data, position)
        bitmap = BitMap.deserialize(data[position + 4:])
        position += 4 + len(bitmap.serialize())
        parts.append(np.asarray(bitmap.to_array(), dtype=np.int64) + (high << 32))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
