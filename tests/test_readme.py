"""README.md's "Monitor your own model" walk-through, run as written, so it cannot go stale.

tests/walkthrough.py reads the section block by block (files, ```bash commands, ```text)
and runs its commands once per session (the `walkthrough` fixture: a temp folder, each
command in a shell of its own with the venv's `bin` first on PATH). Here: the section
shows the files the test writes, and the outcome is checked in the lake with delta-rs
and in what the commands wrote. One `inferwatch run hourly` on 150 rows: about 5 minutes
on 2 shared cores.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from deltalake import DeltaTable

from tests.walkthrough import HOURS, PER_HOUR, START, blocks, commands, generated


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


def test_walkthrough_runs_as_written(walkthrough):
    folder, done = walkthrough  # every command exited 0
    out = {cmd: process.stdout for cmd, process in done.items()}

    shown = [text for cmd, text in out.items() if cmd.startswith("inferwatch show performance")]
    assert shown and all("churn" in text for text in shown)
    reports = list(folder.glob("*.html"))
    assert reports and all("churn" in page.read_text(encoding="utf-8") for page in reports)

    env_file = next(p for p, lang, _ in blocks() if p and p.endswith(".yaml")
                    and "lake" in yaml.safe_load((folder / p).read_text()))
    lake = folder / yaml.safe_load((folder / env_file).read_text())["lake"]
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
