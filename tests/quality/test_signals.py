"""The delivery counts the quality job reads: summed over partition runs per model-hour,
only the hours asked for, from a table partitioned by model (today's lakes) or by model
and hour (lakes made before), alike."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from inferwatch.lake.table import Table
from inferwatch.lake.tables import DELIVERIES, Lake
from inferwatch.quality.signals import deliveries

START = datetime(2026, 3, 2, tzinfo=timezone.utc)


def _runs() -> list[pd.DataFrame]:
    """Three partition runs' rows for two models over 30 hours; some model-hours in more
    than one run."""
    runs = []
    for run in range(3):
        rows = [{"model_id": m, "hour": START + timedelta(hours=h), "run_id": f"run{run}",
                 "rows_new": 10 * run + h, "rows_duplicate": run, "rows_quarantined": h % 3,
                 "example_reason": f"bad {m} {h}" if h % 3 else None}
                for m in ("fraud", "eta") for h in range(run * 10, run * 10 + 15)]
        runs.append(pd.DataFrame(rows))
    return runs


@pytest.mark.parametrize("layout", [("model_id",), ("model_id", "hour")],
                         ids=["by model", "by model and hour"])
def test_delivery_counts_are_each_asked_hours_sums_over_runs(spark, tmp_path, layout):
    lake = Lake(spark, str(tmp_path))
    Table(spark, lake.path("state/deliveries")).create(DELIVERIES, layout)
    table = lake.table("state/deliveries")
    assert table.partition_columns() == list(layout)
    runs = _runs()
    for frame in runs:
        table.append(spark.createDataFrame(frame, DELIVERIES))
    asked = {"fraud": [START + timedelta(hours=h) for h in (3, 12, 13, 29, 40)],
             "eta": [START + timedelta(hours=h) for h in (20, 24)]}

    got = deliveries(lake, asked)

    rows = pd.concat(runs)
    expected = {}
    for (model, hour), group in rows.groupby(["model_id", "hour"]):
        if hour in asked.get(model, []):
            expected[(model, hour.to_pydatetime())] = (
                group.rows_new.sum(), group.rows_duplicate.sum(), group.rows_quarantined.sum())
    assert {k: (v["rows_new"], v["rows_duplicate"], v["rows_quarantined"])
            for k, v in got.items()} == expected
    assert len(expected) == 6  # hour 40 has no row; eta's other hours were not asked
    assert got[("fraud", START + timedelta(hours=13))]["example_reason"] == "bad fraud 13"
    assert deliveries(lake, {"fraud": []}) == {}
