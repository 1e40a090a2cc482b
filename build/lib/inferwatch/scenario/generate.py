"""Deterministic synthetic inference and label logs with known, injected incidents.

``generate`` simulates two models (``fraud``: calibrated binary classifier with a
champion/challenger split; ``eta``: delivery-time regression) with daily seasonality,
then injects incidents (see :mod:`inferwatch.scenario.incidents`) and records them in a
manifest, so later pipeline stages can be scored against ground truth. ``write`` lays the
scenario out as the raw files the ingestion job reads.

    >>> sc = generate(seed=7, days=2, rows_per_hour=30)
    >>> paths = write(sc, "/tmp/scenario")
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from inferwatch.scenario import incidents as inc
from inferwatch.scenario.incidents import US_PER_HOUR, iso

SUPPORTED_MODELS = ("fraud", "eta")
DEFAULT_START = datetime(2026, 3, 2, tzinfo=timezone.utc)
FRAUD_THRESHOLD = 0.3
JSONL_ROWS = 20

_FEATURES = {
    "fraud": {
        "numeric": ["amount", "distance_km", "account_age_days", "n_tx_24h", "ip_risk"],
        "categorical": ["country", "merchant_type", "device", "gender"],
    },
    "eta": {
        "numeric": ["distance_km", "items", "prep_time_min", "courier_load"],
        "categorical": ["city", "vehicle"],
    },
}
# value -> (frequency, effect: logit for fraud, minutes or km/h for eta)
_COUNTRY = {"US": (.42, 0), "GB": (.16, .1), "DE": (.12, -.2), "BR": (.11, .4), "IN": (.08, .3),
            "FR": (.07, -.1), "MX": (.04, .5)}
_MERCHANT = {"grocery": (.35, -.6), "restaurants": (.2, -.4), "fashion": (.15, 0),
             "electronics": (.12, .7), "travel": (.1, .4), "gaming": (.08, .9)}
_DEVICE = {"mobile": (.6, 0), "desktop": (.33, -.2), "tablet": (.07, .1)}
_GENDER = {"F": (.48, 0), "M": (.48, 0), "X": (.04, 0)}
_CITY = {"Lisbon": (.4, 3), "Porto": (.25, 2), "Madrid": (.2, 4), "Sevilla": (.1, 1),
         "Braga": (.05, 0)}
_VEHICLE = {"bike": (.5, 14), "scooter": (.35, 22), "car": (.15, 25)}
_PEAK_HOUR = {"fraud": 14, "eta": 19}
_AGE_MEDIAN = 400.0  # what the fraud model imputes for a missing account_age_days


@dataclass
class Scenario:
    """A generated scenario: valid rows (with duplicates), malformed rows, labels, truth."""

    inferences: pd.DataFrame
    malformed: pd.DataFrame
    labels: pd.DataFrame
    manifest: dict
    models: dict[str, dict]


def model_description(model_id: str, start: datetime = DEFAULT_START) -> dict:
    """The model description (the content of ``conf/models/<model_id>.yaml``).

    The baseline window is the scenario's first day, before any incident.
    """
    _check_models([model_id])
    window = [iso(start), iso(start + timedelta(days=1))]
    desc: dict = {"model_id": model_id}
    if model_id == "fraud":
        desc.update(problem_type="binary_classification", prediction="prediction",
                    threshold=FRAUD_THRESHOLD, label="is_fraud")
        slices = ["country", "amount > 1000"]
        protected = ["gender"]
    else:
        desc.update(problem_type="regression", prediction="prediction", label="delivery_minutes")
        slices, protected = ["city", "vehicle"], []
    desc["features"] = {k: list(v) for k, v in _FEATURES[model_id].items()}
    desc.update(slices=slices, protected=protected, baseline={"window": window},
                drift={"numeric": "psi", "categorical": "js", "threshold": 0.2},
                alerts={"webhook": None, "min_severity": "warning"})
    return desc


def _check_models(models: Sequence[str]) -> None:
    unknown = [m for m in models if m not in SUPPORTED_MODELS]
    if unknown or not models:
        raise ValueError(f"unknown model(s) {unknown or '(none given)'}; supported: {SUPPORTED_MODELS}")


def _choice(rng: np.random.Generator, table: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw categorical values by frequency; return (values, their effects)."""
    keys = np.array(list(table), dtype=object)
    probs = np.array([v[0] for v in table.values()])
    codes = rng.choice(len(keys), size=n, p=probs / probs.sum())
    return keys[codes], np.array([v[1] for v in table.values()])[codes]


def _traffic(rng: np.random.Generator, model_id: str, hours: int, start_us: int, rph: int):
    """Sorted timestamps (us) with Poisson counts on a daily sine; and each row's season."""
    hod = (np.arange(hours) + start_us // US_PER_HOUR) % 24
    season_h = np.sin(2 * np.pi * (hod - _PEAK_HOUR[model_id] + 6) / 24)
    counts = rng.poisson(rph * (1 + 0.6 * season_h))
    hour = np.repeat(np.arange(hours), counts)
    ts_us = np.sort(start_us + hour * US_PER_HOUR + rng.integers(0, US_PER_HOUR, len(hour)))
    return ts_us, season_h[(ts_us - start_us) // US_PER_HOUR]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _fraud_logit(f: pd.DataFrame, cat_effect: np.ndarray) -> np.ndarray:
    age = f["account_age_days"].fillna(_AGE_MEDIAN).to_numpy()
    return (-3.7 + 0.8 * np.log(f["amount"].to_numpy() / 70) + 0.3 * np.log1p(f["distance_km"].to_numpy())
            - 0.35 * np.log1p(age / 30) + 0.15 * f["n_tx_24h"].to_numpy()
            + 3.0 * f["ip_risk"].to_numpy() + cat_effect)


def _simulate_fraud(rng, f: pd.DataFrame, season, incidents, start_us):
    """Fraud features, scores and true labels (Bernoulli of the true probability)."""
    n = len(f)
    f["amount"] = np.round(rng.lognormal(np.log(70) + 0.15 * season, 1.1, n), 2)
    f["distance_km"] = np.round(rng.lognormal(np.log(6), 1.3, n), 2)
    f["account_age_days"] = np.floor(rng.lognormal(np.log(_AGE_MEDIAN), 1.2, n))
    f["n_tx_24h"] = rng.poisson(2.0, n).astype(np.float64)
    f["ip_risk"] = np.round(rng.beta(2, 8, n), 3)
    effect = np.zeros(n)
    for col, table in (("country", _COUNTRY), ("merchant_type", _MERCHANT),
                       ("device", _DEVICE), ("gender", _GENDER)):
        f[col], eff = _choice(rng, table, n)
        effect += eff
    inc.apply_world(f, incidents, start_us)
    true_logit = _fraud_logit(f, effect)
    for i in incidents:
        if i.kind == "concept_drift":
            true_logit += np.where(inc.slice_mask(f, i, f["ts_us"].to_numpy(), start_us),
                                   i.params["logit_shift"], 0.0)
    y = (rng.random(n) < _sigmoid(true_logit)).astype(np.float64)
    inc.apply_pipeline(f, incidents, start_us, rng)
    logit = _fraud_logit(f, effect)
    challenger = rng.random(n) < 0.2
    v2 = _sigmoid(1.1 * logit + 0.15 + rng.normal(0, 0.3, n))
    f["model_version"] = np.where(challenger, "v2", "v1")
    f["prediction"] = np.round(np.where(challenger, v2, _sigmoid(logit)), 6)
    f["prediction_label"] = np.where(f["prediction"] >= FRAUD_THRESHOLD, "1", "0").astype(object)
    return y


def _eta_minutes(f: pd.DataFrame, city_eff: np.ndarray, speed: np.ndarray) -> np.ndarray:
    travel = f["distance_km"].to_numpy() / speed * 60 * (1 + 0.35 * f["courier_load"].to_numpy())
    return 4 + f["prep_time_min"].to_numpy() + travel + city_eff


def _simulate_eta(rng, f: pd.DataFrame, season, incidents, start_us):
    """ETA features, the model's estimate and the true delivery minutes."""
    n = len(f)
    f["distance_km"] = np.round(rng.lognormal(np.log(3.2), 0.6, n), 2)
    f["items"] = (1 + rng.poisson(1.6, n)).astype(np.float64)
    f["prep_time_min"] = np.round(5 + 1.5 * f["items"] + rng.gamma(2, 2, n), 1)
    f["courier_load"] = np.round(rng.gamma(8, 1 / 8, n) * (1 + 0.1 * season), 2)
    f["city"], city_eff = _choice(rng, _CITY, n)
    f["vehicle"], speed = _choice(rng, _VEHICLE, n)
    inc.apply_world(f, incidents, start_us)
    y = np.round(_eta_minutes(f, city_eff, speed) * rng.lognormal(0, 0.15, n), 1)
    inc.apply_pipeline(f, incidents, start_us, rng)
    f["model_version"] = "v1"
    f["prediction"] = np.round(_eta_minutes(f, city_eff, speed), 2)
    f["prediction_label"] = pd.Series([None] * n, dtype=object)
    return y


_SIMULATORS = {"fraud": _simulate_fraud, "eta": _simulate_eta}


def _columns(models: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """(all columns in order, numeric features, categorical features) for ``models``."""
    numeric, categorical = [], []
    for m in models:
        numeric += [c for c in _FEATURES[m]["numeric"] if c not in numeric]
        categorical += [c for c in _FEATURES[m]["categorical"] if c not in categorical]
    head, tail = ["inference_id", "model_id", "model_version", "ts"], ["prediction", "prediction_label"]
    return head + numeric + categorical + tail, numeric, categorical


def _to_utc(ts_us: np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(ts_us).astype("datetime64[us]")).dt.tz_localize("UTC")


def _validate(seed, days, rows_per_hour, models, start) -> tuple[tuple[str, ...], datetime]:
    for name, value in (("seed", seed), ("days", days), ("rows_per_hour", rows_per_hour)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {value!r}")
    if days < 1 or rows_per_hour < 1:
        raise ValueError(f"days and rows_per_hour must be >= 1, got {days}, {rows_per_hour}")
    if isinstance(models, str):
        raise TypeError(f"models must be a sequence of model ids, got the string {models!r}")
    models = tuple(dict.fromkeys(models))
    _check_models(models)
    if not isinstance(start, datetime) or start.tzinfo is None:
        raise ValueError(f"start must be a timezone-aware datetime, got {start!r}")
    start = start.astimezone(timezone.utc)
    if (start.minute, start.second, start.microsecond) != (0, 0, 0):
        raise ValueError(f"start must be on a whole hour, got {start.isoformat()}")
    return models, start


def generate(
    seed: int = 7,
    days: int = 7,
    rows_per_hour: int = 200,
    models: Sequence[str] = ("fraud", "eta"),
    start: datetime = DEFAULT_START,
) -> Scenario:
    """Simulate ``days`` of inferences and labels for ``models``, deterministic by ``seed``.

    ``rows_per_hour`` is the mean per model per hour (a daily sine modulates it by +-60%).
    Each model draws from its own generator seeded by (seed, model id). See the module
    docstring of :mod:`inferwatch.scenario.incidents` for what gets injected.
    """
    models, start = _validate(seed, days, rows_per_hour, models, start)
    start_us = int(pd.Timestamp(start).value // 1000)
    incidents = inc.plan_incidents(models, days)
    columns, numeric, categorical = _columns(models)
    frames, label_frames = [], []
    for model in models:
        rng = np.random.default_rng([seed, zlib.crc32(model.encode())])
        ts_us, season = _traffic(rng, model, 24 * days, start_us, rows_per_hour)
        f = pd.DataFrame({"ts_us": ts_us, "model_id": model})
        f["inference_id"] = [f"{model}-{i:09d}" for i in range(len(f))]
        mine = [i for i in incidents if i.model_id == model]
        y = _SIMULATORS[model](rng, f, season, mine, start_us)
        label_frames.append(inc.simulate_labels(model, f, y, mine, start_us, rng))
        f["ts"] = _to_utc(ts_us)
        frames.append(f)
    unique = pd.concat(frames, ignore_index=True).sort_values(["ts_us", "inference_id"])
    unique = unique.reindex(columns=columns).reset_index(drop=True)
    for col in numeric + ["prediction"]:
        unique[col] = unique[col].astype(np.float64)
    for col in categorical + ["prediction_label", "model_version"]:
        unique[col] = unique[col].astype(object).where(unique[col].notna(), None)

    rng = np.random.default_rng([seed, 0])
    dup_pos = inc.pick_duplicates(len(unique), rng)
    inferences = pd.concat([unique, unique.iloc[dup_pos]], ignore_index=True)
    first_numeric = {m: _FEATURES[m]["numeric"][0] for m in models}
    malformed, reasons = inc.make_malformed(unique, first_numeric, rng)
    labels = (pd.concat(label_frames, ignore_index=True)
              .sort_values(["label_ts", "inference_id"], kind="stable").reset_index(drop=True))

    end = start + timedelta(days=days)
    entries = [i.to_manifest(start) for i in incidents]
    entries += inc.delivery_entries(unique["model_id"].to_numpy()[dup_pos], models,
                                    len(malformed), start, end)
    manifest = {
        "seed": int(seed), "start": iso(start), "end": iso(end), "days": int(days),
        "rows_per_hour": int(rows_per_hour), "models": list(models),
        "counts": {
            "inferences_unique": len(unique), "duplicates": len(dup_pos),
            "malformed": len(malformed), "labels": len(labels),
            "label_corrections": int(labels["inference_id"].duplicated().sum()),
            "never_labelled": len(unique) - int(labels["inference_id"].nunique()),
        },
        "malformed_reasons": reasons,
        "incidents": entries,
    }
    descriptions = {m: model_description(m, start) for m in models}
    return Scenario(inferences, malformed, labels, manifest, descriptions)
