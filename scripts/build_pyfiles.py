"""The package a cluster's executors import: `make pyfiles` writes dist/inferwatch.zip
(every module of lib/inferwatch, nothing else), for `spark-submit --py-files`.

The driver runs jobs/submit.py with inferwatch installed (`pip install '.[spark]'`); the
executors need only the modules their tasks call (scoring, the multivariate forests,
the drift comparisons) and the dependencies the spark extra names, installed on them.
"""
from __future__ import annotations

import sys
import zipfile
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "lib"


def build(out: Path) -> Path:
    """Write the zip (its entries `inferwatch/...py`, sorted, so the same source gives the
    same archive) and return its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((LIB / "inferwatch").rglob("*.py")):
            info = zipfile.ZipInfo(str(path.relative_to(LIB)), date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1] if len(sys.argv) > 1 else "dist/inferwatch.zip")))
