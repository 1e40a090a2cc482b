"""The package as one zip, for Spark's Python workers that do not have it installed.

`make pyfiles` (`python -m inferwatch.shipping dist/inferwatch.zip`) writes it for
`spark-submit --py-files` on a cluster; over Spark Connect the session ships it itself
(`session.get_spark`: `addArtifacts(..., pyfile=True)`). The driver or client runs with
inferwatch installed (`pip install '.[spark]'`); the workers need only the modules their
tasks call (the drift comparisons, the multivariate forests) and the packages the
`spark` extra names, installed on them.
"""
from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def build(out: Path) -> Path:
    """Write the zip (its entries `inferwatch/...py`, sorted, so the same source gives the
    same archive) and return its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(PACKAGE.rglob("*.py")):
            info = zipfile.ZipInfo(str(path.relative_to(PACKAGE.parent)),
                                   date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16  # rw-r--r-- when unzipped
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return out


def ship(spark) -> None:
    """Hand the package to a Spark Connect session's Python workers (an artifact of the
    session on its server, on their path), built into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="inferwatch-") as folder:
        zipped = str(build(Path(folder) / "inferwatch.zip"))
        spark.addArtifacts(zipped, pyfile=True)
    if zipped in sys.path:  # pyspark also puts it on this process's path: gone with its folder
        sys.path.remove(zipped)


if __name__ == "__main__":
    print(build(Path(sys.argv[1] if len(sys.argv) > 1 else "dist/inferwatch.zip")))
