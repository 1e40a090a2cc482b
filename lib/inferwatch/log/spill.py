"""Where flushes wait while the lake cannot take them: JSON-lines files on local disk.

One folder per logger, named by its app id; one file per flush, named by its sequence
number, so a retry commits it with the same app transaction. The folder's total size is
capped: a flush that does not fit is dropped and counted.

A folder belongs to whoever holds the exclusive `flock` of its `owner.lock`: the logger
that made it (under a hidden name, renamed once locked, so no one sees it unlocked) and,
once the kernel has released that lock with its process, the first logger to take it
(`adopt_orphans`), which delivers its files under the folder's app id and holds the lock
in turn. So a folder passes from one dead holder to the next live logger however many
die in a row, and never to a second live one: a lock is held per open file, so two
loggers in one process, two processes on one host, or two hosts sharing the folder over
NFS (whose server keeps the locks and frees a dead client's at its lease expiry) each
see the other's folders as taken. Folders of the previous version (no `owner.lock`;
`<app id>.claimed-<claimer>` once adopted) are free once their owner's or claimer's pid
is gone, as that version judged them. A folder must be on a file system with locks.
"""
from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

LOCK = "owner.lock"
OWNER = "owner.pid"  # what loggers of the previous version go by
CLAIMED = ".claimed-"  # how the previous version renamed a folder it adopted


class Spill:
    def __init__(self, directory: Path, app_id: str, max_bytes: int):
        self.root = Path(directory)
        self.path = self.root / app_id
        self.app_id = app_id
        self.max_bytes = max_bytes
        self.bytes = 0
        hidden = self.root / f".{app_id}"
        hidden.mkdir(parents=True)
        fd = os.open(hidden / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody else knows the name yet
        except OSError:
            pass  # a file system without locks: no other logger ever takes this folder
        (hidden / OWNER).write_text(str(os.getpid()))
        os.rename(hidden, self.path)
        self._held: dict[Path, int] = {self.path: fd}  # folder -> descriptor of its lock
        self._left: list[Path] = []  # let go of by `close` with flushes in them

    def put(self, kind: str, seq: int, rows: Sequence[Mapping[str, str | None]]) -> bool:
        """Keep one flush; False (nothing written) when it would pass the size cap or the
        disk refuses it."""
        text = "\n".join(json.dumps(row) for row in rows) + "\n"
        size = len(text.encode())
        if self.bytes + size > self.max_bytes or self.path not in self._held:
            return False
        final = self.path / f"{seq:012d}.{kind}.jsonl"
        tmp = self.path / f".{uuid.uuid4().hex}.tmp"
        try:
            tmp.write_text(text)
            os.replace(tmp, final)
        except OSError:
            tmp.unlink(missing_ok=True)
            return False
        self.bytes += size
        return True

    def pending(self) -> list[tuple[Path, str, str, int]]:
        """(file, app id, kind, seq) of every kept flush, own and adopted, oldest first."""
        out = []
        for folder in [*self._held, *self._left]:
            app = folder.name.split(CLAIMED)[0]
            for f in sorted(folder.glob("*.jsonl")):
                seq, kind, _ = f.name.split(".")
                out.append((f, app, kind, int(seq)))
        return out

    @staticmethod
    def load(file: Path) -> list[dict[str, str | None]]:
        return [json.loads(line) for line in file.read_text().splitlines() if line]

    def done(self, file: Path) -> None:
        size = file.stat().st_size
        file.unlink()
        if file.parent == self.path:
            self.bytes -= size
        elif not any(file.parent.glob("*.jsonl")):
            self._remove(file.parent)

    def adopt_orphans(self) -> int:
        """Take the folders no live logger holds; the number taken."""
        taken = 0
        for folder in sorted(self.root.iterdir()):
            if folder in self._held or folder.name.startswith(".") or not folder.is_dir():
                continue
            fd = self._take(folder)
            if fd is None:
                continue
            self._held[folder] = fd
            (folder / OWNER).write_text(str(os.getpid()))
            taken += 1
        return taken

    def close(self) -> int:
        """Remove the own folder when nothing is kept in it and let go of every folder
        (what is still kept waits for the next logger); the number of files kept."""
        kept = 0
        for folder in list(self._held):
            files = len(list(folder.glob("*.jsonl")))
            if files or folder != self.path:
                kept += files
                self._left += [folder] if files else []
                os.close(self._held.pop(folder))
            else:
                self._remove(folder)
        return kept

    def _take(self, folder: Path) -> int | None:
        """The descriptor holding `folder`'s lock, or None while a live logger has it."""
        lock = folder / LOCK
        if lock.exists():
            return _lock(lock, create=False)
        # the previous version's folder: judged by its pid, then locked (created) by us
        owner = (self.root / folder.name.split(CLAIMED)[-1] / OWNER if CLAIMED in folder.name
                 else folder / OWNER)
        return None if _alive(owner) else _lock(lock, create=True)

    def _remove(self, folder: Path) -> None:
        # renamed first (to a hidden name no scan looks at), so no logger takes a folder
        # half removed; then the lock is let go
        fd = self._held.pop(folder)
        gone = self.root / f".{folder.name}.done-{uuid.uuid4().hex}"
        try:
            os.rename(folder, gone)
            for leftover in gone.iterdir():
                leftover.unlink()
            gone.rmdir()
        except OSError:
            pass  # left for a later logger: it holds no rows or is taken again
        finally:
            os.close(fd)


def _lock(path: Path, create: bool) -> int | None:
    """A descriptor holding the exclusive lock of `path`, or None when another holds it
    (or the file went away meanwhile: its folder was delivered and removed)."""
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        same = os.fstat(fd).st_ino == os.stat(path).st_ino
    except OSError:  # held by a live logger (or the folder renamed away)
        same = False
    if not same:
        os.close(fd)
        return None
    return fd


def _alive(owner: Path) -> bool:
    try:
        pid = int(owner.read_text())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
