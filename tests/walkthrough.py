"""README.md's "Monitor your own model" walk-through: its blocks, the input files it shows,
and one run of its commands as written (the `walkthrough` fixture in tests/conftest.py:
tests/test_readme.py checks the outcome, tests/test_console.py what `run hourly` printed).

The section between `<!-- walkthrough -->` and `<!-- /walkthrough -->` is read block by
block: a fenced block headed by a line "`path`:" is a file (YAML written as shown; a CSV
shows the first lines of the file generated here: 3 hours x 50 rows of a churn model and
their labels), a ```bash block holds commands, each run as typed, one shell each, in a
folder of its own with the venv's `bin` first on PATH; ```text blocks are not run.
"""
from __future__ import annotations

import csv
import io
import os
import random
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SECTION = re.compile(r"<!-- walkthrough -->\n(.*?)<!-- /walkthrough -->", re.S)
# a block, with the "`path`:" line (an optional "(...)" remark allowed) just before it
BLOCK = re.compile(r"(?:^`([^`\s]+)`(?: \([^)\n]*\))?:\n\n?)?^```(\w*)\n(.*?)^```$", re.M | re.S)
START = datetime(2026, 3, 2, tzinfo=timezone.utc)
HOURS, PER_HOUR = 3, 50


def blocks() -> list[tuple[str | None, str, str]]:
    """(path or None, language, text) of every fenced block of the walk-through."""
    found = SECTION.search((REPO / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md: no <!-- walkthrough --> ... <!-- /walkthrough --> section"
    return [(path or None, lang, body) for path, lang, body in BLOCK.findall(found.group(1))]


def section_commands(name: str) -> list[str]:
    """The commands of README.md's ```bash block between `<!-- name -->` and
    `<!-- /name -->` (the "run on your cluster" lines the remote-Spark tests run)."""
    found = re.search(rf"<!-- {name} -->\n```bash\n(.*?)```\n<!-- /{name} -->",
                      (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    assert found, f"README.md: no <!-- {name} --> ```bash ... ``` <!-- /{name} --> section"
    return commands(found.group(1))


def commands(body: str) -> list[str]:
    """The shell commands of a ```bash block: one per line (a trailing `\\` continues
    it), blank lines and comments left out."""
    joined = re.sub(r"\\\n\s*", " ", body)
    return [line.strip() for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _at(hour: int, minute: int) -> str:
    return (START + timedelta(hours=hour, minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


def generated() -> dict[str, str]:
    """The walk-through's two input files as CSV text: a churn score per customer (higher
    for short tenure and high charges, so the AUC is real), the third hour's charges up
    by a third (something for drift to see), and every label two hours later."""
    rng = random.Random(23)
    inferences, labels = [], []
    for hour in range(HOURS):
        for i in range(PER_HOUR):
            tenure = rng.randint(1, 72)
            charges = round(rng.uniform(20, 120) * (1.33 if hour == HOURS - 1 else 1), 2)
            score = round(min(max(0.9 - tenure / 90 + charges / 400 + rng.gauss(0, 0.15),
                                  0.0), 1.0), 3)
            ident = f"c{hour}{i:02d}"
            inferences.append([ident, "churn", _at(hour, i), tenure, charges,
                               rng.choice(["basic", "plus", "pro"]), score])
            labels.append([ident, "churn", int(rng.random() < score), _at(hour + 2, i)])
    header = {"inferences.csv": ["inference_id", "model_id", "ts", "tenure_months",
                                 "monthly_charges", "plan", "prediction"],
              "labels.csv": ["inference_id", "model_id", "label", "label_ts"]}
    files = {}
    for name, rows in (("inferences.csv", inferences), ("labels.csv", labels)):
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([header[name], *rows])
        files[name] = out.getvalue()
    return files


def run(folder: Path) -> dict[str, subprocess.CompletedProcess]:
    """The walk-through's files written under `folder` and its commands run there, in
    order, each asserted to exit 0; returns each command's completed process (its stdout
    and stderr)."""
    inputs = generated()
    for path, _lang, body in blocks():
        if path:
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(inputs.get(path, body), encoding="utf-8")
    # the session's Spark gateway, any lake/models/progress overrides and pytest's marker
    # (which turns progress lines off) stay out: each command starts its own JVM, reads
    # only what the walk-through gives it and prints what it prints in a user's shell
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYSPARK_GATEWAY", "_PYSPARK", "SPARK_HOME", "INFERWATCH_",
                                "PYTEST_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    done = {}
    for path, lang, body in blocks():
        if lang != "bash" or path:
            continue
        for cmd in commands(body):
            done[cmd] = subprocess.run(cmd, shell=True, cwd=folder, env=env,
                                       capture_output=True, text=True, timeout=1800)
            assert done[cmd].returncode == 0, \
                f"{cmd}\n{done[cmd].stdout}\n{done[cmd].stderr}"
    return done
