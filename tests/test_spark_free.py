"""The read-only side runs without Spark: `inferwatch.alerts`, `report`, `read`, `summary`
and `granularity` import no pyspark, and `inferwatch explain`, `show` and `report` answer
from a real lake with pyspark and py4j made unimportable (as on a machine without the
`[spark]` extra). Each check runs in a fresh interpreter whose first act is to block them."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Installed before anything else is imported: any `import pyspark` (or py4j), however
# deep, fails as it would where pyspark is not installed.
BLOCK = '''
import importlib.abc, sys

class _NoSpark(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pyspark", "py4j"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

sys.meta_path.insert(0, _NoSpark())
'''

IMPORTS = BLOCK + '''
import importlib, pkgutil
import inferwatch.alerts, inferwatch.report
names = ["inferwatch.read", "inferwatch.summary", "inferwatch.granularity",
         "inferwatch.alerts.explain", "inferwatch.model_config", "inferwatch.cli"]
for package in (inferwatch.alerts, inferwatch.report):
    names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
for name in names:
    importlib.import_module(name)
print(json.dumps(sorted(names)))
'''

# The commands through the CLI entry point, then the library calls under them; each
# command's exit code and output go to a JSON file. The process ends with os._exit, as
# the installed script does, so a late delta-rs teardown cannot abort it (delta-rs #2184).
COMMANDS = BLOCK + '''
import contextlib, io, json, os
from datetime import datetime

args = json.loads(sys.argv[1])
from inferwatch.cli import entry

out = {}
for name, argv in args["commands"].items():
    buffer, errors = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(errors):
        try:
            entry(argv)
        except SystemExit as done:
            code = done.code
    out[name] = {"code": code, "stdout": buffer.getvalue(), "stderr": errors.getvalue()}

from inferwatch.alerts.explain import explain
from inferwatch.model_config import load_models
from inferwatch.report import build_report
from inferwatch.summary import show

lake, model, window = args["lake"], args["model"], datetime.fromisoformat(args["window"])
out["library"] = {
    "explain": explain(lake, load_models(args["models"])[model], window, "1h"),
    "show": show(lake, "performance", model=model, granularity="1d"),
    "report": str(build_report(lake, model, out=args["library_report"])),
    "pyspark": sorted(m for m in sys.modules if m.split(".")[0] in ("pyspark", "py4j")),
}
with open(args["result"], "w") as f:
    json.dump(out, f)
sys.stdout.flush()
os._exit(0)
'''


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import json\n" + code, *args],
                          capture_output=True, text=True, timeout=600)


def test_read_side_imports_no_pyspark():
    done = _python(IMPORTS)
    assert done.returncode == 0, done.stderr
    imported = json.loads(done.stdout.splitlines()[-1])
    assert {"inferwatch.alerts.explain", "inferwatch.alerts.history",
            "inferwatch.alerts.settings", "inferwatch.report.build",
            "inferwatch.report.data"} <= set(imported)


def test_the_block_is_real():
    """The blocker does stop pyspark: a module that needs it fails to import."""
    done = _python(BLOCK + "import inferwatch.metrics.windows")
    assert done.returncode != 0
    assert "No module named 'pyspark" in done.stderr and "(blocked)" in done.stderr


@pytest.fixture(scope="module")
def answers(scenario_lake: Path, tmp_path_factory) -> dict:
    """explain, show and report run by `inferwatch.cli.entry` and by the library, with
    pyspark blocked, on the suite's scenario lake."""
    work = tmp_path_factory.mktemp("spark_free")
    models = scenario_lake.parent / "input" / "models"
    manifest = json.loads((scenario_lake.parent / "input" / "manifest.json").read_text())
    incident = next(i for i in manifest["incidents"]
                    if i["model_id"] == "fraud" and i.get("column"))
    common = ["--lake", str(scenario_lake), "--models", str(models)]
    args = {
        "lake": str(scenario_lake), "models": str(models), "model": "fraud",
        "window": incident["onset"], "column": incident["column"],
        "result": str(work / "result.json"), "library_report": str(work / "library.html"),
        "cli_report": str(work / "cli.html"),
        "commands": {
            "explain": ["explain", "--model", "fraud", "--window", incident["onset"], *common],
            "show": ["show", "performance", "--model", "fraud", "--granularity", "1d",
                     *common],
            "report": ["report", "--model", "fraud", "--out", str(work / "cli.html"),
                       *common],
        },
    }
    done = _python(COMMANDS, json.dumps(args))
    assert done.returncode == 0, done.stderr
    return {"args": args, **json.loads((work / "result.json").read_text())}


def test_explain_without_spark(answers):
    got, library = answers["explain"], answers["library"]
    assert got["code"] == 0, got["stderr"]
    lines = got["stdout"].splitlines()
    onset = answers["args"]["window"][:16].replace("T", " ")
    assert lines[0].startswith(f"fraud, 1h window {onset} UTC, ranked by ")
    assert len(lines) > 2  # hints or the alerts covering the window, not just the header
    assert got["stdout"] == library["explain"] + "\n"


def test_show_without_spark(answers):
    got, library = answers["show"], answers["library"]
    assert got["code"] == 0, got["stderr"]
    head, *rows = got["stdout"].splitlines()
    assert head.startswith("performance: ") and int(head.split()[1]) > 0
    assert len(rows) > 1 and all("fraud" in r for r in rows[1:])
    assert got["stdout"] == library["show"] + "\n"


def test_report_without_spark(answers):
    got, library = answers["report"], answers["library"]
    assert got["code"] == 0, got["stderr"]
    written = Path(answers["args"]["cli_report"])
    assert got["stdout"].strip() == f"wrote {written}"
    page = written.read_text()
    assert 'class="plotly-graph-div"' in page and "fraud" in page
    assert Path(library["report"]).read_text().count('class="plotly-graph-div"') \
        == page.count('class="plotly-graph-div"')
    assert library["pyspark"] == []
