"""Performance states and metrics against scikit-learn on the same rows."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T
from sklearn import metrics as skm

from inferwatch.perf_state import (
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


def _sliced(df: pd.DataFrame, edges: list[pd.DataFrame] = ()) -> pd.DataFrame:
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
    grid = rng.choice([0.0, 0.25, 0.5, 0.999, 1.0], 120)  # every same-bin pair is a tie
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


def _spark(spark, pdf: pd.DataFrame, schema: T.StructType = ROWS):
    table = pa.Table.from_pandas(pdf[schema.fieldNames()], preserve_index=False)
    return spark.createDataFrame(table.to_pylist(), schema)


@pytest.fixture(scope="module")
def data(spark) -> dict:
    rng = np.random.default_rng(20261101)
    frames = {BINARY: _binary_rows(rng), REGRESSION: _regression_rows(rng),
              MULTICLASS: _multiclass_rows(rng)}
    return {k: (pdf, _spark(spark, pdf)) for k, pdf in frames.items()}


def _state(rows, problem_type):
    return hourly_state(rows, problem_type, THRESHOLD if problem_type == BINARY else None,
                        CLASSES if problem_type == MULTICLASS else None)


def _collect(df) -> pd.DataFrame:
    out = df.toPandas()
    out["window_start"] = pd.to_datetime(out["window_start"])
    return out.set_index(KEY).sort_index()


# --- sklearn reference -------------------------------------------------------------


def _reference(pdf: pd.DataFrame, problem_type: str, window: str | None = None) -> pd.DataFrame:
    pdf = pdf.assign(window_start=pd.to_datetime(pdf["window_start"]))
    if window:
        pdf = pdf.assign(window_start=pdf["window_start"].dt.floor(window))
    out = {}
    for key, g in pdf.groupby(KEY):
        lab = g[g["label"].notna()]
        r = {"n": len(g), "n_labeled": len(lab)}
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


def _bins(p: np.ndarray) -> np.ndarray:
    return np.bincount(np.clip(np.floor(p * SCORE_BINS), 0, SCORE_BINS - 1).astype(int),
                       minlength=SCORE_BINS)


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
            assert g[_METRICS[problem_type]].isna().all(), key
            continue
        for m in _METRICS[problem_type]:
            if r[m] is None or pd.isna(r[m]):
                assert pd.isna(g[m]), (key, m)
            else:
                assert g[m] == pytest.approx(r[m], rel=0, abs=TOL), (key, m)
        if problem_type == BINARY:
            _check_binary_extras(key, g, r)
        if problem_type == REGRESSION:
            assert g["mape"] == pytest.approx(r["mape"], rel=0, abs=TOL), key
            if not r["has_zero_y"]:
                assert g["mape"] == pytest.approx(r["mape_all_rows"], rel=0, abs=TOL), key


def _check_binary_extras(key, g: pd.Series, r: pd.Series) -> None:
    assert [g[c] for c in ("tp", "fp", "tn", "fn")] == [r[c] for c in ("tp", "fp", "tn", "fn")]
    assert list(g["pos_hist"]) == list(r["pos_counts"]), key
    assert list(g["neg_hist"]) == list(r["neg_counts"]), key
    if pd.isna(r["auc"]):
        assert pd.isna(g["auc"]) and pd.isna(g["auc_error_bound"]), key
    else:
        assert abs(g["auc"] - r["auc"]) <= g["auc_error_bound"] + 1e-12, key


# --- tests -------------------------------------------------------------------------


@pytest.mark.parametrize("problem_type", [BINARY, REGRESSION, MULTICLASS])
def test_hourly_and_daily_metrics_equal_sklearn(spark, data, problem_type) -> None:
    pdf, rows = data[problem_type]
    hourly = _state(rows, problem_type)
    _check_against_sklearn(_collect(metrics(hourly, problem_type)),
                           _reference(pdf, problem_type), problem_type)

    merged = _collect(metrics(merge_states(hourly, "1d"), problem_type))
    by_day = rows.withColumn("window_start", F.date_trunc("day", "window_start"))
    direct = _collect(metrics(_state(by_day, problem_type), problem_type))
    _check_against_sklearn(merged, _reference(pdf, problem_type, "D"), problem_type)
    assert list(merged.index) == list(direct.index)
    exact = [f.name for f in STATE_SCHEMA.fields
             if f.name not in (*KEY, "delay_sketch") and not f.name.startswith("sum_")]
    for c in exact:  # counts, histograms and class maps add up exactly
        assert merged[c].map(_plain).tolist() == direct[c].map(_plain).tolist(), c
    for c in [*_METRICS[problem_type], "label_coverage", "auc", "auc_error_bound", "mape"]:
        assert np.allclose(merged[c].astype(float), direct[c].astype(float),
                           rtol=0, atol=TOL, equal_nan=True), c


def _plain(v):
    if isinstance(v, (list, np.ndarray)):
        return list(v)
    if isinstance(v, dict):
        return dict(sorted(v.items()))
    if isinstance(v, list) and v and isinstance(v[0], tuple):
        return dict(sorted(v))
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else v
