"""Two lakes compared table by table, row for row: what one Spark wrote against what
another wrote from the same input.

Left out: what says when or by which process a row was written (run ids, wall-clock
`*_at` times, leases). Floats, also inside JSON and messages, are equal within 1e-9
relative (sums in another order differ in their last bits). Sketches are compared by what
they answer, not by their bytes (a KLL sketch's serialized items keep the order they came
in): a KLL sketch's count and its quantiles at ranks 0, 0.1, ..., 1, an HLL sketch's
estimate. The lakes must be small enough that no sketch has compacted (KLL keeps its first
200 items exactly); larger, two local runs differ too (randomized compaction).
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pandas as pd
from deltalake import DeltaTable

WHEN = {"run_id", "at", "owner", "pid", "process"}
PER_PROCESS = {"leases"}
# a decimal number in text (integers, ids and dates are compared as they are written)
NUMBER = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?|-?\d+[eE][-+]?\d+")
RANKS = [i / 10 for i in range(11)]
TOLERANCE = 1e-9


def tables(root: Path) -> list[str]:
    """Every Delta table under `root`, by its path relative to it."""
    found = []
    for folder, children, _ in os.walk(root):
        if "_delta_log" in children:
            found.append(os.path.relpath(folder, root))
            children[:] = []
    return sorted(found)


def _wall_clock(name: str, kind: str) -> bool:
    return name in WHEN or (name.endswith("_at") and "timestamp" in kind)


def _decoded(spark, frame: pd.DataFrame, column: str) -> list:
    """What each sketch of `column` answers (None for none), in the frame's order."""
    values = [(i, None if v is None else bytes(v)) for i, v in enumerate(frame[column])]
    if not values:
        return []
    sketches = spark.createDataFrame(values, "i long, s binary")
    if column == "hll":
        answer = "hll_sketch_estimate(s)"
    else:
        ranks = ", ".join(map(str, RANKS))
        answer = (f"struct(kll_sketch_get_n_double(s) AS n, IF(kll_sketch_get_n_double(s) = 0, "
                  f"NULL, kll_sketch_get_quantile_double(s, array({ranks}))) AS q)")
    rows = sketches.selectExpr("i", f"CASE WHEN s IS NULL THEN NULL ELSE {answer} END AS a")
    decoded = dict(rows.collect())
    return [None if decoded[i] is None else repr(tuple(decoded[i]) if column != "hll"
                                                 else decoded[i]) for i in range(len(values))]


def snapshot(spark, root: Path) -> dict[str, pd.DataFrame]:
    """Every table of the lake at `root` as pandas, without its wall-clock columns, its
    sketches replaced by what they answer, its JSON objects without their `*_at` keys."""
    out = {}
    for name in tables(root):
        if name in PER_PROCESS:
            continue
        table = DeltaTable(str(root / name))
        kinds = {f.name: str(f.type).lower() for f in table.schema().fields}
        frame = table.to_pandas(columns=[c for c, k in kinds.items() if not _wall_clock(c, k)])
        for column, kind in kinds.items():
            if column in frame and "binary" in kind:
                frame[column] = _decoded(spark, frame, column)
        out[name] = frame
    return out


def _plain(value):
    """A cell as comparable Python: JSON text parsed (its wall-clock keys dropped),
    arrays as lists, NaN, NaT and None alike."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()
                if not (k.endswith("_at") or k in WHEN)}
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return None if value is pd.NaT or (isinstance(value, float) and math.isnan(value)) \
        else value


def same(a, b) -> bool:
    """Equal, floats (also the numbers inside text) within TOLERANCE relative."""
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, str) and isinstance(b, str) and a != b:
        parts_a, parts_b = NUMBER.split(a), NUMBER.split(b)
        numbers_a, numbers_b = NUMBER.findall(a), NUMBER.findall(b)
        return (parts_a == parts_b and len(numbers_a) == len(numbers_b)
                and all(math.isclose(float(x), float(y), rel_tol=TOLERANCE, abs_tol=1e-12)
                        for x, y in zip(numbers_a, numbers_b)))
    return a == b


def _key(row: list) -> tuple[str, str]:
    """A sort key that rounds every float (also inside text) to 6 digits, so rows whose
    floats differ in their last bits sort alike; ties broken by the exact row."""
    exact = repr([_canonical(v) for v in row])
    return NUMBER.sub(lambda m: f"{float(m.group()):.6g}", exact), exact


def _canonical(value):
    """Floats as text with a decimal point (so the pattern sees them), maps by key."""
    if isinstance(value, float):
        return f"{value:.17e}"
    if isinstance(value, dict):
        return sorted((k, _canonical(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def differences(expected: pd.DataFrame, actual: pd.DataFrame, limit: int = 3) -> list[str]:
    """Up to `limit` lines saying how two snapshots of one table differ; none when equal."""
    if list(expected.columns) != list(actual.columns):
        return [f"columns {list(expected.columns)} != {list(actual.columns)}"]
    if len(expected) != len(actual):
        return [f"{len(expected)} rows != {len(actual)} rows"]
    rows = [sorted(([_plain(v) for v in row] for row in frame.itertuples(index=False)),
                   key=_key) for frame in (expected, actual)]
    found = []
    for a, b in zip(*rows):
        for column, x, y in zip(expected.columns, a, b):
            if not same(x, y):
                found.append(f"{column}: {str(x)[:300]} != {str(y)[:300]}")
                break
        if len(found) >= limit:
            break
    return found


def lake_differences(spark, expected: Path, actual: Path) -> dict[str, list[str]]:
    """Table -> how it differs between the two lakes (tables missing from one included);
    empty when the lakes hold the same rows."""
    left, right = snapshot(spark, expected), snapshot(spark, actual)
    found = {name: ["missing"] for name in left.keys() ^ right.keys()}
    for name in left.keys() & right.keys():
        if lines := differences(left[name], right[name]):
            found[name] = lines
    return found
