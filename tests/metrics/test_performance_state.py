"""Performance states and metrics against scikit-learn on the same rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import reduce

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from sklearn import metrics as skm

from inferwatch.metrics.performance import METRIC_COLUMNS
from inferwatch.metrics.performance_state import (
    BIN_KEY,
    KEY,
    SCORE_BINS,
    STATE_SCHEMA,
    hourly_state,
    merge_states,
    metrics,
)

BINARY, MULTICLASS, REGRESSION = "binary_classification", "multiclass_classification", "regression"
THRESHOLD = 0.5
CLASSES = ["cat", "dog", "bird", "fish"]
TOL = 1e-9
# 2026-11-01 is a Sunday: the hours span two ISO weeks and three days
HOURS = [datetime(2026, 11, 1, 22), datetime(2026, 11, 1, 23), datetime(2026, 11, 2, 0),
         datetime(2026, 11, 2, 1), datetime(2026, 11, 3, 7)]

ROWS = T.StructType([
    T.StructField("model_id", T.StringType()),
    T.StructField("window_start", T.TimestampType()),
    T.StructField("slice_key", T.StringType()),
    T.StructField("slice_value", T.StringType()),
    T.StructField("prediction", T.DoubleType()),
    T.StructField("prediction_label", T.StringType()),
    T.StructField("label", T.DoubleType()),
    T.StructField("delay_s", T.DoubleType()),
])


# --- data --------------------------------------------------------------------------


def _base(rng: np.random.Generator, model_id: str, per_hour: int = 160) -> pd.DataFrame:
    n = per_hour * len(HOURS)
    labelled = rng.random(n) < 0.8
    return pd.DataFrame({
        "model_id": model_id,
        "window_start": np.repeat(np.array(HOURS, dtype="datetime64[us]"), per_hour),
        "country": rng.choice(["A", "B"], n),
        "labelled": labelled,
        "delay_s": rng.lognormal(8.0, 1.5, n),
        "prediction_label": None,
    })


def _sliced(df: pd.DataFrame, edges: Sequence[pd.DataFrame] = ()) -> pd.DataFrame:
    """Every row once in slice '*' and once in its country slice, plus edge slices."""
    out = pd.concat([df.assign(slice_key="*", slice_value="*"),
                     df.assign(slice_key="country", slice_value=df["country"]), *edges],
                    ignore_index=True)
    # unlabelled inferences have neither label nor delay yet
    return out.assign(label=out["label"].where(out["labelled"]),
                      delay_s=out["delay_s"].where(out["labelled"]))


def _edge(df: pd.DataFrame, name: str, n: int = 120, **columns) -> pd.DataFrame:
    """Slice `edge=name`: the first `n` rows in the first hour, labelled, with `columns` set."""
    fixed = {"window_start": np.datetime64(HOURS[0], "us"), "slice_key": "edge",
             "slice_value": name, "labelled": True}
    return df.iloc[:n].assign(**{**fixed, **columns})


def _binary_rows(rng: np.random.Generator) -> pd.DataFrame:
    df = _base(rng, "fraud")
    n = len(df)
    p, kind = rng.random(n), rng.random(n)
    p = np.where(kind < 0.25, np.round(p, 2), p)  # ties, inside and across bins
    p = np.where(kind > 0.92, np.round(p), p)  # exactly 0 or 1
    df["prediction"] = p
    df["label"] = (rng.random(n) < 0.15 + 0.7 * p).astype(float)
    grid = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], 120)  # every same-bin pair is a tie
    return _sliced(df, [_edge(df, "one_class", label=1.0),
                        _edge(df, "unlabelled", labelled=False),
                        _edge(df, "grid", prediction=grid)])


def _regression_rows(rng: np.random.Generator) -> pd.DataFrame:
    df = _base(rng, "eta")
    y = rng.normal(40.0, 12.0, len(df))
    in_slice = (df["window_start"] == np.datetime64(HOURS[1], "us")) & (df["country"] == "B")
    y = np.where(in_slice & (rng.random(len(df)) < 0.1), 0.0, y)  # y == 0 in one slice
    df["label"] = y
    df["prediction"] = y + rng.normal(1.0, 6.0, len(df))
    return _sliced(df, [_edge(df, "single_row", n=1), _edge(df, "constant_y", label=7.1)])


def _multiclass_rows(rng: np.random.Generator) -> pd.DataFrame:
    df = _base(rng, "species")
    n = len(df)
    true = rng.choice(len(CLASSES), n, p=[0.5, 0.3, 0.15, 0.05])
    pred = np.where(rng.random(n) < 0.6, true, rng.choice(len(CLASSES), n))
    df["label"] = true.astype(float)
    df["prediction"] = pred.astype(float)
    # some rows log only the class index: the predicted class falls back to `prediction`
    names = np.array(CLASSES, dtype=object)[pred]
    df["prediction_label"] = np.where(rng.random(n) < 0.1, None, names)
    return _sliced(df)


def _spark(spark, pdf: pd.DataFrame, schema: T.StructType = ROWS) -> DataFrame:
    # through Arrow: NaN becomes null, and it is fast
    table = pa.Table.from_pandas(pdf[schema.fieldNames()], preserve_index=False)
    return spark.createDataFrame(table, schema)


def _state(rows: DataFrame, problem_type: str) -> DataFrame:
    return hourly_state(rows, problem_type, THRESHOLD if problem_type == BINARY else None,
                        CLASSES if problem_type == MULTICLASS else None)


def _collect(frames: dict[str, DataFrame]) -> dict[str, pd.DataFrame]:
    """Collect several same-schema frames in one Spark job; each indexed by KEY."""
    tagged = [df.withColumn("_from", F.lit(name)) for name, df in frames.items()]
    out = reduce(DataFrame.unionByName, tagged).toPandas()
    out["window_start"] = pd.to_datetime(out["window_start"])
    out = out.set_index(KEY).sort_index()
    return {name: out[out["_from"] == name].drop(columns="_from") for name in frames}


@pytest.fixture(scope="module")
def data(spark) -> dict:
    rng = np.random.default_rng(20261101)
    frames = {BINARY: _binary_rows(rng), REGRESSION: _regression_rows(rng),
              MULTICLASS: _multiclass_rows(rng)}
    return {k: (pdf, _spark(spark, pdf)) for k, pdf in frames.items()}


@pytest.fixture(scope="module")
def results(data) -> dict:
    """Per problem type, in one job: hourly metrics, days merged from hours, days direct."""
    out = {}
    for problem_type, (_, rows) in data.items():
        hourly = _state(rows, problem_type)
        by_day = rows.withColumn("window_start", F.date_trunc("day", "window_start"))
        states = {"hourly": hourly, "merged": merge_states(hourly, "1d"),
                  "direct": _state(by_day, problem_type)}
        out[problem_type] = _collect({k: metrics(v, problem_type) for k, v in states.items()})
    return out


# --- sklearn reference -------------------------------------------------------------


def _reference(pdf: pd.DataFrame, problem_type: str, window: str | None = None) -> pd.DataFrame:
    pdf = pdf.assign(window_start=pd.to_datetime(pdf["window_start"]))
    if window:
        pdf = pdf.assign(window_start=pdf["window_start"].dt.floor(window))
    out = {}
    for key, g in pdf.groupby(KEY):
        lab = g[g["label"].notna()]
        r = {"n": len(g), "n_labeled": len(lab), "delays": np.sort(lab["delay_s"].to_numpy())}
        if len(lab):
            r.update(_REFERENCE[problem_type](lab))
        out[key] = r
    return pd.DataFrame.from_dict(out, orient="index").rename_axis(KEY).sort_index()


def _binary_reference(g: pd.DataFrame) -> dict:
    y, p = g["label"].to_numpy(), g["prediction"].to_numpy()
    yhat = (p >= THRESHOLD).astype(float)
    tn, fp, fn, tp = skm.confusion_matrix(y, yhat, labels=[0.0, 1.0]).ravel()
    r = {"tp": tp, "fp": fp, "tn": tn, "fn": fn,
         "accuracy": skm.accuracy_score(y, yhat),
         "precision": skm.precision_score(y, yhat, zero_division=0),
         "recall": skm.recall_score(y, yhat, zero_division=0),
         "f1": skm.f1_score(y, yhat, zero_division=0),
         "log_loss": skm.log_loss(y, p, labels=[0, 1]),
         "brier": skm.brier_score_loss(y, p, pos_label=1),
         "pos_counts": _bins(p[y == 1]), "neg_counts": _bins(p[y != 1])}
    r["auc"] = skm.roc_auc_score(y, p) if len(set(y)) == 2 else None
    return r


def _bins(p: np.ndarray) -> dict[int, int]:
    """The sparse histogram: {key: count} of the bins that hold a score."""
    bins, counts = np.unique(np.clip(np.floor(p * SCORE_BINS), 0, SCORE_BINS - 1).astype(int),
                             return_counts=True)
    return {int(b) * BIN_KEY: int(c) for b, c in zip(bins, counts)}


def _regression_reference(g: pd.DataFrame) -> dict:
    y, p = g["label"].to_numpy(), g["prediction"].to_numpy()
    nz = y != 0
    return {"rmse": np.sqrt(skm.mean_squared_error(y, p)),
            "mae": skm.mean_absolute_error(y, p),
            "mape": skm.mean_absolute_percentage_error(y[nz], p[nz]) if nz.any() else None,
            "mape_all_rows": skm.mean_absolute_percentage_error(y, p),
            "has_zero_y": not nz.all(),
            "r2": skm.r2_score(y, p) if len(y) >= 2 and np.ptp(y) > 0 else None}


def _multiclass_reference(g: pd.DataFrame) -> dict:
    y = np.array(CLASSES, dtype=object)[g["label"].astype(int)]
    fallback = np.array(CLASSES, dtype=object)[g["prediction"].astype(int)]
    p = g["prediction_label"].where(g["prediction_label"].notna(), fallback).to_numpy()
    return {"accuracy": skm.accuracy_score(y, p),
            "f1_macro": skm.f1_score(y, p, average="macro", zero_division=0),
            "f1_weighted": skm.f1_score(y, p, average="weighted", zero_division=0)}


_REFERENCE = {BINARY: _binary_reference, REGRESSION: _regression_reference,
              MULTICLASS: _multiclass_reference}
_METRICS = {BINARY: ["accuracy", "precision", "recall", "f1", "log_loss", "brier"],
            REGRESSION: ["rmse", "mae", "r2"],
            MULTICLASS: ["accuracy", "f1_macro", "f1_weighted"]}


def _check_against_sklearn(got: pd.DataFrame, ref: pd.DataFrame, problem_type: str) -> None:
    assert list(got.index) == list(ref.index)
    assert (got["n"] == ref["n"]).all() and (got["n_labeled"] == ref["n_labeled"]).all()
    assert np.allclose(got["label_coverage"], ref["n_labeled"] / ref["n"], rtol=0, atol=TOL)
    for key, r in ref.iterrows():
        g = got.loc[key]
        if r["n_labeled"] == 0:  # unlabelled rows count in n, never in a metric
            assert g[[*_METRICS[problem_type], "delay_p50", "delay_p99"]].isna().all(), key
            continue
        for m in _METRICS[problem_type]:
            if r[m] is None or pd.isna(r[m]):
                assert pd.isna(g[m]), (key, m)
            else:
                assert g[m] == pytest.approx(r[m], rel=0, abs=TOL), (key, m)
        for rank in (0.5, 0.9, 0.99):
            assert _within_rank(g[f"delay_p{round(rank * 100)}"], r["delays"], rank), (key, rank)
        if problem_type == BINARY:
            _check_binary_extras(key, g, r)
        if problem_type == REGRESSION:
            assert g["mape"] == pytest.approx(r["mape"], rel=0, abs=TOL), key
            if not r["has_zero_y"]:
                assert g["mape"] == pytest.approx(r["mape_all_rows"], rel=0, abs=TOL), key


def _check_binary_extras(key, g: pd.Series, r: pd.Series) -> None:
    assert [g[c] for c in ("tp", "fp", "tn", "fn")] == [r[c] for c in ("tp", "fp", "tn", "fn")]
    assert _plain(g["pos_hist"]) == r["pos_counts"], key
    assert _plain(g["neg_hist"]) == r["neg_counts"], key
    if pd.isna(r["auc"]):
        assert pd.isna(g["auc"]) and pd.isna(g["auc_error_bound"]), key
    else:
        assert abs(g["auc"] - r["auc"]) <= g["auc_error_bound"] + 1e-12, key
        if "grid" not in key:  # continuous scores: within 1e-3 of the exact AUC
            assert abs(g["auc"] - r["auc"]) <= 1e-3, key




def _within_rank(value: float, sorted_values: np.ndarray, rank: float, error: float = 0.02) -> bool:
    """Is `value`'s rank among `sorted_values` within `error` of `rank`? (ties: any of theirs)"""
    below = np.searchsorted(sorted_values, value, "left") / len(sorted_values)
    up_to = np.searchsorted(sorted_values, value, "right") / len(sorted_values)
    return below - error <= rank <= up_to + error


def _plain(value):
    """A state cell as plain Python, so arrays and maps compare with ==."""
    if isinstance(value, (list, np.ndarray)):
        return [int(v) for v in value]
    if isinstance(value, dict):
        return {k: int(v) if isinstance(v, (int, np.integer)) else v
                for k, v in sorted(value.items())}
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


# --- tests -------------------------------------------------------------------------

PROBLEM_TYPES = [BINARY, REGRESSION, MULTICLASS]


@pytest.mark.parametrize("problem_type", PROBLEM_TYPES)
def test_hourly_metrics_equal_sklearn(data, results, problem_type) -> None:
    pdf, _ = data[problem_type]
    _check_against_sklearn(results[problem_type]["hourly"], _reference(pdf, problem_type),
                           problem_type)


@pytest.mark.parametrize("problem_type", PROBLEM_TYPES)
def test_days_merged_from_hours_equal_days_from_rows_and_sklearn(data, results, problem_type):
    pdf, _ = data[problem_type]
    merged, direct = results[problem_type]["merged"], results[problem_type]["direct"]
    _check_against_sklearn(merged, _reference(pdf, problem_type, window="D"), problem_type)
    assert list(merged.index) == list(direct.index)
    exact = [f.name for f in STATE_SCHEMA.fields
             if f.name not in (*KEY, "delay_sketch") and not f.name.startswith("sum_")]
    for c in exact:  # counts, histograms and class maps add up exactly
        assert merged[c].map(_plain).tolist() == direct[c].map(_plain).tolist(), c
    for c in ["label_coverage", "auc", "auc_error_bound", *_METRICS[problem_type], "mape"]:
        assert np.allclose(merged[c].astype(float), direct[c].astype(float),
                           rtol=0, atol=TOL, equal_nan=True), c


def test_auc_from_histograms(results, data) -> None:
    got = results[BINARY]["hourly"]
    assert (got["auc_error_bound"].dropna() > 0).any()  # ties and p in {0, 1} share bins
    # when every same-bin pair is a true tie, the histogram AUC is the exact one
    pdf, _ = data[BINARY]
    grid = pdf[(pdf["slice_value"] == "grid") & pdf["label"].notna()]
    row = got.xs(("edge", "grid"), level=["slice_key", "slice_value"]).iloc[0]
    assert row["auc_error_bound"] > 0.01
    assert row["auc"] == pytest.approx(skm.roc_auc_score(grid["label"], grid["prediction"]),
                                       rel=0, abs=1e-12)
    one_class = got.xs(("edge", "one_class"), level=["slice_key", "slice_value"]).iloc[0]
    assert pd.isna(one_class["auc"]) and one_class["recall"] > 0


def test_finer_keys_of_earlier_states_read_as_their_bins(data) -> None:
    """States written with 1e-5 bins (keys 0..99999) read as the 1e-4 bins they fall in:
    the same histograms with each bin's negatives moved to a finer key inside it give the
    same auc and bound (a sweep over raw keys would order them below the positives)."""
    _, rows = data[BINARY]
    state = _state(rows, BINARY)

    def finer(hist: str, offset: int):
        return F.transform_keys(hist, lambda k, _v: k + offset)

    split = state.withColumns({"pos_hist": finer("pos_hist", BIN_KEY - 1),
                               "neg_hist": finer("neg_hist", 1)})
    got = _collect({"coarse": metrics(state, BINARY), "fine": metrics(split, BINARY)})
    assert (got["coarse"]["auc_error_bound"].dropna() > 0).any()  # bins hold both classes
    for c in ("auc", "auc_error_bound"):
        assert np.allclose(got["fine"][c].astype(float), got["coarse"][c].astype(float),
                           rtol=0, atol=1e-12, equal_nan=True), c


def test_unlabelled_rows_count_in_n_only(results) -> None:
    got = results[BINARY]["hourly"].xs(("edge", "unlabelled"),
                                       level=["slice_key", "slice_value"]).iloc[0]
    assert (got["n"], got["n_labeled"], got["label_coverage"]) == (120, 0, 0.0)
    assert got[["accuracy", "auc", "log_loss", "delay_p50"]].isna().all()
    assert sum(got["pos_hist"].values()) + sum(got["neg_hist"].values()) == 0


def test_weeks_start_on_monday_and_merging_is_associative(data) -> None:
    _, rows = data[BINARY]
    hourly = _state(rows, BINARY)
    weeks = _collect({"from_hours": merge_states(hourly, "1w"),
                      "from_days": merge_states(merge_states(hourly, "1d"), "1w")})
    starts = weeks["from_hours"].index.get_level_values("window_start").unique()
    assert sorted(starts) == [pd.Timestamp("2026-10-26"), pd.Timestamp("2026-11-02")]
    a, b = weeks["from_hours"], weeks["from_days"]
    assert list(a.index) == list(b.index)
    for field in STATE_SCHEMA.fields:
        if field.name in KEY or field.name == "delay_sketch":
            continue
        if isinstance(field.dataType, T.DoubleType):
            assert np.allclose(a[field.name].astype(float), b[field.name].astype(float),
                               rtol=1e-12, atol=0, equal_nan=True), field.name
        else:
            assert a[field.name].map(_plain).tolist() == b[field.name].map(_plain).tolist()


def test_delay_quantiles_within_kll_rank_error(spark) -> None:
    """Many delays per hour, so the sketches compact; ±2% covers k=200's ~1.65%."""
    rng = np.random.default_rng(7)
    per_hour, hours = 2000, pd.date_range("2026-11-05", periods=8, freq="h")
    n = per_hour * len(hours)
    pdf = pd.DataFrame({
        "model_id": "late", "window_start": np.repeat(hours.to_numpy("datetime64[us]"), per_hour),
        "slice_key": "*", "slice_value": "*", "prediction": rng.random(n),
        "prediction_label": None, "label": rng.random(n),
        # the hours differ in scale, so the day's distribution is none of theirs
        "delay_s": rng.lognormal(6.0, 1.2, n) * np.repeat(np.arange(1, 9), per_hour),
    })
    hourly = _state(_spark(spark, pdf), REGRESSION)
    got = _collect({"hour": metrics(hourly, REGRESSION),
                    "day": metrics(merge_states(hourly, "1d"), REGRESSION)})
    for name, frame in got.items():
        for (_, start, _, _), row in frame.iterrows():
            in_window = pdf["window_start"].dt.floor("D" if name == "day" else "h") == start
            delays = np.sort(pdf.loc[in_window, "delay_s"].to_numpy())
            for rank in (0.5, 0.9, 0.99):
                q = row[f"delay_p{round(rank * 100)}"]
                assert _within_rank(q, delays, rank), (name, start, rank)
    assert len(got["hour"]) == 8 and len(got["day"]) == 1


def test_multiclass_from_label_class_or_class_indices(spark, data) -> None:
    pdf, _ = data[MULTICLASS]
    pdf = pdf[pdf["slice_key"] == "*"]
    names = np.array(CLASSES, dtype=object)
    by_name = pdf.assign(label_class=pd.Series(names[pdf["label"].fillna(0).astype(int)],
                                               index=pdf.index).where(pdf["label"].notna()),
                         label=None)
    with_names = _spark(spark, by_name, T.StructType([
        *ROWS.fields, T.StructField("label_class", T.StringType())]))
    only_indices = _spark(spark, pdf, T.StructType(
        [f for f in ROWS.fields if f.name != "prediction_label"]))
    got = _collect({
        "label_class": metrics(hourly_state(with_names, MULTICLASS, None, CLASSES), MULTICLASS),
        "indices": metrics(hourly_state(only_indices, MULTICLASS, None), MULTICLASS),
    })
    for key, g in pdf[pdf["label"].notna()].groupby(KEY):
        ref = _multiclass_reference(g)
        y, p = g["label"].astype(int).astype(str), g["prediction"].astype(int).astype(str)
        by_index = {"accuracy": skm.accuracy_score(y, p),
                    "f1_macro": skm.f1_score(y, p, average="macro", zero_division=0),
                    "f1_weighted": skm.f1_score(y, p, average="weighted", zero_division=0)}
        for m in ref:
            assert got["label_class"].loc[key, m] == pytest.approx(ref[m], rel=0, abs=TOL)
            assert got["indices"].loc[key, m] == pytest.approx(by_index[m], rel=0, abs=TOL)
    assert set(got["indices"]["class_true"].iloc[0]) <= {"0", "1", "2", "3"}


def test_nan_counts_as_missing(spark) -> None:
    nan, hour = float("nan"), HOURS[0]
    rows = spark.createDataFrame([
        ("eta", hour, "*", "*", 10.0, None, 12.0, 60.0),
        ("eta", hour, "*", "*", nan, None, 12.0, 60.0),
        ("eta", hour, "*", "*", 10.0, None, nan, nan),
    ], ROWS)
    (got,) = metrics(hourly_state(rows, REGRESSION, None), REGRESSION).collect()
    assert (got["n"], got["n_labeled"], got["mae"], got["delay_p99"]) == (3, 1, 2.0, 60.0)


def test_one_schema_for_every_problem_type(data) -> None:
    def fields(df: DataFrame) -> list:
        return [(f.name, f.dataType) for f in df.schema.fields]

    expected = [(f.name, f.dataType) for f in STATE_SCHEMA.fields]
    metric_schemas = []
    for problem_type, (_, rows) in data.items():
        hourly = _state(rows, problem_type)
        assert fields(hourly) == expected
        assert fields(merge_states(hourly, "1w")) == expected
        metric_schemas.append(fields(metrics(hourly, problem_type)))
    assert metric_schemas[0] == metric_schemas[1] == metric_schemas[2]
    assert [name for name, _ in metric_schemas[0]][len(expected):] == list(METRIC_COLUMNS)


def test_bad_arguments_say_what_was_expected(data) -> None:
    _, rows = data[REGRESSION]
    with pytest.raises(ValueError, match="problem_type"):
        hourly_state(rows, "ranking", None)
    with pytest.raises(TypeError, match="threshold"):
        hourly_state(rows, BINARY, None)
    with pytest.raises(ValueError, match="delay_s"):
        hourly_state(rows.drop("delay_s"), REGRESSION, None)
    with pytest.raises(ValueError, match="distinct"):
        hourly_state(rows, MULTICLASS, None, ["a", "a"])
    states = hourly_state(rows, REGRESSION, None)
    with pytest.raises(ValueError, match="granularity"):
        merge_states(states, "1h")
    with pytest.raises(ValueError, match="sum_y"):
        metrics(states.drop("sum_y"), REGRESSION)
