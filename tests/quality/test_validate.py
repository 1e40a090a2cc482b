"""One GX validation per model-hour, flattened: counts equal pandas' on the same rows, an
expectation that raises is a failed row with its reason, a bad spec is one clear error."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd
import pytest

from inferwatch.quality.validate import build_suite, validate

HOUR = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
SPECS = [
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "inference_id"},
     "meta": {"why": "ids are unique"}},
    {"type": "expect_column_values_to_not_be_null",
     "kwargs": {"column": "amount", "mostly": 0.99}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "amount", "min_value": 0, "max_value": 500}, "severity": "warning"},
    {"type": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "country", "value_set": ["DE", "FR"]}},
    {"type": "expect_column_stdev_to_be_between",
     "kwargs": {"column": "renamed_away", "min_value": 1}},
    {"type": "expect_table_row_count_to_be_between",
     "kwargs": {"min_value": 10, "max_value": 5000}},
]


@pytest.fixture(scope="module")
def rows():
    frame = pd.DataFrame({"inference_id": [f"i{i}" for i in range(300)] + ["i1"],
                          "amount": [float(i * 2) for i in range(300)] + [None],
                          "country": ["DE" if i % 3 else "FR" for i in range(300)] + ["XX"]})
    return frame


def test_results_are_flat_rows_with_pandas_counts(spark, rows):
    got = validate(spark.createDataFrame(rows), build_suite("fraud", SPECS), "fraud", HOUR)
    by_type = {r[4]: r for r in got}
    assert len(got) == len(SPECS)
    unique = by_type["expect_column_values_to_be_unique"]
    dup = int(rows.inference_id.duplicated(keep=False).sum())
    assert (unique[7], unique[10]) == (False, dup)
    assert json.loads(unique[14]) == {"why": "ids are unique"}
    nulls = by_type["expect_column_values_to_not_be_null"]
    assert nulls[7] and nulls[10] == int(rows.amount.isna().sum())
    between = by_type["expect_column_values_to_be_between"]
    outside = int(((rows.amount < 0) | (rows.amount > 500)).sum())
    assert (between[7], between[10], between[12]) == (False, outside, "warning")
    assert between[11] == pytest.approx(100 * outside / rows.amount.notna().sum())
    in_set = by_type["expect_column_values_to_be_in_set"]
    assert not in_set[7] and in_set[10] == int((~rows.country.isin(["DE", "FR"])).sum())
    count = by_type["expect_table_row_count_to_be_between"]
    assert count[7] and json.loads(count[8]) == len(rows)
    missing = by_type["expect_column_stdev_to_be_between"]
    assert missing[7] is False and "renamed_away" in missing[13]
    assert all(r[0] == "fraud" and r[1] == "1h" and r[2] == HOUR for r in got)


def test_a_spec_gx_refuses_is_one_clear_error():
    with pytest.raises(ValueError, match=r"suite m, expectation 1 \(expect_no_such_thing\)"):
        build_suite("m", [{"type": "expect_no_such_thing", "kwargs": {}}])


def test_an_hour_with_no_feature_columns_keeps_the_contract_columns(spark):
    """A model that logs no feature columns: the hour is validated on the contract columns
    (the counting aggregation had no expressions and failed the model)."""
    from inferwatch.lake.tables import INFERENCES
    from inferwatch.quality.signals import CONTRACT, for_validation
    from tests.helpers import models

    rows = spark.createDataFrame([("i1", "v1", HOUR, 0.5, None, "s", HOUR, "fraud", HOUR)],
                                 INFERENCES)
    got = for_validation(rows, models()["fraud"], SPECS)
    assert tuple(got.columns) == CONTRACT
    assert got.count() == 1


VARIED = [
    {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "amount"},
     "meta": {"why": "x"}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "amount", "min_value": 0, "max_value": 10.5}, "severity": "warning"},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "country",
                                                               "mostly": 0.9}},
    {"type": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "country", "value_set": ["DE", "FR"]}},
    {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "amount",
                                                            "min_value": 1}},
]


def test_a_suite_holds_what_gx_upserting_one_by_one_holds():
    """`build_suite` checks GX's upsert rule (same type and domain: one expectation)
    itself, once per expectation, and hands GX the whole list: the suite equals GX's own
    one-by-one upsert, and two expectations GX would fold into one are refused."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    ours = build_suite("m", VARIED)
    theirs = gx.ExpectationSuite(name="m")
    for spec in VARIED:
        theirs.add_expectation_configuration(ExpectationConfiguration(
            type=spec["type"], kwargs=dict(spec["kwargs"]), meta=spec.get("meta"),
            severity=spec.get("severity", "critical")))
    assert [e.configuration.to_json_dict() for e in ours.expectations] == \
        [e.configuration.to_json_dict() for e in theirs.expectations]
    again = {"type": "expect_column_values_to_not_be_null",
             "kwargs": {"column": "amount", "mostly": 0.5}}
    with pytest.raises(ValueError, match="suite m: 7 expectations collapsed into 6"):
        build_suite("m", [*VARIED, again])
