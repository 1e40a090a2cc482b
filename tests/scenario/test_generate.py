"""Tests for the synthetic scenario generator (pandas only, no Spark)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from inferwatch.scenario import Scenario, generate, model_description, write

CONF = Path(__file__).resolve().parents[2] / "conf" / "models"
SMALL = {"seed": 11, "days": 2, "rows_per_hour": 30}


@pytest.fixture(scope="module")
def sc() -> Scenario:
    return generate(**SMALL)


def _incident(sc: Scenario, kind: str) -> dict:
    (found,) = [i for i in sc.manifest["incidents"] if i["kind"] == kind]
    return found


def _unique(sc: Scenario) -> pd.DataFrame:
    return sc.inferences.iloc[: sc.manifest["counts"]["inferences_unique"]]


def test_same_seed_is_identical_and_other_seed_differs(sc: Scenario) -> None:
    again = generate(**SMALL)
    pd.testing.assert_frame_equal(sc.inferences, again.inferences)
    pd.testing.assert_frame_equal(sc.labels, again.labels)
    pd.testing.assert_frame_equal(sc.malformed, again.malformed)
    assert sc.manifest == again.manifest
    other = generate(**{**SMALL, "seed": 12})
    assert not sc.inferences["prediction"].head(50).equals(other.inferences["prediction"].head(50))


def test_schema_and_types(sc: Scenario) -> None:
    inf = sc.inferences
    assert list(inf.columns[:4]) == ["inference_id", "model_id", "model_version", "ts"]
    assert list(inf.columns[-2:]) == ["prediction", "prediction_label"]
    assert str(inf["ts"].dtype) == "datetime64[us, UTC]"
    assert str(sc.labels["label_ts"].dtype) == "datetime64[us, UTC]"
    assert inf["prediction"].dtype == np.float64
    assert set(inf["model_id"]) == {"fraud", "eta"}
    fraud = inf[inf["model_id"] == "fraud"]
    assert fraud["prediction"].between(0, 1).all()
    expected = np.where(fraud["prediction"] >= sc.models["fraud"]["threshold"], "1", "0")
    assert (fraud["prediction_label"].to_numpy() == expected).all()
    assert set(fraud["model_version"]) == {"v1", "v2"}
    assert inf.loc[inf["model_id"] == "eta", "prediction_label"].isna().all()
    assert inf.loc[inf["model_id"] == "eta", "amount"].isna().all()
    features = {c for m in sc.models.values() for k in ("numeric", "categorical")
                for c in m["features"][k]}
    assert len(features) >= 10 and features <= set(inf.columns)


def test_counts_match_manifest(sc: Scenario) -> None:
    counts = sc.manifest["counts"]
    unique = _unique(sc)
    assert unique["inference_id"].is_unique
    assert len(sc.inferences) == counts["inferences_unique"] + counts["duplicates"]
    assert len(sc.malformed) == counts["malformed"] == len(sc.manifest["malformed_reasons"])
    assert 10 <= counts["malformed"] <= 20
    assert len(sc.labels) == counts["labels"]
    labelled = sc.labels["inference_id"].nunique()
    assert counts["never_labelled"] == counts["inferences_unique"] - labelled
    assert 0.05 < counts["never_labelled"] / counts["inferences_unique"] < 0.3
    assert counts["label_corrections"] == sc.labels["inference_id"].duplicated().sum() > 0
    json.dumps(sc.manifest)  # JSON-serializable


def test_duplicates_are_exact_copies(sc: Scenario) -> None:
    n = sc.manifest["counts"]["inferences_unique"]
    dups = sc.inferences.iloc[n:].reset_index(drop=True)
    assert len(dups) > 0
    originals = _unique(sc).set_index("inference_id").loc[dups["inference_id"]].reset_index()
    pd.testing.assert_frame_equal(dups, originals[dups.columns])


def test_labels_refer_to_earlier_inferences(sc: Scenario) -> None:
    unique = _unique(sc).set_index("inference_id")
    labels = sc.labels
    assert labels["inference_id"].isin(unique.index).all()
    ts = unique.loc[labels["inference_id"], "ts"].to_numpy()
    assert (labels["label_ts"].to_numpy() >= ts).all()
    hinted = labels["model_id"].notna()
    assert 0.2 < 1 - hinted.mean() < 0.4
    true_model = unique.loc[labels.loc[hinted, "inference_id"], "model_id"].to_numpy()
    assert (labels.loc[hinted, "model_id"].to_numpy() == true_model).all()
    has_ts = labels["inference_ts"].notna()
    true_ts = unique.loc[labels.loc[has_ts, "inference_id"], "ts"].to_numpy()
    assert (labels.loc[has_ts, "inference_ts"].to_numpy() == true_ts).all()
    fraud_labels = labels.loc[labels["inference_id"].str.startswith("fraud-"), "label"]
    assert set(fraud_labels) <= {0.0, 1.0}
    assert (labels["label_ts"] >= pd.Timestamp(sc.manifest["end"])).any()  # future labels kept


def test_label_stop_segment_has_no_labels_after_onset(sc: Scenario) -> None:
    stop = _incident(sc, "label_stop")
    assert stop["slice"] == "country = 'BR'"
    country = _unique(sc).set_index("inference_id")["country"]
    br = sc.labels[country.loc[sc.labels["inference_id"]].to_numpy() == "BR"]
    assert len(br) > 0
    assert (br["label_ts"] < pd.Timestamp(stop["onset"])).all()


def test_incidents_start_after_the_baseline_day(sc: Scenario) -> None:
    baseline_end = pd.Timestamp(sc.manifest["start"]) + pd.Timedelta(days=1)
    kinds = {i["kind"] for i in sc.manifest["incidents"]}
    assert kinds == {"covariate_drift", "concept_drift", "unit_change", "stale_feature",
                     "null_spike", "label_stop", "duplicates", "malformed"}
    for i in sc.manifest["incidents"]:
        if i["kind"] not in {"duplicates", "malformed"}:
            assert baseline_end <= pd.Timestamp(i["onset"]) < pd.Timestamp(sc.manifest["end"])


def test_feature_incidents_are_visible(sc: Scenario) -> None:
    unique = _unique(sc)
    eta = unique[unique["model_id"] == "eta"]
    after = eta["ts"] >= pd.Timestamp(_incident(sc, "unit_change")["onset"])
    ratio = eta.loc[after, "distance_km"].mean() / eta.loc[~after, "distance_km"].mean()
    assert 0.5 < ratio < 0.75
    stale = _incident(sc, "stale_feature")
    window = eta["ts"].between(pd.Timestamp(stale["onset"]), pd.Timestamp(stale["end"]),
                               inclusive="left")
    assert eta.loc[window, "courier_load"].nunique() == 1
    assert eta.loc[~window, "courier_load"].nunique() > 10
    fraud = unique[unique["model_id"] == "fraud"]
    spike = _incident(sc, "null_spike")
    window = fraud["ts"].between(pd.Timestamp(spike["onset"]), pd.Timestamp(spike["end"]),
                                 inclusive="left")
    assert 0.2 < fraud.loc[window, spike["column"]].isna().mean() < 0.6
    assert fraud.loc[~window, spike["column"]].notna().all()


def test_fraud_scores_are_calibrated_on_the_baseline_day() -> None:
    big = generate(seed=5, days=2, rows_per_hour=200, models=("fraud",))
    first = big.labels.drop_duplicates("inference_id", keep="first").set_index("inference_id")
    unique = _unique(big)
    day1 = unique[(unique["ts"] < pd.Timestamp(big.models["fraud"]["baseline"]["window"][1]))
                  & (unique["model_version"] == "v1")]
    y = first["label"].reindex(day1["inference_id"]).to_numpy()
    labelled = ~np.isnan(y)
    assert 0.04 < y[labelled].mean() < 0.15
    assert abs(y[labelled].mean() - day1["prediction"].to_numpy()[labelled].mean()) < 0.015


def test_malformed_rows_are_strings_with_reasons(sc: Scenario) -> None:
    bad = sc.malformed
    assert list(bad.columns) == list(sc.inferences.columns)
    assert all(dtype == np.dtype(object) for dtype in bad.dtypes)
    assert all(v is None or isinstance(v, str) for v in bad.to_numpy().ravel())
    reasons = {r["reason"] for r in sc.manifest["malformed_reasons"]}
    assert reasons == {"bad_model_id", "missing_inference_id", "unparseable_ts", "future_ts",
                       "bad_prediction", "bad_numeric_feature"}
    assert "../etc" in set(bad["model_id"]) and "yesterday" in set(bad["ts"])
    assert bad["inference_id"].isna().sum() == 2
    assert not set(bad["inference_id"].dropna()) & set(sc.inferences["inference_id"])


def test_write_round_trip(sc: Scenario, tmp_path: Path) -> None:
    paths = write(sc, tmp_path)
    parquet = [p for p in paths["inferences"] if p.suffix == ".parquet"]
    assert len(parquet) == SMALL["days"]
    assert tmp_path / "inferences_malformed.csv" in paths["inferences"]
    ts_type = pq.read_schema(parquet[0]).field("ts").type
    assert (ts_type.unit, str(ts_type.tz)) == ("us", "UTC")
    from_parquet = pd.concat([pd.read_parquet(p) for p in parquet], ignore_index=True)
    jsonl = [json.loads(line) for line in (tmp_path / "inferences_extra.jsonl").open()]
    assert 0 < len(jsonl) <= 20
    ids = pd.concat([from_parquet["inference_id"], pd.Series([r["inference_id"] for r in jsonl])])
    assert len(ids) == len(sc.inferences)
    assert sorted(ids) == sorted(sc.inferences["inference_id"])
    by_id = sc.inferences.set_index("inference_id")
    for row in jsonl[:3]:
        assert pd.Timestamp(row["ts"]) == by_id.loc[row["inference_id"], "ts"]
    labels = pd.concat([pd.read_parquet(p) for p in paths["labels"]], ignore_index=True)
    assert len(labels) == len(sc.labels)
    assert len(pd.read_csv(tmp_path / "inferences_malformed.csv")) == len(sc.malformed)
    assert json.loads((tmp_path / "manifest.json").read_text()) == sc.manifest
    for model_id, desc in sc.models.items():
        assert yaml.safe_load((tmp_path / "models" / f"{model_id}.yaml").read_text()) == desc


def test_conf_yaml_matches_default_scenario() -> None:
    for model_id in ("fraud", "eta"):
        desc = yaml.safe_load((CONF / f"{model_id}.yaml").read_text())
        assert desc == model_description(model_id)
    start = datetime(2026, 3, 2, tzinfo=timezone.utc)
    assert model_description("eta", start)["baseline"]["window"][1] == (
        (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert "threshold" not in model_description("eta")


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="fraud"):
        generate(days=1, models=("fraud", "churn"))
    with pytest.raises(ValueError, match="timezone"):
        generate(days=1, start=datetime(2026, 3, 2))
    with pytest.raises(TypeError):
        generate(days=1, models="fraud")
    with pytest.raises(ValueError):
        generate(days=0)
