"""The maintain job (daily): every table of the lake compacted, checkpointed and vacuumed.

For each Delta table under the lake root (`lake/maintenance.py` does the work):

1. compaction of small files per partition into files of `maintain.target_file_mb`,
   committed with `dataChange=false` so that no job recomputes anything. Files holding
   rows that an incremental reader has not consumed yet (`raw/inferences` past the
   partition job's cursor, `raw/labels` past join-labels', `inferences` past the id
   index's) are not compacted, so no vacuum can take them before they are read. Each table's
   layout says how rows are ordered and which files may be merged:
   - `inference_index`: files whose `ts` reaches into the duplicate lookback (plus a
     day) are merged per day of `ts`, so the partition job's duplicate lookups still
     skip by `ts`; older files are merged into files sorted by `inference_id` with
     disjoint id ranges, so label lookups skip by the ids' min/max;
   - `metrics/*` and `state/*`: merged within the span their windows are filed by
     (day, week, month), so replacing a window still rewrites one file;
   - the others: per partition, sorted by their time column.
2. a checkpoint, and log entries past the table's log retention removed;
3. vacuum of files that no version within `maintain.vacuum_retention_hours` references
   and of staging folders of killed writes.

Then a join-labels pass expires labels pending longer than `pending_expiry_days` into
`quarantine`, even on a day no new label arrived. What was compacted, refused and
deleted is recorded per table in the run's `job_runs.details`; a table that fails is
recorded there and the others go on (the run says `partial`).
"""
from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime, timedelta, timezone

from inferwatch.context import Context
from inferwatch.jobs import join_labels, partition
from inferwatch.jobs.index import APP as INDEX_APP
from inferwatch.jobs.index import INDEX
from inferwatch.runs import PARTIAL, Progress, Run, track
from inferwatch.lake.files import DataFile
from inferwatch.lake.lease import held
from inferwatch.lake.maintenance import Layout, Report, checkpoint, compact, vacuum
from inferwatch.lake.tables import Lake
from inferwatch.granularity import FILE_SPAN, truncate, utc

JOB = "maintain"
SORT_BY = {"inferences": "ts", "labels": "ts", "raw/inferences": "ts",
           "raw/labels": "label_ts", "labels_pending": "inference_id",
           "quarantine": "quarantined_at", "job_runs": "started_at",
           "state/deliveries": "hour"}


def unread_files(lake: Lake, name: str) -> frozenset[str]:
    """Paths of `name`'s files holding rows its incremental reader has not consumed (all
    of them before its first run); empty for tables no job reads incrementally."""
    cursors = {"raw/inferences": lambda: Progress(lake, partition.JOB).cursor(name),
               "raw/labels": lambda: lake.table("labels_pending").txn_version(
                   join_labels.CURSOR),
               "inferences": lambda: lake.table(INDEX).txn_version(INDEX_APP)}
    if name not in cursors:
        return frozenset()
    table = lake.table(name)
    since = cursors[name]()
    if since is not None and since >= table.version():
        return frozenset()
    return frozenset(f.path for f in table.added_files(since))


def layout(name: str, recent_from: datetime) -> Layout:
    """How table `name` is compacted; `recent_from`: the index's day-by-day tier start."""
    if name == "inference_index":
        return Layout("inference_id", group=lambda f: _index_tier(f, recent_from))
    if name.startswith(("metrics/", "state/")) and name not in SORT_BY:
        return Layout("window_start", group=_window_span)
    return Layout(SORT_BY.get(name))


def _index_tier(data_file: DataFile, recent_from: datetime) -> Hashable:
    low, high = data_file.bounds.get("ts", (None, None))
    if low is None or high is None or utc(high) >= recent_from:
        return ("day", None if low is None else truncate(utc(low), "day"))
    return "older"


def _window_span(data_file: DataFile) -> Hashable:
    unit = FILE_SPAN.get(data_file.partition.get("granularity"), "month")
    low = data_file.bounds.get("window_start", (None, None))[0]
    return None if low is None else truncate(utc(low), unit)


def run(ctx: Context, now: datetime | None = None) -> Run:
    now = now or datetime.now(timezone.utc)
    env = ctx.env
    target = int(env.target_file_mb * 1024 * 1024)
    recent_from = now - timedelta(days=env.duplicate_lookback_days + 1)
    params = {"target_file_mb": env.target_file_mb,
              "vacuum_retention_hours": env.vacuum_retention_hours}
    with track(ctx.lake, JOB, params) as job:
        for name in ctx.lake.names():
            report = Report(name)
            try:
                table = ctx.lake.table(name)
                compact(table, layout(name, recent_from), target, report,
                        unread_files(ctx.lake, name))
                checkpoint(table, report)
                vacuum(table, report, env.vacuum_retention_hours)
                job.outputs[name] = table.version()
            except Exception as err:  # noqa: BLE001 - one table's failure is a value
                report.errors.append(f"{type(err).__name__}: {err}"[:500])
                job.status = PARTIAL
            job.details[name] = report.as_dict()
            if report.files_compacted or report.files_vacuumed or report.errors:
                print(f"[maintain] {name}: {_describe(report)}", flush=True)
        # the expiry pass is a join-labels run: it holds that job's lease, or leaves the
        # expiry to the run that holds it
        with held(ctx.lake, join_labels.JOB) as lease:
            if lease.refused_by is None:
                expiry = join_labels.run(ctx, now=now)
                job.details["join-labels"] = {
                    "run_id": expiry.run_id, "status": expiry.status,
                    "labels_expired_or_rejected": expiry.rows_quarantined}
            else:
                job.notes.append(f"pending labels not expired: join-labels is running "
                                 f"({lease.refused_by})")
        job.notes.append(f"{sum(r.get('files_compacted', 0) for r in job.details.values())} "
                         f"files compacted, "
                         f"{sum(r.get('files_vacuumed', 0) for r in job.details.values())} "
                         f"vacuumed")
    return job


def _describe(report: Report) -> str:
    text = (f"{report.files_compacted} files compacted into {report.files_written}, "
            f"{report.files_vacuumed} vacuumed, {report.files_after} files "
            f"(at most {report.max_files_per_partition} per partition)")
    if report.compactions_refused:
        text += f", {report.compactions_refused} compactions refused (concurrent writes)"
    if report.errors:
        text += f"; failed: {report.errors[0]}"
    return text
