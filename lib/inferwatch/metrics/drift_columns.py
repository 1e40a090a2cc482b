"""Comparisons scored column by column: an Arrow batch of `drift.summaries` rows into
`metrics/drift` rows (`drift.DRIFT_SCHEMA`), what `drift.score` and `drift.compact`
give row by row (a test holds both equal on a scenario's comparisons).

Scoring a comparison row by row cost about 0.2 ms of Python (a fleet's first hourly run
compares 661,500 windows, slices and columns: 86 s on 2 cores), most of it turning each
row into a dict and judging each statistic apart. Here each statistic is an array over
the batch: the numeric ones from `drift_batch.numeric_columns`, the categorical ones from
`drift_categorical.categorical_columns` (per-row sums over the rows' categories), and every
threshold, flag and status as array operations; the calibrated thresholds are read out of
the rows' maps in one flattening.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from inferwatch.metrics import drift
from inferwatch.metrics.drift_batch import numeric_columns
from inferwatch.metrics.drift_categorical import categorical_columns, map_entries
from inferwatch.metrics.profile import NUMERIC
from inferwatch.model_settings.drift import (BOUNDED, DEFAULT_THRESHOLDS, MIN_COUNT,
                                             STATISTICS)

Limits = Mapping[str, Mapping[str, Mapping[str, float]]]
NULLS = "null_rate_delta"
# the output's key columns and the summary columns they come from
KEY_SOURCES = {"model_id": "model_id", "granularity": "granularity",
               "window_start": "w_window_start", "slice_key": "slice_key",
               "slice_value": "slice_value", "column": "column", "kind": "kind",
               "comparison": "comparison", "baseline": "name", "baseline_version": "version",
               "reference_start": "r_window_start"}


def scored_batch(batch: pa.RecordBatch, limits: Limits, schema: pa.Schema) -> pa.Table:
    """The `metrics/drift` rows (`schema`: `drift.DRIFT_SCHEMA` in Arrow) of a batch of
    summaries, judged by `limits` ({model_id: {column kind: {metric: threshold}}}; an
    hour's baseline comparison by its calibrated map on top)."""
    n = batch.num_rows
    kind = _text(batch, "kind")
    values = _statistics(batch, kind)
    fixed, per_scale = _limits(batch, kind, limits)
    judged = _judged(batch, values)
    label = _text(batch, "column") == drift.UNJUDGED_NULLS
    names = sorted(values)
    judged_any = np.zeros(n, dtype=bool)
    limit_at, flagged = np.zeros((n, len(names)), bool), np.zeros((n, len(names)), bool)
    limit_of = np.zeros((n, len(names)))
    out: dict[str, pa.Array] = {}
    for j, metric in enumerate(names):
        value, bound, computed = values[metric]
        threshold = _threshold(batch, metric, fixed[metric], per_scale[metric])
        if metric == NULLS:
            threshold = np.where(label, math.inf, threshold)
        finite = computed & np.isfinite(value)
        ok = judged[metric]
        if metric != NULLS:
            judged_any |= ok
        flagged[:, j] = ok & (np.abs(np.where(finite, value, 0.0)) > threshold)
        limit_at[:, j] = computed & np.isfinite(threshold)
        limit_of[:, j] = threshold
        out[metric] = pa.array(value, mask=~finite)
        if metric in BOUNDED:
            out[f"{metric}_error_bound"] = pa.array(
                bound, mask=~(computed & np.isfinite(bound)))
    columns = {**{k: batch.column(v) for k, v in KEY_SOURCES.items()}, **out,
               "thresholds": _lists(limit_at, names, limit_of),
               "drifted_metrics": _lists(flagged, names),
               "drifted": pa.array(flagged.any(axis=1)),
               "status": pa.array(np.where(judged_any, "ok", "insufficient_data")),
               "n": batch.column("w_count"), "n_reference": batch.column("r_count")}
    return pa.Table.from_arrays(
        [_as(columns.get(f.name), f.type, n) for f in schema], schema=schema)


def _statistics(batch: pa.RecordBatch, kind: np.ndarray
                ) -> dict[str, tuple[np.ndarray, np.ndarray | None, np.ndarray]]:
    """(value, bound, computed) of every statistic, per row."""
    n = batch.num_rows
    r_n, r_m2 = _numbers(batch, "r_n_finite", fill=0.0), _numbers(batch, "r_m2")
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.where((r_n > 1) & ~np.isnan(r_m2),
                       np.sqrt(np.maximum(r_m2, 0.0) / (r_n - 1)), np.nan)
    iqr = np.array([q[1] - q[0] if q is not None and len(q) else math.nan
                    for q in batch.column("iqr_r").to_numpy(zero_copy_only=False)])
    means = _known(batch, "w_mean") & _known(batch, "r_mean")
    values = numeric_columns(
        batch.column("q_w").to_numpy(zero_copy_only=False),
        batch.column("q_r").to_numpy(zero_copy_only=False), std, iqr,
        batch.column("edges").to_numpy(zero_copy_only=False),
        _numbers(batch, "w_mean"), _numbers(batch, "r_mean"), means)
    found = categorical_columns(batch.column("r_categories"), batch.column("w_categories"),
                                kind != NUMERIC)
    for metric, (value, computed) in found.items():
        if metric in values:  # js and psi: numeric rows have theirs
            old, bound, known = values[metric]
            values[metric] = (np.where(computed, value, old), bound, known | computed)
        else:
            values[metric] = (value, None, computed)
    rates = []
    for side in ("w", "r"):
        count = _numbers(batch, f"{side}_count", fill=0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(count != 0, _numbers(batch, f"{side}_num_nulls", fill=0.0)
                            / count, np.nan)
        if ((rate < 0) | (rate > 1)).any():
            raise ValueError(f"null rates must lie in [0, 1], got {rate[(rate < 0) | (rate > 1)][0]}")
        rates.append(rate)
    values[NULLS] = (rates[0] - rates[1], np.zeros(n), np.ones(n, dtype=bool))
    return values


def _limits(batch: pa.RecordBatch, kind: np.ndarray, limits: Limits
            ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per metric and row, the fixed threshold and the calibrated one per unit of
    `drift.null_scale` (nan: none): the model's for the row's column kind, an hour's
    baseline comparison's own map on top."""
    n = batch.num_rows
    metrics = set(STATISTICS)
    fixed = {m: np.full(n, math.inf) for m in metrics}
    per_scale = {m: np.full(n, np.nan) for m in metrics}
    model = _text(batch, "model_id")
    for model_id, k in sorted(set(zip(model, kind))):
        rows = (model == model_id) & (kind == k)
        for metric in metrics:
            fixed[metric][rows] = DEFAULT_THRESHOLDS[k].get(metric, math.inf)
        for key, value in limits[model_id][k].items():
            target = _target(key, fixed, per_scale)
            if target is not None:
                target[rows] = value
    own = (_text(batch, "comparison") == "baseline") & (_text(batch, "granularity") == "1h")
    parents, keys, items = map_entries(batch.column("thresholds"))
    items = pc.fill_null(items, math.nan).to_numpy(zero_copy_only=False)
    mine = own[parents]
    for key in set(keys[mine]):
        target = _target(key, fixed, per_scale)
        if target is not None:
            at = mine & (keys == key)
            target[parents[at]] = items[at]
    return fixed, per_scale


def _target(key: str, fixed: dict, per_scale: dict) -> np.ndarray | None:
    """The thresholds a key of a threshold map sets: `metric` a fixed one, `metric/scale`
    one per unit of chance scale; None for a key that names no statistic."""
    if key.endswith(drift.PER_SCALE):
        return per_scale.get(key[:-len(drift.PER_SCALE)])
    return fixed.get(key)


def scaled_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    """Per judged statistic of each row of a batch of summaries (`ok`, finite, a positive
    chance scale), its keys, `metric` and |value| / `drift.row_scale` (`schema`:
    `drift_scoring.SCALED` in Arrow): what calibration reduces to maxima."""
    values = _statistics(batch, _text(batch, "kind"))
    judged = _judged(batch, values)
    keys = [f.name for f in schema if f.name not in ("metric", "scaled")]
    parts = []
    for metric, (value, _bound, _computed) in sorted(values.items()):
        scale = _scale(batch, metric)
        at = np.flatnonzero(judged[metric] & (scale > 0))
        if at.size:
            taken = pa.array(at)
            parts.append(pa.Table.from_arrays(
                [*[batch.column(k).take(taken) for k in keys], pa.array([metric] * at.size),
                 pa.array(np.abs(value[at]) / scale[at])], schema=schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()


def _judged(batch: pa.RecordBatch, values: dict) -> dict[str, np.ndarray]:
    """Per statistic, the rows that judge it (`drift.score`'s `ok`): computed, finite, and
    `MIN_COUNT` values on both sides (rows, for a null rate)."""
    enough = _least(batch, "n_finite") >= MIN_COUNT
    rows_enough = _least(batch, "count") >= MIN_COUNT
    return {metric: (rows_enough if metric == NULLS else enough) & computed & np.isfinite(value)
            for metric, (value, _bound, computed) in values.items()}


def _scale(batch: pa.RecordBatch, metric: str) -> np.ndarray:
    """`drift.row_scale` per row: how far `metric` moves by chance between its sides
    (rows for a null rate, else values); nan without both."""
    size = "count" if metric == NULLS else "n_finite"
    w, r = _numbers(batch, f"w_{size}", fill=0.0), _numbers(batch, f"r_{size}", fill=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.where((w != 0) & (r != 0), 1.0 / w + 1.0 / r, np.nan)
    return spread if metric in drift.DIVERGENCES else np.sqrt(spread)


def _threshold(batch: pa.RecordBatch, metric: str, fixed: np.ndarray,
               per_scale: np.ndarray) -> np.ndarray:
    """`drift.threshold_of` per row: a calibrated per-scale threshold times the row's
    `null_scale` (never below the fixed one), else the fixed one."""
    scale = _scale(batch, metric)
    scaled = per_scale * scale
    use = ~np.isnan(per_scale) & np.isfinite(scale)
    return np.where(use & (scaled > fixed), scaled, fixed)


def _lists(at: np.ndarray, names: list[str], values: np.ndarray | None = None) -> pa.Array:
    """Per row, the `names` where `at` holds, in order: a list of them, or a map of them
    to `values` when given."""
    rows, cols = np.nonzero(at)
    offsets = pa.array(np.concatenate(([0], np.cumsum(at.sum(axis=1)))).astype(np.int32))
    keys = pa.array(np.asarray(names, dtype=object)[cols] if cols.size else [],
                    type=pa.string())
    if values is None:
        return pa.ListArray.from_arrays(offsets, keys)
    return pa.MapArray.from_arrays(offsets, keys, pa.array(values[rows, cols],
                                                           type=pa.float64()))


def _as(column, type_: pa.DataType, n: int) -> pa.Array:
    if column is None:
        return pa.nulls(n, type=type_)
    return column if column.type == type_ else column.cast(type_)


def _text(batch: pa.RecordBatch, name: str) -> np.ndarray:
    return np.asarray(batch.column(name).to_numpy(zero_copy_only=False), dtype=object)


def _numbers(batch: pa.RecordBatch, name: str, fill: float = math.nan) -> np.ndarray:
    column = batch.column(name)
    return pc.fill_null(column.cast(pa.float64()), fill).to_numpy(zero_copy_only=False)


def _known(batch: pa.RecordBatch, name: str) -> np.ndarray:
    return pc.is_valid(batch.column(name)).to_numpy(zero_copy_only=False)


def _least(batch: pa.RecordBatch, size: str) -> np.ndarray:
    """min(w_<size> or 0, r_<size> or 0) per row."""
    return np.minimum(_numbers(batch, f"w_{size}", fill=0.0),
                      _numbers(batch, f"r_{size}", fill=0.0))
