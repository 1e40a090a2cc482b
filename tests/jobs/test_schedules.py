"""Seeded random schedules of deliveries, jobs, kills, overlaps and `maintain` lose no
row (`tests/jobs/schedules.py`; `make soak` runs many more seeds)."""
from __future__ import annotations

import pytest

from tests.jobs.schedules import check, clean_run, plan, seams

# together they pass every seam (held by the first test)
SEEDS = (1, 3)
SEAMS = {"batch delivery", "logger delivery", "kill", "overlap", "maintain over unread rows"}


def test_the_seeds_pass_every_seam():
    assert set().union(*(seams(plan(seed)) for seed in SEEDS)) == SEAMS


@pytest.fixture(scope="module")
def clean(spark, tmp_path_factory):
    return clean_run(spark, tmp_path_factory.mktemp("clean") / "lake")


@pytest.mark.parametrize("seed", SEEDS)
def test_a_random_schedule_ends_with_the_oracles_tables(spark, tmp_path, clean, seed):
    done = check(spark, tmp_path / "lake", seed, clean)
    assert done.kills + done.overlaps + done.maintains > 0, done.log
