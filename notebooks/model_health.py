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
# # Model health
#
# One model's health from the lake's metric tables, read with delta-rs (`inferwatch.read`,
# no Spark): realized vs estimated performance, label coverage and feedback delay, volume,
# champion vs challenger, drift against the baseline, data-quality failures.
# `inferwatch report --model M` draws the same views into one HTML file.
#
# Parameters: `lake` (the lake root; `make demo` writes `demo/lake`), `model`,
# `granularity` of the time series (`1h`, `1d` or `1w`), `start`/`end` (ISO, UTC; None:
# the whole history).

# %%
import pandas as pd
from IPython.display import display

from inferwatch.report import data as lake_data
from inferwatch.report import figures, views

# %% tags=["parameters"]
lake = "demo/lake"
model = "fraud"
granularity = "1h"
start = None
end = None

# %%
pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 30)


def show(figure, empty: str) -> None:
    """Draw a figure, or say in a sentence why there is none."""
    if figure is None:
        print(empty)
    else:
        figure.show()


lake = lake_data.locate(lake)
data = lake_data.load(lake, model, start, end)
print(f"{model} in {lake}: {len(data.performance)} performance rows, {len(data.drift)} drift "
      f"rows, {len(data.quality)} quality rows"
      + ("" if data.alerts is None else f", {len(data.alerts)} alerts"))

# %% [markdown]
# ## Realized vs estimated performance, per granularity
#
# Realized metrics use each window's labelled rows; the estimates use every row's
# prediction and no label (importance weighting on the baseline, or CBPE), so they exist
# before labels arrive. A gap in the realized line is a window without labels.

# %%
summary = views.performance_by_granularity(data.performance)
if summary.empty:
    print(f"No whole-model performance rows for {model}: run `inferwatch run performance`.")
else:
    display(summary)
for grain in summary.index:
    series = views.performance_over_time(data.performance, grain)
    show(figures.performance(series, views.metric_pairs(series), grain),
         f"No metric with a value at {grain}.")

# %% [markdown]
# ## Label coverage, feedback delay and volume
#
# Coverage is labelled / scored rows; delay is `label_ts - ts` of the labelled rows
# (p50 and p90, hours). A feedback pipeline that stops shows as coverage falling to 0.

# %%
over_time = views.performance_over_time(data.performance, granularity)
show(figures.coverage(over_time, granularity),
     f"No whole-model performance rows at {granularity} for {model}.")
if not over_time.empty:
    display(over_time[["window_start", "n", "n_labeled", "label_coverage", "delay_p50_h",
                       "delay_p90_h"]].tail(12))

# %% [markdown]
# ## Champion vs challenger
#
# The versions come from the `inferences` table itself; the busiest one is taken as the
# champion. Their performance is the `model_version` slice of `metrics/performance`.

# %%
volume = lake_data.version_volume(lake, model, data.start, data.end)
if volume.empty:
    print(f"No inferences of {model} in this range: no versions to compare.")
elif volume.shape[1] < 2:
    print(f"{model} has one model_version in its inferences ({volume.columns[0]}): "
          "nothing to compare.")
else:
    print("Inferences per version:", volume.sum().to_dict())
    display(volume.div(volume.sum(axis=1), axis=0).tail(12).round(3))
    by_version = views.versions(data.performance, granularity)
    show(figures.versions(by_version, granularity),
         f"No model_version slice rows at {granularity} for {model}.")

# %% [markdown]
# ## Drift against the baseline
#
# Columns x windows, whole-model slice: each cell is the largest `abs(value) / threshold`
# over the column's drift metrics (PSI, JS, KS, ...); above 1 the column drifted.

# %%
scores = views.drift_scores(data.drift, granularity)
show(figures.drift_heatmap(scores, views.drift_matrix(scores), granularity),
     f"No drift rows against a baseline at {granularity} for {model}.")
drifted = views.drifted_columns(data.drift, granularity)
print(f"Columns drifted at {granularity}: {', '.join(drifted) if drifted else 'none'}")

# %% [markdown]
# ## Data-quality failures over time
#
# Every Great Expectations result per validated hour (`metrics/quality`); a failed one
# says why in `message`.

# %%
failures = views.quality_failures(data.quality)
show(figures.quality(failures, views.quality_by_hour(data.quality)),
     f"No metrics/quality rows for {model}: the quality job has not validated its hours.")
if not failures.empty:
    display(failures[["window_start", "expectation_type", "column", "severity",
                      "message"]])
elif not data.quality.empty:
    print(f"All {len(data.quality)} expectation results passed.")
