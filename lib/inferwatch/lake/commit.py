"""Committing to the Delta log with optimistic concurrency, and reading the log's
actions (the log half of `Table`).

A commit that loses the race is retried over unrelated commits; if another writer
touched a partition this write read or replaces, it raises `ConcurrentWriteError`,
deletes its own new files and commits nothing.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from deltalake import CommitProperties
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction, RemoveAction, Transaction
from pyspark.sql import types as T

from inferwatch.lake import faults
from inferwatch.lake import files as lf
from inferwatch.lake.files import DataFile
from inferwatch.lake.schema import delta_field, to_spark

log = logging.getLogger(__name__)

Partition = Mapping[str, Any]
MAX_COMMIT_ATTEMPTS = 20
COMMIT_ID = "inferwatch.commit_id"  # in every commit's commitInfo


class ConcurrentWriteError(RuntimeError):
    """Another writer changed partitions this write read or replaces; nothing was committed."""


class Committer:
    """Mixed into `Table`: needs `name`, `delta()`, `version()`, `_files()`, `_key()`,
    `_delete()`."""

    def _add_columns(self, new_fields: list[T.StructField]) -> None:
        # delta-rs ignores a changed schema in create_write_transaction, so new columns
        # take a commit of their own, made only once the write is known to be valid.
        dt = self.delta()
        have = set(to_spark(dt.schema()).fieldNames())
        missing = [f for f in new_fields if f.name not in have]
        if missing:
            dt.alter.add_columns([delta_field(f) for f in missing])
            log.info("%s: schema merged new columns %s", self.name, [f.name for f in missing])

    def _commit(self, adds: list[AddAction], replaced: list[Partition] | None,
                guard: tuple[int, list[Partition] | None] | None,
                txn: tuple[str, int] | None, operation: str,
                new_fields: Sequence[T.StructField] = (),
                remove_files: list[DataFile] | None = None, data_change: bool = True) -> int:
        """Commit with optimistic concurrency: retry over unrelated commits, refuse conflicts.

        Each commit carries a unique id in its commit info: after a failed commit the
        versions written since are searched for it first, so a commit that landed though
        the store reported an error is never retried nor refused (which would delete the
        files it references). An app transaction `txn` already committed, by this or an
        overlapping run, in the snapshot being committed over makes this commit nothing
        (its files are deleted) and returns the current version.

        Conflicts are decided from the actions of the commits since `guard`'s version, as
        Delta's own checker does: a data-changing add or remove in a watched partition
        (`guard[1]`; None: any) refuses the commit, as does the removal of a file this
        commit removes (`remove_files`); appends elsewhere and compactions of other files
        do not conflict (a whole-partition replace re-lists its files on each attempt).
        """
        read_version = self.version() if guard is None else guard[0]
        watched = None if guard is None else guard[1]
        removing = {f.path for f in remove_files or []}
        commit_id = uuid.uuid4().hex
        if new_fields:
            latest = self.version()
            if guard is not None and self._touched(read_version, latest, watched, removing):
                raise self._refuse(adds, read_version, latest, operation)
            self._add_columns(list(new_fields))
        for _attempt in range(MAX_COMMIT_ATTEMPTS):
            dt = self.delta(read_version)
            if txn is not None and (dt.transaction_version(txn[0]) or -1) >= txn[1]:
                self._delete([a.path for a in adds])
                log.info("%s: %s already committed %s; nothing to do", self.name, txn[0], txn[1])
                return read_version
            removes = []
            doomed = remove_files or []
            if replaced is not None or operation == "overwrite":
                doomed = self._files(dt, replaced, None)
            if doomed:
                now_ms = int(time.time() * 1000)
                removes = [RemoveAction(f.path, data_change, now_ms, f.size,
                                        {k: lf.format_partition_value(v) for k, v in f.partition.items()})
                           for f in doomed]
            props = CommitProperties(
                max_commit_retries=0,
                custom_metadata={"inferwatch.operation": operation, COMMIT_ID: commit_id,
                                 "inferwatch.read_version": str(read_version)},
                app_transactions=[Transaction(txn[0], txn[1])] if txn else None,
            )
            try:
                dt.create_write_transaction(
                    adds + removes, mode="append", schema=dt.schema(),
                    partition_by=list(dt.metadata().partition_columns), commit_properties=props,
                )
                landed = read_version + 1
            except CommitFailedError:
                latest = self.version()
                landed = self._landed(commit_id, read_version, latest)
                if landed is None:
                    if guard is not None and self._touched(read_version, latest, watched,
                                                           removing):
                        raise self._refuse(adds, read_version, latest, operation) from None
                    read_version = latest
                    continue
            faults.after_commit(self.name, landed)
            return landed
        self._delete([a.path for a in adds])
        raise ConcurrentWriteError(f"{self.name}: gave up after {MAX_COMMIT_ATTEMPTS} commit attempts")

    def _landed(self, commit_id: str, after: int, upto: int) -> int | None:
        """The version in (after, upto] whose commit info carries `commit_id`, if any."""
        for version in range(after + 1, upto + 1):
            for action in self._log_actions(version):
                if action.get("commitInfo", {}).get(COMMIT_ID) == commit_id:
                    return version
        return None

    def _data_changes(self, after: int, upto: int) -> list[tuple[str, str, dict]] | None:
        """(add|remove, path as logged, the action) of the data-changing actions of
        versions (after, upto], in log order; None when a log file of the range is gone
        (past the log retention)."""
        changes = []
        for version in range(after + 1, upto + 1):
            try:
                actions = self._log_actions(version)
            except FileNotFoundError:
                log.warning("%s: log of version %s is gone; comparing snapshots instead",
                            self.name, version)
                return None
            for action in actions:
                for kind in ("add", "remove"):
                    change = action.get(kind)
                    if change is not None and change.get("dataChange", True):
                        changes.append((kind, change["path"], change))
        return changes

    def _log_actions(self, version: int) -> list[dict]:
        with self._fs.open_input_stream(f"{self._fs_root}/_delta_log/{version:020d}.json") as fh:
            return [json.loads(line) for line in fh.read().decode().splitlines() if line]

    def _refuse(self, adds: list[AddAction], read_version: int, latest: int,
                operation: str) -> ConcurrentWriteError:
        self._delete([a.path for a in adds])
        return ConcurrentWriteError(
            f"{self.name}: versions {read_version + 1}..{latest} changed partitions "
            f"this {operation} read; nothing was committed, re-run the job"
        )

    def _touched(self, after: int, upto: int, partitions: list[Partition] | None,
                 removing: set[str] = frozenset()) -> bool:
        """Whether commits (after, upto] changed data (`dataChange=true` adds or removes)
        in `partitions` (None: anywhere), or removed any file in `removing`."""
        dt = self.delta(upto)
        part_cols = list(dt.metadata().partition_columns)
        types = {f.name: f.dataType.typeName() for f in to_spark(dt.schema()).fields}
        wanted = None if partitions is None else {self._key(p, part_cols) for p in partitions}
        for version in range(after + 1, upto + 1):
            for action in self._log_actions(version):
                change = action.get("add") or action.get("remove")
                if change is None:
                    continue
                if "remove" in action and lf.hive_unescape(change["path"]) in removing:
                    return True
                if not change.get("dataChange", True):
                    continue
                if wanted is None:
                    return True
                values = lf.logged_partition(change, part_cols, types)
                if self._key(values, part_cols) in wanted:
                    return True
        return False
