"""The one-pass quality plan (`quality.fleet`) gives, expectation by expectation, what Great
Expectations gives when it validates each model-hour on its rows: the same success, the
same counts, percentages and observed values (floats to 1e-9 relative: Spark sums in
another order; a median read off a sketch, where no bound is near it, at a rank within
1.33% of the hour's middle value), the same messages and exceptions. Checked on the
hours around each of the scenario's data incidents (a null spike, a unit change, a stale feature), both
models: eta with its suggested suite, fraud's with expectations the suggestion never
writes in place of some (a strict bound, a one-sided bound on a column fraud lacks, a
subset column match, another compound key), both with a column that does not exist and
a regex (which the plan hands to GX)."""
from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest

from inferwatch.context import open_context
from inferwatch.quality.fleet import Work, validate_fleet
from inferwatch.quality.hour import validate_hour
from inferwatch.granularity import utc
from inferwatch.quality.suite import model_suite, with_overrides
from inferwatch.quality.statistics import MEDIAN
from tests.conftest import quality_onsets
from tests.helpers import delta_frame, spark_jobs

EXTRA = [
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "prediction", "min_value": 20, "strict_min": True, "mostly": 0.5}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "items", "max_value": 6.0, "strict_max": True}},
    {"type": "expect_table_columns_to_match_set",
     "kwargs": {"column_set": ["model_id", "prediction"], "exact_match": False}},
    {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["model_id", "inference_id"]}},
    {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "no_such_column",
                                                            "min_value": 0}},
    {"type": "expect_column_values_to_match_regex",
     "kwargs": {"column": "model_version", "regex": "^v[0-9]"}, "severity": "warning"},
]


@pytest.fixture(scope="module")
def compared(spark, scenario_lake):
    ctx = open_context("conf/local.yaml", lake=str(scenario_lake),
                       models_dir=scenario_lake.parent / "input" / "models", spark=spark)
    version = ctx.lake.table("inferences").version()
    onsets = quality_onsets(scenario_lake.parent / "input" / "manifest.json")
    hours = {o + timedelta(hours=k) for o in onsets for k in (-1, 0, 1)}
    work = {}
    for model_id, model in ctx.models.items():  # eta: as suggested; fraud: the extras
        name, specs = model_suite(ctx.lake, model)
        extra = EXTRA if model_id == "fraud" else EXTRA[-2:]
        work[model_id] = Work(model, name, with_overrides(specs, extra), hours)
    plan = validate_fleet(ctx.lake, work, version)
    gx = {m: [r for h in sorted(hours)
              for r in validate_hour(ctx.lake, w.model, w.suite, w.specs, h, version)[0]]
          for m, w in work.items()}
    return work, plan, gx, ctx.lake


def _key(row: tuple) -> tuple:
    return row[0], row[2], row[4], row[5], json.dumps(json.loads(row[6]), sort_keys=True)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, (int, float)):
        return abs(a - b) <= 1e-9 * max(1.0, abs(b))
    return a == b


def _median_rank_ok(value: float, values: np.ndarray) -> bool:
    """`value` lies between the hour's values at ranks 0.5 -/+ 1.33% (KLL's bound)."""
    ordered = np.sort(values[~np.isnan(values)])
    n = len(ordered)
    low, high = ordered[int(np.floor((0.5 - 0.0133) * (n - 1)))], \
        ordered[int(np.ceil((0.5 + 0.0133) * (n - 1)))]
    return low <= value <= high


def test_every_result_equals_gx_validating_the_hour(compared):
    work, plan, gx, lake = compared
    rows = delta_frame(lake.table("inferences").uri)
    checked = failed = sketched = 0
    for model_id in work:
        ours = {_key(r): r for r in plan[model_id][0]}
        theirs = {_key(r): r for r in gx[model_id]}
        assert set(ours) == set(theirs), set(ours) ^ set(theirs)
        for key, want in theirs.items():
            got = ours[key]
            observed = [None if v is None else json.loads(v) for v in (got[8], want[8])]
            assert got[7] == want[7] and got[9:11] == want[9:11], (key, got, want)
            message = got[15]
            if got[4] == MEDIAN and observed[0] is not None and not _same(*observed):
                hour = rows[(rows.model_id == model_id) & (rows.hour == got[2])]
                assert _median_rank_ok(observed[0], hour[got[5]].to_numpy(float)), (key, got)
                message = message and message.replace(str(observed[0]), str(observed[1]))
                sketched += 1
            else:
                assert _same(*observed), (key, got, want)
            assert _same(got[11], want[11]), (key, got, want)
            assert (*got[12:15], message) == want[12:], (key, got, want)
            checked += 1
            failed += not want[7]
    assert sketched > 20, sketched  # the sketch path is compared (35 on the seed)
    # the comparison covers failures of every kind, not only hours where all passes
    kinds = {r[4] for m in gx for r in gx[m] if not r[7]}
    assert {"expect_column_values_to_not_be_null", "expect_column_stdev_to_be_between",
            "expect_column_mean_to_be_between"} <= kinds, kinds
    assert checked > 500 and failed > 20, (checked, failed)


def test_spark_jobs_do_not_grow_with_model_hours(spark, compared):
    """One hour of each model or every hour of both models: the same number of Spark jobs (GX
    ran about 20 per model-hour)."""
    work, _plan, _gx, lake = compared
    version = lake.table("inferences").version()
    every = sorted({utc(p["hour"]) for p in lake.table("inferences").partitions(version)})
    jobs = []
    for hours in (every[:1], every):
        fleet = {m: Work(w.model, w.suite, [s for s in w.specs if s["type"] != EXTRA[-1]["type"]],
                         set(hours)) for m, w in work.items()}
        jobs.append(spark_jobs(spark, f"one-pass-{len(hours)}",
                               lambda: validate_fleet(lake, fleet, version))[1])
    # adaptive execution may split a stage of the bigger run into one more job
    assert len(every) > 48 and jobs[1] - jobs[0] <= 2 and jobs[1] <= 15, jobs
