"""Keeping a table cheap after years of commits: compaction, checkpoints, vacuum.

- `compact`: small files of a partition are merged into files of about `target_bytes`,
  range-partitioned and sorted by the table's sort column, so min/max statistics skip
  files. Only files the layout's `group` puts together are merged (for example one span
  of windows, so a later replace of one window still rewrites one file). The rewrite is
  committed with `dataChange=false`: incremental readers see no new data. A compaction
  whose files another commit removed meanwhile is refused, never forced.
- `checkpoint`: a checkpoint at the current version, then the log entries older than the
  table's `delta.logRetentionDuration` (30 days by default) are removed; incremental
  readers whose cursor is older than that fall back to comparing snapshots.
- `vacuum`: files that no version within `retention_hours` references (files removed by
  replaces and compactions, and orphans of killed writes) are deleted, as are the
  `_staging/` folders of writes killed more than `retention_hours` ago (neither the
  folder nor a file in it touched since). Time travel within the retention keeps
  working. The environment file refuses a retention under a day
  (`config.MIN_VACUUM_RETENTION_HOURS`): a running write's files would go.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import pyarrow.fs as pafs
from pyspark.sql import functions as F

from inferwatch.lake.commit import ConcurrentWriteError
from inferwatch.lake.files import DataFile
from inferwatch.lake.table import Table

log = logging.getLogger(__name__)

TARGET_FILE_BYTES = 128 * 1024 * 1024
# a file at least this share of the target is left alone
SMALL_SHARE = 0.5
VACUUM_RETENTION_HOURS = 168.0


@dataclass(frozen=True)
class Layout:
    """How a table's files are compacted: `sort_by` orders rows within and across the
    new files; `group(file)` says which small files of a partition may be merged (None:
    all of them)."""

    sort_by: str | None = None
    group: Callable[[DataFile], Hashable] | None = None


@dataclass
class Report:
    """What maintenance did to one table (recorded in `job_runs.details`)."""

    table: str
    files_before: int = 0
    files_after: int = 0
    max_files_per_partition: int = 0
    files_compacted: int = 0
    files_written: int = 0
    bytes_compacted: int = 0
    compactions_refused: int = 0
    checkpoint_version: int | None = None
    files_vacuumed: int = 0
    staging_removed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "table" and v not in ([], None)}


def plan(files: list[DataFile], layout: Layout, target_bytes: int) -> list[list[DataFile]]:
    """Groups of two or more small files of one partition (and one layout group) to merge."""
    groups: dict[tuple, list[DataFile]] = {}
    for f in files:
        if f.size >= target_bytes * SMALL_SHARE:
            continue
        part = tuple(sorted((k, str(v)) for k, v in f.partition.items()))
        key = (part, None if layout.group is None else layout.group(f))
        groups.setdefault(key, []).append(f)
    return [sorted(g, key=lambda f: f.path) for g in groups.values() if len(g) >= 2]


def compact(table: Table, layout: Layout, target_bytes: int = TARGET_FILE_BYTES,
            report: Report | None = None, unread: frozenset[str] = frozenset()) -> Report:
    """Merge small files per partition (see the module docstring); one commit per group.
    Files in `unread` (paths of rows an incremental reader has not consumed yet) are left
    as they are, so a vacuum can never take rows no job has read."""
    report = report or Report(table.name)
    version = table.version()
    listed = table.files(version, stats=_stat_columns(layout))
    report.files_before = len(listed)
    files = [f for f in listed if f.path not in unread]
    columns = set(table.schema(version).fieldNames())
    order = (F.col(layout.sort_by) if layout.sort_by in columns else F.lit(0))
    for group in plan(files, layout, target_bytes):
        size = sum(f.size for f in group)
        pieces = max(1, math.ceil(size / target_bytes))
        try:
            table.rewrite_files(group, version, cluster=(order, pieces))
        except ConcurrentWriteError as err:
            report.compactions_refused += 1
            log.warning("%s: compaction refused: %s", table.name, err)
            continue
        report.files_compacted += len(group)
        report.files_written += pieces
        report.bytes_compacted += size
    after = table.files(stats=())
    report.files_after = len(after)
    counts: dict[tuple, int] = {}
    for f in after:
        key = tuple(sorted((k, str(v)) for k, v in f.partition.items()))
        counts[key] = counts.get(key, 0) + 1
    report.max_files_per_partition = max(counts.values(), default=0)
    return report


def _stat_columns(layout: Layout) -> tuple[str, ...] | None:
    # a layout's group may read any bound; without a group none is needed
    return None if layout.group is not None else ()


def checkpoint(table: Table, report: Report) -> None:
    """Write a checkpoint at the current version and drop log entries past retention."""
    dt = table.delta()
    dt.create_checkpoint()
    dt.cleanup_metadata()
    report.checkpoint_version = dt.version()


def vacuum(table: Table, report: Report,
           retention_hours: float = VACUUM_RETENTION_HOURS) -> None:
    """Delete unreferenced files older than the retention, and old staging folders."""
    deleted = table.delta().vacuum(retention_hours=int(math.ceil(retention_hours)),
                                   dry_run=False, enforce_retention_duration=False, full=True)
    report.files_vacuumed = len(deleted)
    report.staging_removed = sweep_staging(table, retention_hours)


def sweep_staging(table: Table, retention_hours: float) -> int:
    """Remove the table's `_staging/<write>` folders older than the retention (writes that
    were killed before their commit); see `sweep_folders`."""
    fs, root = table._fs, table._fs_root  # noqa: SLF001 - the lake layer's own table
    return sweep_folders(fs, f"{root}/_staging", retention_hours)


def sweep_folders(fs: pafs.FileSystem, base: str, retention_hours: float) -> int:
    """Remove the folders directly under `base` that nothing touched within the retention:
    neither the folder itself (a running write that has no file yet only touched its
    folder; a file's first bytes may not move its time) nor any file in it. A folder
    with no time known at all (an object store's folder holding no file yet) is kept."""
    cutoff = time.time() - retention_hours * 3600
    removed = 0
    for info in fs.get_file_info(pafs.FileSelector(base, allow_not_found=True)):
        if info.type != pafs.FileType.Directory:
            continue
        inner = fs.get_file_info(pafs.FileSelector(info.path, recursive=True,
                                                   allow_not_found=True))
        stamps = [i.mtime.timestamp() for i in (info, *inner)
                  if i.mtime is not None and (i is info or i.type == pafs.FileType.File)]
        if stamps and max(stamps) < cutoff:
            fs.delete_dir(info.path)
            removed += 1
    return removed
