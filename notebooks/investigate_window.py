# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Investigate a window
#
# One model, one hour or day: which slices dropped against the model's previous windows,
# which features drifted, which expectations failed, which alerts fired. Read with
# delta-rs (`inferwatch.read`), no Spark; the last cell asks the same tables with DuckDB.
#
# Parameters: `lake`, `model`, `window` (ISO start of the hour or UTC day; None: the
# latest window with a drifted feature or a failed expectation), `granularity` (`1h` or
# `1d`), `lookback` (previous windows the slices are compared with).

# %%
import duckdb
import pandas as pd
from deltalake import DeltaTable
from IPython.display import display

from inferwatch import read
from inferwatch.lake.storage import delta_options, delta_uri, settings_from
from inferwatch.model_settings.drift import STATISTICS
from inferwatch.report import data as lake_data
from inferwatch.report import window as zoom

# %% tags=["parameters"]
lake = "demo/lake"
model = "fraud"
window = None
granularity = "1h"
lookback = 24

# %%
pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 30)

lake = lake_data.locate(lake)
data = lake_data.load(lake, model)
when = (lake_data.utc(window) if window is not None
        else zoom.pick_window(data.drift, data.quality, data.performance, granularity))
if when is None:
    print(f"{model} has no {granularity} window in {lake}.")
else:
    print(f"{model}, {granularity} window {when:%Y-%m-%d %H:%M} UTC"
          + (" (picked: the latest with a drifted feature or a failed expectation)"
             if window is None else ""))

# %% [markdown]
# ## Which slices dropped
#
# Each slice's primary metric (auc for a binary model, rmse for a regressor), realized
# and estimated, against the mean of its previous windows: `*_worse_sd` is how many
# standard deviations worse; `dropped` when worse by more than 2 of them (and 0.02);
# `coverage_fell` when label coverage is 0.25 below its usual level.

# %%
changes = pd.DataFrame() if when is None else zoom.slice_changes(
    data.performance, when, granularity, lookback)
if changes.empty:
    print(f"No performance rows for {model} at {granularity} in this window.")
else:
    flagged = changes[changes["dropped"] | changes["coverage_fell"]]
    print(f"{len(flagged)} of {len(changes)} slices dropped or lost labels: "
          + (", ".join(f"{k}={v}" for k, v in flagged[["slice_key", "slice_value"]]
                       .itertuples(index=False)) or "none"))
    display(changes.head(20))

# %% [markdown]
# ## Which features drifted
#
# The statistics of `metrics/drift` (one row per statistic: `read.drift_metrics`) marked
# `drifted` in the window, against the baseline and against the previous window, per
# slice; `score` is the largest `abs(value) / threshold`.

# %%
features = pd.DataFrame() if when is None else zoom.drifted_features(
    data.drift, when, granularity)
if features.empty:
    print(f"No feature of {model} drifted in this window (or it has no drift rows).")
else:
    whole = features[features["slice_key"] == "*"]
    print("Drifted (whole model):", ", ".join(sorted(whole["column"].unique())) or "none")
    display(features.head(30))

# %% [markdown]
# ## Which expectations failed
#
# `metrics/quality` is validated per hour: a day window shows its hours' failures.

# %%
failed = pd.DataFrame() if when is None else zoom.failed_expectations(
    data.quality, when, granularity)
checked = 0 if when is None else zoom.validated_hours(data.quality, when, granularity)
if checked == 0:
    print(f"No hour of this window was validated (no metrics/quality rows for {model}).")
elif failed.empty:
    print(f"Every expectation passed in the {checked} validated hour(s).")
else:
    print(f"{len(failed)} expectation(s) failed in {checked} validated hour(s).")
    display(failed)

# %% [markdown]
# ## Alerts

# %%
fired = None if when is None else zoom.window_alerts(data.alerts, when, granularity)
if data.alerts is None:
    print("No alerts table in this lake yet: alerts will show here once a job writes them.")
elif fired is None or fired.empty:
    print(f"No alert for {model} in this window.")
else:
    display(fired)

# %% [markdown]
# ## The same tables from DuckDB
#
# Any Delta table of the lake is an Arrow dataset (`deltalake`), which DuckDB queries in
# place; filters are pushed down to the Parquet files.

# %%
def dataset(name: str):
    uri = delta_uri(f"{lake.rstrip('/')}/{name}")
    return DeltaTable(uri, storage_options=delta_options(settings_from(None), uri)
                      ).to_pyarrow_dataset()


if when is None or not read.exists(lake, "metrics/drift"):
    print("No metrics/drift table to query.")
else:
    con = duckdb.connect()
    con.register("drift", dataset("metrics/drift"))
    # one row per comparison, a column per statistic, each judged by its `thresholds` entry
    score = ", ".join(f"abs({m}) / map_extract_value(thresholds, '{m}')" for m in STATISTICS)
    by_sql = con.execute(f"""
        SELECT "column", comparison, len(drifted_metrics) AS metrics_drifted,
               greatest({score}) AS score
        FROM drift
        WHERE model_id = ? AND granularity = ? AND window_start = ?
          AND slice_key = '*' AND drifted
        ORDER BY score DESC""", [model, granularity, when.to_pydatetime()]).df()
    print(f"DuckDB: {len(by_sql)} (column, comparison) pairs drifted on the whole model.")
    display(by_sql)
