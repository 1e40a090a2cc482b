"""Where flushes wait while the lake cannot take them: JSON-lines files on local disk.

One folder per logger (named by its app id, holding the owner's pid); one file per flush,
named by its sequence number, so a retry commits it with the same app transaction. The
folder's total size is capped: a flush that does not fit is dropped and counted. A logger
that starts adopts the folders of loggers whose process is gone (renamed to claim them,
so two starting loggers never both adopt one) and delivers them under their own app ids.
"""
from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

OWNER = "owner.pid"


class Spill:
    def __init__(self, directory: Path, app_id: str, max_bytes: int):
        self.root = Path(directory)
        self.path = self.root / app_id
        self.app_id = app_id
        self.max_bytes = max_bytes
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / OWNER).write_text(str(os.getpid()))
        self.bytes = sum(f.stat().st_size for f in self._files())

    def put(self, kind: str, seq: int, rows: Sequence[Mapping[str, str | None]]) -> bool:
        """Keep one flush; False (nothing written) when it would pass the size cap."""
        text = "\n".join(json.dumps(row) for row in rows) + "\n"
        size = len(text.encode())
        if self.bytes + size > self.max_bytes:
            return False
        final = self.path / f"{seq:012d}.{kind}.jsonl"
        tmp = self.path / f".{uuid.uuid4().hex}.tmp"
        tmp.write_text(text)
        os.replace(tmp, final)
        self.bytes += size
        return True

    def pending(self) -> list[tuple[Path, str, str, int]]:
        """(file, app id, kind, seq) of every kept flush, own and adopted, oldest first."""
        out = []
        for folder in [self.path, *self._adopted()]:
            app = (folder / "app_id").read_text() if (folder / "app_id").exists() else \
                self.app_id
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
            for leftover in file.parent.iterdir():
                leftover.unlink()
            file.parent.rmdir()

    def adopt_orphans(self) -> int:
        """Claim the folders of loggers whose process is gone; the number claimed."""
        claimed = 0
        for folder in self.root.iterdir():
            if folder == self.path or not folder.is_dir() or ".claimed-" in folder.name:
                continue
            if _alive(folder / OWNER):
                continue
            target = self.root / f"{folder.name}.claimed-{self.app_id}"
            try:
                os.rename(folder, target)
            except OSError:
                continue  # another logger claimed it first
            (target / "app_id").write_text(folder.name)
            claimed += 1
        return claimed

    def close(self) -> None:
        """Remove the own folder when nothing is kept in it."""
        if not any(self.path.glob("*.jsonl")):
            for leftover in self.path.iterdir():
                leftover.unlink()
            self.path.rmdir()

    def _files(self) -> list[Path]:
        return list(self.path.glob("*.jsonl"))

    def _adopted(self) -> list[Path]:
        return sorted(self.root.glob(f"*.claimed-{self.app_id}"))


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
