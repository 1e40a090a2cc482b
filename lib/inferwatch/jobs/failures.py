"""What a scheduled run left failed: the `job_runs` rows of some jobs since a moment.

A job exits 0 when only some of its models failed (the run is `partial`), so a scheduler
runs the next jobs for the healthy models; its last step asks this module whether any
model failed since the scheduler's run started (`inferwatch check-runs --since ...`, the
Airflow DAGs' `check_runs` task). Read with delta-rs, no Spark.

Only the last row of each (job, model) counts: a job retried after a failure and then
done is no failure.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from inferwatch.errors import UnknownNameError, one_line
from inferwatch.redact import redact

if TYPE_CHECKING:
    from inferwatch.config import EnvConfig
    from inferwatch.runs import Run

COLUMNS = ["run_id", "job", "model_id", "started_at", "status", "error", "details"]


def rows_since(lake_root: str, since: datetime, jobs: Sequence[str] | None = None,
               storage_options: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """`job_runs` rows started at or after `since` (of `jobs` only, when given), oldest
    first."""
    from deltalake import DeltaTable

    from inferwatch.lake.storage import delta_uri

    uri = delta_uri(f"{lake_root.rstrip('/')}/job_runs")
    if not DeltaTable.is_deltatable(uri, storage_options):
        return []
    dataset = DeltaTable(uri, storage_options=storage_options).to_pyarrow_dataset()
    wanted = pc.field("started_at") >= pa.scalar(since, type=pa.timestamp("us", "UTC"))
    if jobs is not None:
        wanted &= pc.field("job").isin(list(jobs))
    rows = dataset.to_table(columns=COLUMNS, filter=wanted).to_pylist()
    return sorted(rows, key=lambda r: (r["started_at"], r["model_id"] or ""))


def unresolved(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last row of each (job, model) among `rows` (oldest first), where not `ok`."""
    last = {(r["job"], r["model_id"]): r for r in rows}
    return [r for r in last.values() if r["status"] != "ok"]


def describe(row: dict[str, Any]) -> str:
    """One line about a failed row: job, model (or the run as a whole), status, error."""
    who = row["model_id"] or "run"
    why = row["error"] or (f"details: {row['details']}" if row["details"] else "")
    text = " ".join(f"{row['job']} {who} {row['status']}: {why}".split())
    return redact(text[:500])


def failures(lake_root: str, since: datetime, jobs: Sequence[str] | None = None,
             storage_options: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """How many rows were recorded since `since`, and a line per (job, model) left
    failed, model rows first."""
    rows = rows_since(lake_root, since, jobs, storage_options)
    failed = sorted(unresolved(rows), key=lambda r: (r["model_id"] is None, r["job"],
                                                     r["model_id"] or ""))
    return len(rows), [describe(r) for r in failed]


def check(env: EnvConfig, since: datetime,
          jobs: Sequence[str] | None = None) -> tuple[int, list[str]]:
    """`failures` of the lake an environment names: `inferwatch check-runs`."""
    from inferwatch.jobs import DAILY, PIPELINE
    from inferwatch.lake.storage import delta_options, delta_uri

    for name in jobs or []:
        if name not in PIPELINE + DAILY:
            raise UnknownNameError("job", name, PIPELINE + DAILY)
    return failures(env.lake, since, jobs, delta_options(env.storage, delta_uri(env.lake)))


def not_ok(runs: Sequence[Run]) -> list[str]:
    """What a command prints about runs that were not ok: a line per run, then one per
    failed model with its error."""
    lines = []
    for run in runs:
        if run.status == "ok":
            continue
        lines.append(f"{run.job} {run.status}: {run.summary()}")
        lines += [f"  {model_id}: {redact(one_line(part.error))[:300]}"
                  for model_id, part in sorted(run.models.items()) if part.error]
    return lines
