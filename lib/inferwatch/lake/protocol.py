"""Which Delta tables the lake layer can read right, and a one-line refusal of the rest.

The lake layer lists a table's files with delta-rs and reads their Parquet with Spark
(`lake/scan.py`), so what the Delta protocol asks a reader to apply on top of the files is
not applied: a deletion vector's rows would be read back, column mapping's physical names
would not match the schema's, a widened type would meet the old one in older files. A
table whose protocol needs such a feature (written by another engine, or one of the lake's
own tables another engine upgraded) is refused, naming the table and the feature; the
features that only change how the log is kept are read through delta-rs as usual.
"""
from __future__ import annotations

import re

from deltalake import DeltaTable

from inferwatch.errors import UserError

# reader features whose only effect is on the log, which delta-rs reads, or on types the
# Parquet reader maps itself (timestamp_ntz: Spark's TIMESTAMP_NTZ)
READABLE = frozenset({"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"})
WHY = {
    "deletionVectors": "rows deleted by a deletion vector would be read back",
    "columnMapping": "its Parquet files name columns by physical names, not the schema's",
    "typeWidening": "older files hold the narrower type the schema has widened",
}


class UnreadableTableError(UserError):
    """A table whose protocol needs a reader feature the lake layer does not apply."""


def check_readable(dt: DeltaTable, name: str, uri: str,
                   applied: frozenset[str] = frozenset()) -> None:
    """Raise UnreadableTableError unless every reader feature `dt`'s protocol names (and,
    at reader version 2, column mapping) is one the lake layer reads right, or one the
    reader applies itself (`applied`: `lake.foreign.ForeignTable`)."""
    protocol = dt.protocol()
    if protocol.min_reader_version < 2:
        return
    features = set(protocol.reader_features or ())
    if column_mapping_mode(dt) != "none":  # delta-rs omits the feature at reader version 3
        features.add("columnMapping")
    refused = sorted(features - READABLE - applied)
    if refused:
        feature = refused[0]
        raise UnreadableTableError(
            f"table {name} ({uri}, version {dt.version()}): Delta reader feature '{feature}'"
            f" is not supported: {WHY.get(feature, 'the lake layer does not apply it')}"
            f"; readable: a table whose reader features are among {sorted(READABLE | applied)}")


def unreadable(err: Exception, name: str, uri: str) -> UnreadableTableError | None:
    """delta-rs's refusal of a table whose protocol it does not know (a feature newer than
    it) as one line naming the table; None for any other error."""
    text = " ".join(str(err).split())
    if not re.search(r"[Ff]eature '?[\w.-]+'? is not supported|reader features?", text):
        return None
    return UnreadableTableError(f"table {name} ({uri}): delta-rs cannot read it: {text}")


def column_mapping_mode(dt: DeltaTable) -> str:
    """The table's column mapping mode: 'none', 'name' or 'id'."""
    return dt.metadata().configuration.get("delta.columnMapping.mode") or "none"
