"""The raw tables' contract, with no Spark: one definition of their columns and
partitioning, compiled to Spark types for the jobs (`lake.tables`), to Arrow and to Delta's
schema for the serving-side logger (`inferwatch.log`), which writes with delta-rs.

What a raw *row* must be (required columns, quarantine reasons) is `ingest.contract`'s.
"""
from __future__ import annotations

import json
from collections.abc import Iterable

import pyarrow as pa

# the raw tables and the quarantine: (column, Delta type name), partition columns
RAW_TABLES: dict[str, tuple[tuple[tuple[str, str], ...], tuple[str, ...]]] = {
    "raw/inferences": ((
        ("inference_id", "string"), ("model_id", "string"), ("model_version", "string"),
        ("ts", "timestamp"), ("prediction", "double"), ("prediction_label", "string"),
        ("source", "string"), ("ingested_at", "timestamp"), ("ingest_date", "date"),
    ), ("ingest_date",)),
    "raw/labels": ((
        ("inference_id", "string"), ("label", "double"), ("label_class", "string"),
        ("label_ts", "timestamp"), ("model_id", "string"), ("inference_ts", "timestamp"),
        ("source", "string"), ("ingested_at", "timestamp"), ("ingest_date", "date"),
    ), ("ingest_date",)),
    "quarantine": ((
        ("row", "string"), ("reason", "string"), ("job", "string"), ("run_id", "string"),
        ("quarantined_at", "timestamp"), ("table", "string"), ("ingest_date", "date"),
    ), ("table", "ingest_date")),
}
# a contract type name -> its Arrow type (timestamps as Delta stores them: UTC microseconds)
ARROW = {"string": pa.string(), "double": pa.float64(), "timestamp": pa.timestamp("us", "UTC"),
         "date": pa.date32()}


def partitioning(table: str) -> list[str]:
    """The partition columns of the raw table `table`."""
    return list(RAW_TABLES[table][1])


def delta_schema_json(table: str, extra: Iterable[tuple[str, str]] = ()) -> str:
    """A raw table's schema as Delta's schemaString (Spark's StructType JSON)."""
    columns, _ = RAW_TABLES[table]
    fields = [{"name": n, "type": t, "nullable": True, "metadata": {}}
              for n, t in (*columns, *extra)]
    return json.dumps({"type": "struct", "fields": fields})
