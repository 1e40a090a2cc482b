"""The lake the notebook and report tests read: the suite's `scenario_lake` (4 days of both
models through the pipeline). INFERWATCH_NOTEBOOK_LAKE=<lake root> points them at an
existing lake instead (a copy of `demo/lake`, say), which skips building the scenario
while working on the notebooks; its `../input/manifest.json` must exist."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def lake(request) -> Path:
    given = os.environ.get("INFERWATCH_NOTEBOOK_LAKE")
    return Path(given) if given else request.getfixturevalue("scenario_lake")


@pytest.fixture(scope="session")
def incidents(lake) -> list[dict]:
    """The scenario's incidents (model, kind, column, onset) from its manifest."""
    return json.loads((lake.parent / "input" / "manifest.json").read_text())["incidents"]


@pytest.fixture(scope="session")
def performance_only_lake(lake, tmp_path_factory) -> Path:
    """A lake with metrics/performance alone: no inferences, drift, quality or alerts."""
    root = tmp_path_factory.mktemp("partial") / "lake"
    shutil.copytree(lake / "metrics" / "performance", root / "metrics" / "performance")
    return root
