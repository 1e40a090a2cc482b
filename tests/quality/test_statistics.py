"""Medians of the one-pass quality plan: read off a sketch where no bound is near, exact
(Spark's `percentile`, as GX computes it) where one is or where the hour holds a NaN
(which the sketch skips), so every verdict is GX's."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from inferwatch.quality.statistics import MEDIAN, hour_statistics, settle_medians

HOURS = [datetime(2026, 11, 2, h, tzinfo=timezone.utc) for h in (0, 1, 2)]


def _median(column: str, **bounds) -> dict:
    return {"type": MEDIAN, "kwargs": {"column": column, **bounds}}


def test_a_bound_within_the_sketch_band_gets_the_exact_median(spark):
    rng = np.random.default_rng(7)
    values = {h: rng.lognormal(0, 1, 5001) for h in HOURS}
    values[HOURS[2]][:3] = np.nan  # the sketch skips NaN; Spark's exact median sorts it last
    exact = {h: float(np.nanmedian(v)) for h, v in values.items()}
    frame = spark.createDataFrame(
        [("m", h.replace(tzinfo=None), float(x)) for h, v in values.items() for x in v],
        "model_id string, hour timestamp, x double")
    # hour 0: a bound a hair below its median (inside the band); hour 1: bounds far away
    specs = {("m", HOURS[0]): [_median("x", min_value=exact[HOURS[0]] - 1e-9)],
             ("m", HOURS[1]): [_median("x", min_value=0.0, max_value=100.0)],
             ("m", HOURS[2]): [_median("x")]}  # no bound: the NaN alone asks the exact pass
    stats = hour_statistics(spark, frame, {"m": [s for ss in specs.values() for s in ss]})
    band = stats[("m", HOURS[1])][("median", "x")]
    assert band[0] < band[1] < band[2]
    asked = []

    def read(partitions):
        asked.append(partitions)
        return frame

    assert settle_medians(read, stats, specs) == 2
    # only the undecided hours are read: a bound inside the band, and an hour with NaN
    assert asked == [[{"model_id": "m", "hour": HOURS[0]}, {"model_id": "m", "hour": HOURS[2]}]]
    assert stats[("m", HOURS[0])][("median", "x")] == exact[HOURS[0]]
    # Spark's exact median (GX's) sorts NaN above every number
    spark_median = float(np.median(np.where(np.isnan(values[HOURS[2]]), np.inf,
                                            values[HOURS[2]])))
    assert stats[("m", HOURS[2])][("median", "x")] == spark_median != exact[HOURS[2]]
    sketched = stats[("m", HOURS[1])][("median", "x")]
    ordered = np.sort(values[HOURS[1]])
    rank = np.searchsorted(ordered, sketched, side="right") / len(ordered)
    assert abs(rank - 0.5) <= 0.0133 and sketched != exact[HOURS[1]]
