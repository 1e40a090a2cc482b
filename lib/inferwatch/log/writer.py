"""One flush of the serving-side logger: text rows checked, typed and appended with delta-rs.

Each flush is one commit to `raw/inferences` (or `raw/labels`) and, when rows were not
loggable, one to `quarantine` first, with the reasons of `ingest.check` (or, for a column
name no raw table may hold, `ingest.contract.unsafe_names_refused`). Both carry the
app transaction (logger id, flush sequence number): a flush retried after an error whose
outcome was unknown (the commit landed, the store said it failed) finds its transaction
in the table and commits nothing, so rows are never doubled in `raw/*`; and the partition
job's duplicate handling would drop them from `inferences` even then. Flushes commit in
sequence order (a later one waits while an earlier one is spilled), which is what lets a
transaction version stand for all flushes up to it.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.schema import Schema as DeltaSchema
from deltalake.transaction import Transaction

from inferwatch.ingest import check
from inferwatch.ingest import contract as c
from inferwatch.ingest.contract import text_rows
from inferwatch.lake import contract as raw
from inferwatch.lake.contract import ARROW
from inferwatch.lake.storage import StorageSettings, delta_options, delta_uri

COMMIT_RETRIES = 50  # delta-rs retries appends that race other appends


class LakeWriter:
    """Appends checked rows to one lake's raw tables (creating them on first use)."""

    def __init__(self, root: str, models: Mapping[str, Any], app_id: str, source: str,
                 storage: StorageSettings | None = None):
        self.root = root.rstrip("/")
        self.models = models
        self.app_id = app_id
        self.source = source
        self.storage = storage or StorageSettings({})
        self._open: dict[str, DeltaTable] = {}
        # pyarrow imports its pandas bridge on the first conversion of Python rows, and
        # with it concurrent.futures, which registers an exit hook: if that first
        # conversion were the flush at interpreter exit, the registration would fail
        # ("can't register atexit after shutdown") and the flush with it
        pa.Table.from_pylist([{"x": 1.0}], schema=pa.schema([("x", pa.float64())]))

    def commit(self, kind: str, rows: Sequence[Mapping[str, Any]], seq: int,
               app_id: str | None = None) -> tuple[int, int]:
        """Commit one flush of rows (values as logged, or their text from a spill file);
        (rows appended, rows quarantined). Raises on a
        storage error, after which the same call (same `seq`) is safe to repeat."""
        app = app_id or self.app_id
        columns = sorted({k for row in rows for k in row})
        owners = c.numeric_owners(self.models, columns)
        good, bad = [], []
        for row in rows:
            # `log()` refuses these names; a spill file of an earlier version may hold them
            unsafe = c.unsafe_names(row)
            typed, why = ((None, c.unsafe_names_refused(unsafe)) if unsafe
                          else check.check_row(kind, row, owners))
            if why:
                bad.append((row, why))
            else:
                good.append(typed)
        now = datetime.now(timezone.utc)
        spec = c.KINDS[kind]
        if bad:
            self._append("quarantine", app, seq,
                         lambda _have: self._quarantine(bad, spec["table"], app, now))
        if good:
            self._append(spec["table"], app, seq,
                         lambda have: self._raw(spec["table"], good, set(owners), now, have))
        return len(good), len(bad)

    def close(self) -> None:
        self._open.clear()

    # -- rows to Arrow -----------------------------------------------------------------
    def _quarantine(self, bad: list[tuple[Mapping, str]], table: str, app: str,
                    now: datetime) -> pa.Table:
        data = {
            "row": [json.dumps({k: v for k, v in {**text_rows([row])[0],
                                                     "source": self.source}.items()
                                if v is not None}) for row, _ in bad],
            "reason": [why for _, why in bad], "job": ["logger"] * len(bad),
            "run_id": [app] * len(bad), "quarantined_at": [now] * len(bad),
            "table": [table] * len(bad), "ingest_date": [now.date()] * len(bad),
        }
        columns, _ = raw.RAW_TABLES["quarantine"]
        return pa.table({n: pa.array(data[n], ARROW[t]) for n, t in columns})

    def _raw(self, table: str, rows: list[dict], numeric: set[str], now: datetime,
             have: dict[str, str]) -> pa.Table:
        """The Arrow table of typed rows; `have`: the table's column types now."""
        columns, _ = raw.RAW_TABLES[table]
        types = dict(columns)
        features = sorted({k for row in rows for k in row} - set(types))
        for name in features:
            types[name] = "double" if name in numeric else have.get(name, "string")
        retyped = [n for n in features if n not in numeric and types[n] != "string"]
        for name in retyped:  # a column the lake holds typed: parsed, null where it does
            parse = check.TYPED.get(types[name])  # not (as the batch path stores it)
            for row in rows:
                row[name] = parse(row.get(name)) if parse else None
        fixed = {"source": self.source, "ingested_at": now, "ingest_date": now.date()}
        schema = pa.schema([(n, ARROW.get(t, pa.string())) for n, t in types.items()
                            if n not in fixed])
        data = pa.Table.from_pylist(rows, schema=schema)
        for name, value in fixed.items():
            data = data.append_column(pa.field(name, ARROW[types[name]]),
                                      pa.array([value] * len(rows), ARROW[types[name]]))
        return data.select(list(types))

    # -- Delta -------------------------------------------------------------------------
    def _uri(self, table: str) -> str:
        return delta_uri(f"{self.root}/{table}")

    def _table(self, table: str) -> DeltaTable:
        dt = self._open.get(table)
        if dt is not None:
            dt.update_incremental()
            return dt
        uri, options = self._uri(table), delta_options(self.storage, self.root)
        if not DeltaTable.is_deltatable(uri, storage_options=options):
            try:
                DeltaTable.create(uri, schema=DeltaSchema.from_json(raw.delta_schema_json(table)),
                                  partition_by=raw.partitioning(table), mode="ignore",
                                  storage_options=options)
            except Exception:  # another writer created it first
                if not DeltaTable.is_deltatable(uri, storage_options=options):
                    raise
        dt = self._open[table] = DeltaTable(uri, storage_options=options)
        return dt

    def _append(self, table: str, app: str, seq: int,
                build: Callable[[dict[str, str]], pa.Table]) -> None:
        """Append `build(the table's column types)` as flush `seq` of `app`, from one
        refreshed snapshot; nothing when that flush is already in the table."""
        try:
            dt = self._table(table)
            if (dt.transaction_version(app) or -1) >= seq:
                return  # this flush landed before (a retry after an unknown outcome)
            have = _types(dt)
            data = build(have)
            new = set(data.column_names) - set(have)
            write_deltalake(
                dt, data, mode="append", schema_mode="merge" if new else None,
                partition_by=raw.partitioning(table),
                commit_properties=CommitProperties(
                    max_commit_retries=COMMIT_RETRIES,
                    app_transactions=[Transaction(app, seq)],
                    custom_metadata={"inferwatch.operation": "log",
                                     "inferwatch.source": self.source}))
        except BaseException:
            self._open.pop(table, None)  # reopen next time: the snapshot may be stale
            raise


def _types(dt: DeltaTable) -> dict[str, str]:
    """Column -> Delta type name ("nested" for a struct, array or map)."""
    fields = json.loads(dt.schema().to_json())["fields"]
    return {f["name"]: f["type"] if isinstance(f["type"], str) else "nested" for f in fields}
