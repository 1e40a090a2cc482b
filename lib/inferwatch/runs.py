"""`job_runs`: one row per job run and per model it handled, with accounting and progress.

Progress is kept per (job, model): the input versions the last `ok` row of that model
recorded, plus the hours it still owes (changed hours that a run bounded by
`--start/--end` left out). Runs filtered by model or time therefore never advance
another model's or another range's progress, and a model described after its data
arrived has no progress yet, so its whole history is computed. Jobs that are not per
model (partition, join-labels) keep their progress on the run-level row (`model_id`
null).

A model's failure is a value: its row says `failed` with the error, the other models go
on, and the run-level row says `partial`. The run is recorded in one commit at its end;
a run killed before then leaves no row, so its work is redone (idempotently) next time.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from inferwatch.lake.tables import JOB_RUNS, Lake

log = logging.getLogger(__name__)
OK, PARTIAL, FAILED = "ok", "partial", "failed"


@dataclass
class Run:
    """A job run's record (or, in `models`, one model's part of it)."""

    job: str
    params: dict[str, Any] = field(default_factory=dict)
    model_id: str | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    rows_in: int = 0
    rows_out: int = 0
    rows_duplicate: int = 0
    rows_pending: int = 0
    rows_quarantined: int = 0
    inputs: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    owed: list[datetime] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    status: str = OK
    error: str | None = None
    models: dict[str, Run] = field(default_factory=dict)

    def for_model(self, model_id: str) -> Run:
        """The part of this run that handles one model (recorded as its own row)."""
        if model_id not in self.models:
            self.models[model_id] = Run(job=self.job, params=self.params, model_id=model_id,
                                        run_id=self.run_id, started_at=self.started_at)
        return self.models[model_id]

    def fail(self, err: BaseException) -> None:
        self.status, self.error = FAILED, f"{type(err).__name__}: {err}"[:2000]

    def check_accounting(self) -> None:
        """`rows_in`, counted from the input itself, must equal the outcomes' sum."""
        accounted = (self.rows_out + self.rows_duplicate + self.rows_pending
                     + self.rows_quarantined)
        if self.rows_in != accounted:
            raise RuntimeError(
                f"{self.job}: row accounting broken: in={self.rows_in} but out={self.rows_out}"
                f" + duplicates={self.rows_duplicate} + pending={self.rows_pending}"
                f" + quarantined={self.rows_quarantined} = {accounted}")

    def summary(self) -> str:
        text = (f"{self.job}: in={self.rows_in} out={self.rows_out} "
                f"duplicates={self.rows_duplicate} quarantined={self.rows_quarantined}")
        if self.rows_pending:
            text += f" pending={self.rows_pending}"
        failed = sorted(m for m, r in self.models.items() if r.status == FAILED)
        if failed:
            text += f" [{self.status}: failed models {', '.join(failed)}]"
        return text

    def add_totals(self) -> None:
        """Run-level counts as the sum of the models' and their tables' last versions."""
        for name in ("rows_in", "rows_out", "rows_duplicate", "rows_pending", "rows_quarantined"):
            setattr(self, name, sum(getattr(r, name) for r in self.models.values()))
        for part in self.models.values():  # the last version each table got to
            for table, version in part.outputs.items():
                self.outputs[table] = max(version, self.outputs.get(table, version))


@contextmanager
def track(lake: Lake, job: str, params: dict[str, Any] | None = None) -> Iterator[Run]:
    """Record a run (and its models' rows) in `job_runs` whether it succeeds or fails."""
    run = Run(job=job, params=params or {})
    t0 = time.monotonic()
    try:
        yield run
    except Exception as err:
        run.fail(err)
        _record(lake, run)
        raise
    # a BaseException (a kill, an injected fault) records nothing, as a real kill would
    if run.status == OK and any(r.status == FAILED for r in run.models.values()):
        ok = any(r.status == OK for r in run.models.values())
        run.status = PARTIAL if ok else FAILED
    _record(lake, run)
    log.info("%s %s in %.1fs [%s]", run.status, run.summary(), time.monotonic() - t0, run.run_id)


def skipped(lake: Lake, job: str, holder: Any) -> Run:
    """Record and return a run that did nothing because another run holds the job's lease
    (`lake.lease.Holder`): status `ok` (nothing failed), nothing read, so no progress
    moves; its note and `details.lease_held_by` say who holds the lease."""
    run = Run(job=job)
    run.notes.append(f"skipped: the {job} lease is held by {holder}")
    run.details["lease_held_by"] = holder.as_dict()
    _record(lake, run)
    return run


def _row(run: Run, ended: datetime) -> dict[str, Any]:
    return {
        "run_id": run.run_id, "job": run.job, "model_id": run.model_id,
        "params": json.dumps(run.params, default=str), "started_at": run.started_at,
        "ended_at": ended, "status": run.status, "rows_in": run.rows_in,
        "rows_out": run.rows_out, "rows_duplicate": run.rows_duplicate,
        "rows_pending": run.rows_pending, "rows_quarantined": run.rows_quarantined,
        "input_versions": json.dumps(run.inputs), "output_versions": json.dumps(run.outputs),
        "hours_owed": json.dumps([h.isoformat() for h in sorted(run.owed)]),
        "error": run.error,
        "details": json.dumps(run.details, default=str, sort_keys=True) if run.details else None,
    }


def _record(lake: Lake, run: Run) -> None:
    ended = datetime.now(timezone.utc)
    rows = [_row(run, ended)] + [_row(r, ended) for _, r in sorted(run.models.items())]
    schema = pa.schema([
        pa.field(f.name, pa.timestamp("us", tz="UTC") if f.dataType.typeName() == "timestamp"
                 else pa.int64() if f.dataType.typeName() == "long" else pa.string())
        for f in JOB_RUNS.fields
    ])
    lake.table("job_runs").append_arrow(pa.Table.from_pylist(rows, schema=schema))


# what a job's progress is read from: the rows of that job, these columns only
PROGRESS_COLUMNS = ["started_at", "model_id", "status", "input_versions", "hours_owed"]


class Progress:
    """Where a job stands, per model: read once from `job_runs` at the start of a run."""

    def __init__(self, lake: Lake, job: str):
        self._last: dict[str | None, dict[str, Any]] = {}
        for row in runs(lake.root, job, columns=PROGRESS_COLUMNS,
                        storage_options=lake.table("job_runs").options):
            if row["status"] in (OK, PARTIAL) and row["input_versions"] not in (None, "{}"):
                self._last[row["model_id"]] = row

    def cursor(self, table: str, model_id: str | None = None) -> int | None:
        """Version of `table` up to which the model's (or the job's) last ok run got."""
        row = self._last.get(model_id)
        version = None if row is None else json.loads(row["input_versions"]).get(table)
        return None if version is None else int(version)

    def owed(self, model_id: str | None = None) -> set[datetime]:
        """Hours that a bounded run left for later."""
        row = self._last.get(model_id)
        if row is None or not row.get("hours_owed"):
            return set()
        return {datetime.fromisoformat(h) for h in json.loads(row["hours_owed"])}


def runs(lake_root: str, job: str | None = None, columns: list[str] | None = None,
         storage_options: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """All recorded rows (optionally of one job, only `columns`), oldest first; read
    without Spark."""
    from deltalake import DeltaTable

    path = f"{lake_root}/job_runs"
    if not DeltaTable.is_deltatable(path, storage_options):
        return []
    filters = None if job is None else [("job", "=", job)]
    rows = DeltaTable(path, storage_options=storage_options).to_pyarrow_table(
        columns=columns, filters=filters).to_pylist()
    return sorted(rows, key=lambda r: (r["started_at"], r["model_id"] or ""))
