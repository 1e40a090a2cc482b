"""The log of a Delta table another engine writes, read for what delta-rs does not give:
which files each version added with new rows, and every live file's deletion vector.

- `added(since, upto)`: the files versions (since, upto] added with new rows, as a
  streaming reader takes them (see `lake/foreign.py` for the rules).
- `live(upto)`: every file of the snapshot at `upto` with its latest add action (so its
  deletion vector): the newest complete classic checkpoint at or before it, then the
  JSON commits after it; with no checkpoint, the commits from version 0.

Each add action returned carries COMMITTED: the time of the commit that first added its
file (a checkpoint's files: none, their modification time stands in), when its rows
arrived.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from inferwatch.lake import files as lf

Actions = Callable[[int], list[dict]]
COMMITTED = "__iw_committed"  # set on an add action: its commit's timestamp (ms)
CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(?:\.(\d{10})\.(\d{10}))?\.parquet$")


class LostLogError(RuntimeError):
    """Commits an incremental reader has not read are gone from the table's log."""


class ForeignLog:
    def __init__(self, fs: pafs.FileSystem, root: str, name: str, actions: Actions):
        self._fs, self._log, self.name, self._actions = fs, f"{root}/_delta_log", name, actions

    def added(self, since: int, upto: int) -> dict[str, dict[str, Any]]:
        """Path -> the add action (its latest deletion vector) of each file versions
        (since, upto] added with new rows."""
        new: dict[str, dict[str, Any]] = {}
        for version in range(since + 1, upto + 1):
            try:
                actions = self._actions(version)
            except FileNotFoundError:
                raise LostLogError(
                    f"{self.name}: the log of version {version} is gone (past the table's "
                    f"log retention) before this reader, at version {since}, read it; "
                    f"keep delta.logRetentionDuration above the longest pause between "
                    f"runs") from None
            _replay(actions, new)
        return new

    def live(self, upto: int) -> dict[str, dict[str, Any]]:
        """Path -> latest add action of every file in the snapshot at `upto`."""
        start, files = self._checkpoint(upto)
        first = {path: add.get("modificationTime") for path, add in files.items()}
        for version in range(start + 1, upto + 1):
            actions = self._actions(version)
            info = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
            for action in actions:
                if "add" in action:
                    path = lf.hive_unescape(action["add"]["path"])
                    # a file added again (with a new deletion vector) keeps the time it
                    # first arrived
                    at = first.setdefault(path, info.get("timestamp"))
                    files[path] = {**action["add"], COMMITTED: at}
                elif "remove" in action:
                    files.pop(lf.hive_unescape(action["remove"]["path"]), None)
        return {path: {**add, COMMITTED: first[path]} for path, add in files.items()}

    def _checkpoint(self, upto: int) -> tuple[int, dict[str, dict[str, Any]]]:
        """(version, files) of the newest complete classic checkpoint at or before
        `upto`; (-1, {}) when the log still starts at version 0 and there is none."""
        parts: dict[int, dict[int, str]] = {}
        wanted: dict[int, int] = {}
        for info in self._fs.get_file_info(pafs.FileSelector(self._log)):
            found = CHECKPOINT.match(info.base_name)
            if found and int(found.group(1)) <= upto:
                version = int(found.group(1))
                parts.setdefault(version, {})[int(found.group(2) or 1)] = info.path
                wanted[version] = int(found.group(3) or 1)
        complete = [v for v in parts if len(parts[v]) == wanted[v]]
        if not complete:
            if self._fs.get_file_info(f"{self._log}/{0:020d}.json").type == \
                    pafs.FileType.NotFound:
                raise LostLogError(f"{self.name}: neither the log from version 0 nor a "
                                   f"classic checkpoint is there to read the table from")
            return -1, {}
        version, files = max(complete), {}
        for path in parts[max(complete)].values():
            with self._fs.open_input_file(path) as handle:
                adds = pq.read_table(handle, columns=["add"]).column("add")
            for add in adds.to_pylist(maps_as_pydicts="strict"):
                if add is not None:
                    files[lf.hive_unescape(add["path"])] = add
        return version, files


def _replay(actions: Iterable[dict], new: dict[str, dict[str, Any]]) -> None:
    """Bring `new` (path -> its latest add action) forward over one commit."""
    actions = list(actions)
    removed = {lf.hive_unescape(a["remove"]["path"]) for a in actions
               if "remove" in a and a["remove"].get("dataChange", True)}
    info = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
    operation, committed = info.get("operation"), info.get("timestamp")
    # a DELETE without deletion vectors rewrites the files it touched: the added files
    # hold the rows it kept, new only if the files it rewrote were
    survivors = operation == "DELETE" and removed and not removed & new.keys()
    added = set()
    for action in actions:
        add = action.get("add")
        if add is None or not add.get("dataChange", True):
            continue
        path = lf.hive_unescape(add["path"])
        added.add(path)
        if path in new:  # a new deletion vector of rows not yet read: they came earlier
            new[path] = {**add, COMMITTED: new[path].get(COMMITTED)}
        elif path not in removed and not survivors:  # new rows
            new[path] = {**add, COMMITTED: committed}
    for path in removed - added:  # deleted whole
        new.pop(path, None)

