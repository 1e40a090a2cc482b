"""`job_runs`: one row per job run, with its row accounting and table versions.

A job's incremental cursor is the input version its last successful run recorded, so a
re-run over the same input finds nothing new and changes nothing.
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
from deltalake import DeltaTable

from inferwatch.tables import JOB_RUNS, Lake

log = logging.getLogger(__name__)


@dataclass
class Run:
    job: str
    params: dict[str, Any]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    rows_in: int = 0
    rows_out: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    inputs: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def check_accounting(self) -> None:
        """Rows in = rows out + duplicates + quarantined, or the run fails loudly."""
        accounted = self.rows_out + self.rows_duplicate + self.rows_quarantined
        if self.rows_in != accounted:
            raise RuntimeError(
                f"{self.job}: row accounting broken: in={self.rows_in} but out={self.rows_out} "
                f"+ duplicates={self.rows_duplicate} + quarantined={self.rows_quarantined}"
            )

    def summary(self) -> str:
        return (f"{self.job}: in={self.rows_in} out={self.rows_out} "
                f"duplicates={self.rows_duplicate} quarantined={self.rows_quarantined}")


@contextmanager
def track(lake: Lake, job: str, params: dict[str, Any] | None = None) -> Iterator[Run]:
    """Record a run in `job_runs` whether it succeeds or fails."""
    run = Run(job=job, params=params or {})
    status, error = "success", None
    t0 = time.monotonic()
    try:
        yield run
    except BaseException as err:
        status, error = "failed", f"{type(err).__name__}: {err}"
        raise
    finally:
        _record(lake, run, status, error)
        log.info("%s %s in %.1fs [%s]", status, run.summary(), time.monotonic() - t0, run.run_id)


def _record(lake: Lake, run: Run, status: str, error: str | None) -> None:
    row = {
        "run_id": run.run_id, "job": run.job, "params": json.dumps(run.params, default=str),
        "started_at": run.started_at, "ended_at": datetime.now(timezone.utc), "status": status,
        "rows_in": run.rows_in, "rows_out": run.rows_out, "rows_duplicate": run.rows_duplicate,
        "rows_quarantined": run.rows_quarantined, "input_versions": json.dumps(run.inputs),
        "output_versions": json.dumps(run.outputs), "error": error,
    }
    schema = pa.schema([
        pa.field(f.name, pa.timestamp("us", tz="UTC") if f.dataType.typeName() == "timestamp"
                 else pa.int64() if f.dataType.typeName() == "long" else pa.string())
        for f in JOB_RUNS.fields
    ])
    lake.table("job_runs").append_arrow(pa.Table.from_pylist([row], schema=schema))


def runs(lake_root: str, job: str | None = None) -> list[dict[str, Any]]:
    """All recorded runs (optionally of one job), oldest first; read without Spark."""
    path = f"{lake_root}/job_runs"
    if not DeltaTable.is_deltatable(path):
        return []
    rows = pa.table(DeltaTable(path).to_pyarrow_table()).to_pylist()
    rows = [r for r in rows if job is None or r["job"] == job]
    return sorted(rows, key=lambda r: r["started_at"])


def last_input_version(lake_root: str, job: str, table: str) -> int | None:
    """Input version of `table` that the job's last successful run processed up to."""
    done = [r for r in runs(lake_root, job) if r["status"] == "success"]
    for row in reversed(done):
        version = json.loads(row["input_versions"] or "{}").get(table)
        if version is not None:
            return int(version)
    return None
