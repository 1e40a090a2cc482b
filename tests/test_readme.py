"""README.md's "Monitor your own model" walk-through, run as written, so it cannot go stale.

The section between `<!-- walkthrough -->` and `<!-- /walkthrough -->` is read block by
block: a fenced block headed by a line "`path`:" is a file (YAML written as shown; a CSV
shows the first lines of the file this test generates: 3 hours x 50 rows of a churn
model and their labels), a ```bash block holds commands, each run as typed, one shell
each, in a temp folder with the venv's `bin` first on PATH; ```text blocks are not run.
Then the outcome is checked in the lake with delta-rs and in what the commands wrote.
One `inferwatch run hourly` on 150 rows: about 5 minutes on 2 shared cores.
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

import yaml
from deltalake import DeltaTable

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


def test_walkthrough_shows_files_the_test_writes():
    """Without Spark: the section has the model file, both CSVs as generated, and commands
    that are `inferwatch` ones; a CSV's shown lines are the generated file's first lines."""
    found = blocks()
    files = {path: (lang, body) for path, lang, body in found if path}
    assert {"inferences.csv", "labels.csv"} <= set(files)
    assert any(path.endswith(".yaml") and yaml.safe_load(body).get("model_id") == "churn"
               for path, (lang, body) in files.items()), "no model file for churn"
    for name, text in generated().items():
        shown = files[name][1].splitlines()
        assert text.splitlines()[:len(shown)] == shown, f"README's {name} is not what is written"
    run = [cmd for path, lang, body in found if lang == "bash" and not path
           for cmd in commands(body)]
    assert run and all(cmd.startswith("inferwatch ") for cmd in run), run
    assert any(cmd.startswith("inferwatch run hourly") for cmd in run)
    unknown = [(path, lang) for path, lang, _ in found
               if not path and lang not in ("bash", "text")]
    assert not unknown, f"blocks neither a file, commands nor text: {unknown}"


def _table(lake: Path, name: str):
    return DeltaTable(str(lake / name)).to_pandas()


def test_walkthrough_runs_as_written(tmp_path: Path):
    inputs = generated()
    for path, lang, body in blocks():
        if path:
            target = tmp_path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(inputs.get(path, body), encoding="utf-8")
    # the session's Spark gateway and any lake/models overrides stay out: each command
    # starts its own JVM and reads only what the walk-through gives it
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYSPARK_GATEWAY", "_PYSPARK", "SPARK_HOME", "INFERWATCH_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    out = {}
    for path, lang, body in blocks():
        if lang != "bash" or path:
            continue
        for cmd in commands(body):
            done = subprocess.run(cmd, shell=True, cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=1800)
            assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
            out[cmd] = done.stdout

    shown = [text for cmd, text in out.items() if cmd.startswith("inferwatch show performance")]
    assert shown and all("churn" in text for text in shown)
    reports = list(tmp_path.glob("*.html"))
    assert reports and all("churn" in page.read_text(encoding="utf-8") for page in reports)

    env_file = next(p for p, lang, _ in blocks() if p and p.endswith(".yaml")
                    and "lake" in yaml.safe_load((tmp_path / p).read_text()))
    lake = tmp_path / yaml.safe_load((tmp_path / env_file).read_text())["lake"]
    perf = _table(lake, "metrics/performance")
    whole = perf[(perf.model_id == "churn") & (perf.granularity == "1h")
                 & (perf.slice_key == "*")]
    assert len(whole) == HOURS and whole.n.sum() == HOURS * PER_HOUR
    assert (whole.n_labeled == PER_HOUR).all()
    assert set(perf[perf.slice_key == "plan"].slice_value) == {"basic", "plus", "pro"}
    drift = _table(lake, "metrics/drift")
    charges = drift[(drift.model_id == "churn") & (drift.column == "monthly_charges")
                    & (drift.slice_key == "*") & (drift.granularity == "1h")]
    assert charges[charges.window_start == START + timedelta(hours=HOURS - 1)].drifted.any()
    assert (_table(lake, "metrics/quality").model_id == "churn").any()
    runs = _table(lake, "job_runs")
    assert not runs[runs.status == "failed"].shape[0], runs[runs.status == "failed"]


if __name__ == "__main__":  # print the generated files' first lines, to paste into README
    for name, text in generated().items():
        print(name, *text.splitlines()[:4], sep="\n")
