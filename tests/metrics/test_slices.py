"""Slices as data: the parse tree's columns mean what Spark SQL means by the same text,
and a slice that fails on the rows is dropped for the run, not the model.

(Refusals at config load: tests/test_config.py.)"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.ingest import ingest_records
from inferwatch.jobs import join_labels, partition, performance, profile
from inferwatch.runs import runs
from inferwatch.metrics.slices import compute_sliced, slice_column, slice_specs
from inferwatch.model_config import parse_model
from inferwatch.slice_expr import parse
from tests.helpers import context, delta_frame

UTC = timezone.utc
START = datetime(2026, 3, 2, 0, tzinfo=UTC)

LEGITIMATE = [
    "country",
    "`home country`",
    "amount > 1000",
    "amount >= 10 AND NOT (country = 'DE' OR country <=> NULL)",
    "country IS NOT NULL",
    "amount BETWEEN 10 AND 1000.5",
    "country NOT IN ('DE', 'FR')",
    "n IN (1, -2, 3)",
    "country LIKE 'D%'",
    "city NOT ILIKE 'b\\_r%'",
    "CASE WHEN amount > 1000 THEN 'high' WHEN amount > 100 THEN 'mid' ELSE 'low' END",
    "case country when 'DE' then 1 when 'FR' then 2 end",
    "CAST(amount AS int)",
    "try_cast(country AS int)",
    "cast(amount AS decimal(10, 2)) * 1.5",
    "round(amount / 100, 1)",
    "floor(amount / 250) * 250",
    "amount % 7 + -n",
    "lower(trim(country)) || '-' || upper(city)",
    "coalesce(city, 'unknown')",
    "if(amount > 500, 'big', 'small')",
    "nullif(country, 'DE')",
    "substring(country, 1, 1)",
    "SUBSTR(city, 2)",
    "length(city) > 3",
    "least(amount, 100)",
    "greatest(n, 2)",
    "abs(n) + ceil(amount)",
    "date_trunc('day', ts)",
    "hour(ts)",
    "dayofweek(ts)",
    "year(ts) * 100 + month(ts)",
    "concat(country, '/', city)",
    "'it''s ' || \"dq\" || 'x\\'y' || '\\u0041'",
    "1e3 + 10L + .5 + 3000000000",
    "TRUE AND (NULL IS NULL)",
]


@pytest.fixture(scope="module")
def frame(spark):
    schema = T.StructType([
        T.StructField("country", T.StringType()), T.StructField("home country", T.StringType()),
        T.StructField("city", T.StringType()), T.StructField("amount", T.DoubleType()),
        T.StructField("n", T.IntegerType()), T.StructField("ts", T.TimestampType()),
    ])
    rows = [("DE", "DE", "Berlin", 1200.0, 1, START), ("FR", "DE", "b_rest", 99.5, -2, START),
            ("US", None, None, 10.0, 3, START + timedelta(hours=30)),
            (None, "FR", "Austin", 1000.5, None, START + timedelta(hours=3)),
            ("12", "US", "x", 0.0, 7, START)]
    return spark.createDataFrame(rows, schema)


def test_slice_columns_mean_what_spark_sql_means_by_the_same_text(frame):
    ours = frame.select(*[slice_column(parse(t)).alias(f"c{i}") for i, t in enumerate(LEGITIMATE)])
    sql = frame.select(*[F.expr(t).alias(f"c{i}") for i, t in enumerate(LEGITIMATE)])
    for text, mine, spark_sql in zip(LEGITIMATE, ours.schema, sql.schema, strict=True):
        assert mine.dataType == spark_sql.dataType, text
    got, want = ours.collect(), sql.collect()
    for i, text in enumerate(LEGITIMATE):
        assert [r[i] for r in got] == [r[i] for r in want], text


def test_a_failure_no_slice_explains_is_raised_as_it_was(frame):
    model = parse_model(Path("conf/models/m.yaml"), {
        "model_id": "m", "problem_type": "regression", "slices": ["country", "amount > 1"]})
    rows = frame.withColumns({"model_id": F.lit("m"), "hour": F.col("ts"),
                              "model_version": F.lit("v1")})

    def broken(sliced):
        sliced.count()
        raise RuntimeError("the disk is full")

    notes, details = [], {}
    with pytest.raises(RuntimeError, match="the disk is full"):
        compute_sliced(rows, model, notes, broken, details=details)
    assert notes == [] and details == {}


def test_a_slice_over_a_column_the_rows_lack_is_skipped_naming_it(frame):
    """Named before any analysis (Spark's error for it would log a plan); names resolve
    as Spark resolves them, case aside; the other slices stay."""
    texts = ["COUNTRY", "lower(region) = 'x' OR city IS NULL", "CASE WHEN zone > 1 THEN 1 END",
             "amount > 1"]
    model = parse_model(Path("conf/models/m.yaml"), {
        "model_id": "m", "problem_type": "regression", "slices": texts})
    notes, dropped = [], {}
    specs = slice_specs(frame, model, notes, dropped)
    assert [text for text, _ in specs] == ["*", "COUNTRY", "amount > 1", "model_version"]
    assert dropped == {texts[1]: "no column region in the rows",
                       texts[2]: "no column zone in the rows"}
    assert notes == [f"slice '{texts[1]}' skipped: no column region in the rows",
                     f"slice '{texts[2]}' skipped: no column zone in the rows"]


# the job end to end: a slice that only fails at execution (ANSI cast of 'DE' to int)

FAILING = "cast(country as int)"


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"  # Spark 4's default
    model = parse_model(Path("conf/models/fraud.yaml"), {
        "model_id": "fraud", "problem_type": "binary_classification", "threshold": 0.5,
        "features": {"numeric": ["amount"], "categorical": ["country"]},
        "slices": ["country", FAILING, "amount > 1000"]})
    lake_dir = tmp_path_factory.mktemp("slices") / "lake"
    ctx = context(spark, lake_dir, {"fraud": model})
    countries = ["DE", "FR", "US"]
    inferences = [{"inference_id": f"i{i}", "model_id": "fraud", "model_version": "v1",
                   "ts": START + timedelta(minutes=7 * i), "prediction": (i % 10) / 10,
                   "amount": 300.0 * (i % 7), "country": countries[i % 3]} for i in range(24)]
    labels = [{"inference_id": f"i{i}", "label": float(i % 2),
               "label_ts": START + timedelta(hours=5)} for i in range(0, 24, 2)]
    ingest_records(ctx.lake, "inferences", inferences, ctx.models)
    ingest_records(ctx.lake, "labels", labels, ctx.models)
    partition.run(ctx)
    join_labels.run(ctx)
    return ctx, lake_dir


@pytest.mark.parametrize(("job", "table"), [(performance, "metrics/performance"),
                                            (profile, "metrics/profile")])
def test_a_slice_failing_at_execution_is_dropped_with_a_note(lake, job, table):
    ctx, lake_dir = lake
    run = job.run(ctx)
    part = run.models["fraud"]
    assert (run.status, part.status, part.error) == ("ok", "ok", None)
    assert any(FAILING in n and "dropped for this run" in n and "CAST_INVALID_INPUT" in n
               for n in part.notes), part.notes
    recorded = [r for r in runs(str(lake_dir), job.JOB) if r["model_id"] == "fraud"][-1]
    assert recorded["status"] == "ok"
    dropped = json.loads(recorded["details"])["slices_dropped"]
    assert list(dropped) == [FAILING] and "CAST_INVALID_INPUT" in dropped[FAILING]
    # the model's other slices and its whole-model rows are written
    out = delta_frame(f"{lake_dir}/{table}")
    hourly = out[out["granularity"] == "1h"]
    assert set(hourly["slice_key"]) == {"*", "country", "amount > 1000", "model_version"}
    whole = hourly[hourly["slice_key"] == "*"]
    counted = whole["n"] if "n" in whole else whole.groupby("window_start")["count"].max()
    assert int(counted.sum()) == 24
    assert set(hourly.loc[hourly["slice_key"] == "country", "slice_value"]) == {"DE", "FR", "US"}
