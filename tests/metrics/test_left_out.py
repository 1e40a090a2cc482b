"""Leave-one-out references for baseline calibration, built in blocks of hours: each
held-out hour's reference holds exactly the other hours' rows of its model, checked
against numpy on those rows (counts, nulls, mean and std exact; quantiles within the
sketch's rank error; category counts exact)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from inferwatch.metrics.left_out import references
from inferwatch.metrics.profile import QUANTILES, profile_state
from inferwatch.metrics.profile_metrics import profile_metrics

START = datetime(2026, 3, 2, tzinfo=timezone.utc)
RANK_ERROR = 0.0133  # KLL k=200, 99% confidence
HOURS = {"a": 30, "b": 13}  # 6 blocks of 5 hours; 4 blocks of 4 (the last one short)


def test_each_hours_reference_is_every_other_hour_of_its_model(spark):
    rng = np.random.default_rng(5)
    frames = []
    for model, hours in HOURS.items():
        n = 150 * hours
        amount = rng.lognormal(3, 1, n) + np.repeat(np.arange(hours), 150)  # hours differ
        frames.append(pd.DataFrame({
            "model_id": model, "hour": np.repeat(np.arange(hours), 150),
            "slice_key": "*", "slice_value": "*",
            "amount": np.where(rng.random(n) < 0.05, None, amount).astype(object),
            "country": rng.choice(["DE", "FR", "US"], n)}))
    rows = pd.concat(frames, ignore_index=True)
    records = [(r.model_id, START + timedelta(hours=int(r.hour)), r.slice_key, r.slice_value,
                None if r.amount is None else float(r.amount), r.country)
               for r in rows.itertuples(index=False)]
    frame = spark.createDataFrame(records, "model_id string, window_start timestamp, "
                                  "slice_key string, slice_value string, amount double, "
                                  "country string")
    hourly = profile_state(frame, ["amount"], ["country"])
    found = profile_metrics(references(hourly).withColumn("granularity", F.lit("1h")))
    got = {(r["model_id"], r["window_start"].replace(tzinfo=timezone.utc), r["column"]):
           r.asDict() for r in found.where("column IN ('amount', 'country')").collect()}
    assert len(got) == 2 * sum(HOURS.values())
    for model, hours in HOURS.items():
        for hour in range(hours):
            rest = rows[(rows.model_id == model) & (rows.hour != hour)]
            values = rest.amount.dropna().to_numpy(dtype=float)
            numeric = got[(model, START + timedelta(hours=hour), "amount")]
            assert numeric["count"] == len(rest)
            assert numeric["num_nulls"] == rest.amount.isna().sum()
            assert numeric["avg"] == pytest.approx(values.mean(), rel=1e-12)
            assert numeric["stddev"] == pytest.approx(values.std(ddof=1), rel=1e-9)
            ranks = [np.mean(values <= q) for q in numeric["quantiles"]]
            assert np.max(np.abs(np.array(ranks) - np.array(QUANTILES))) <= RANK_ERROR
            shares = got[(model, START + timedelta(hours=hour), "country")]
            assert {i["item"]: i["count"] for i in shares["frequent_items"]} == \
                rest.country.value_counts().to_dict()
