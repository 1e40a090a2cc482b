"""The folder a benchmark builds its data in: `--keep DIR` (empty or new, kept), else a
temporary folder the benchmark removes."""
from __future__ import annotations

import tempfile
from pathlib import Path


def work_folder(keep: str | None, prefix: str) -> Path:
    if not keep:
        return Path(tempfile.mkdtemp(prefix=prefix))
    work = Path(keep).resolve()
    if work.exists() and any(work.iterdir()):
        raise SystemExit(f"--keep {work}: the folder must be empty or new")
    work.mkdir(parents=True, exist_ok=True)
    return work
