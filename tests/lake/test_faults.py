"""The fault-injection point: the lake layer fails right after the armed commit."""
from __future__ import annotations

import pytest

from inferwatch.lake import faults


def test_the_environment_variable_arms_the_nth_commit_of_the_process(monkeypatch):
    monkeypatch.setenv(faults.ENV_VAR, "2")
    injector = faults._Injector()  # a fresh process's injector
    injector.after_commit("raw/inferences", 0)
    with pytest.raises(faults.InjectedFault, match="after commit 2 .inferences version 7."):
        injector.after_commit("inferences", 7)
    injector.after_commit("job_runs", 3)  # once only: a failed-run record may still land


def test_a_block_fails_after_its_own_nth_commit_and_is_not_an_ordinary_error():
    with faults.count_commits() as counter:
        faults.after_commit("a", 1)
    assert counter.commits == 1
    with pytest.raises(faults.InjectedFault), faults.fail_after_commit(1):
        try:
            faults.after_commit("a", 2)
        except Exception:  # noqa: BLE001 - a job's "failures are values" handler
            pytest.fail("an injected fault must pass through `except Exception`")
