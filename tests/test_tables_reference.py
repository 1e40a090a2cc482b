"""`docs/tables.md` is the one tables reference: held to the code's column lists and to the
Delta tables a full pipeline run writes, so it cannot drift from either."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from deltalake import DeltaTable

from inferwatch import read
from inferwatch.model_config import load_models
from inferwatch.lake.schema import to_spark
from inferwatch.lake.tables import SPECS
from inferwatch.metrics import (baseline, domain, drift, drift_stats, fairness,
                                performance_state, profile)
from inferwatch.metrics.families import FAIRNESS_COLUMNS, PERFORMANCE_COLUMNS
from inferwatch.metrics.profile_metrics import PROFILE_COLUMNS
from inferwatch.metrics.window_store import PARTITION_BY
from inferwatch.quality.validate import QUALITY_SCHEMA

DOC = Path(__file__).resolve().parents[1] / "docs" / "tables.md"
FEATURES = "<features>"
WITH_FEATURES = ("raw/inferences", "inferences")
SECTION = re.compile(r"^## (\S+)\s*$")
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")


def parse(text: str) -> dict[str, dict]:
    """{table: {"partitioned": [...], "columns": [(name, type, meaning), ...]}}."""
    tables: dict[str, dict] = {}
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        heading = SECTION.match(line)
        if heading:
            name = heading.group(1)
            assert name not in tables, f"docs/tables.md:{number}: section {name} twice"
            current = tables[name] = {"partitioned": None, "columns": []}
        elif current is not None and line.startswith("Partitioned by:"):
            rest = line.split(":", 1)[1]
            current["partitioned"] = re.findall(r"`([^`]+)`", rest)
            assert current["partitioned"] or rest.strip().rstrip(".") == "none", line
        elif current is not None and ROW.match(line):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            assert len(cells) == 3, f"docs/tables.md:{number}: expected 3 cells: {line}"
            # nested types are in backticks, so that Markdown does not read `<double>` as HTML
            name, kind, meaning = cells[0].strip("`"), cells[1].strip("`"), cells[2]
            assert kind and meaning, f"docs/tables.md:{number}: {name} lacks type or meaning"
            current["columns"].append((name, kind, meaning))
    return tables


@pytest.fixture(scope="module")
def doc() -> dict[str, dict]:
    return parse(DOC.read_text())


def names(doc: dict, table: str) -> list[str]:
    return [c[0] for c in doc[table]["columns"] if c[0] != FEATURES]


def types(doc: dict, table: str) -> dict[str, str]:
    return {c[0]: c[1] for c in doc[table]["columns"] if c[0] != FEATURES}


def _state(schema) -> list[str]:
    return [*schema.fieldNames(), "granularity"]


def _kinds(schema) -> dict[str, str]:
    return {f.name: f.dataType.simpleString() for f in schema.fields}


# table -> (column names in code order, Spark type names where the code fixes them)
CODE = {
    **{name: (spec.schema.fieldNames(), _kinds(spec.schema)) for name, spec in SPECS.items()},
    "state/performance": (_state(performance_state.STATE_SCHEMA),
                          _kinds(performance_state.STATE_SCHEMA)),
    "state/fairness": (_state(fairness.STATE_SCHEMA), _kinds(fairness.STATE_SCHEMA)),
    "state/profile": (_state(profile.STATE_SCHEMA), _kinds(profile.STATE_SCHEMA)),
    "metrics/performance": (list(PERFORMANCE_COLUMNS), {}),
    "metrics/fairness": (list(FAIRNESS_COLUMNS), {}),
    "metrics/profile": (list(PROFILE_COLUMNS), {}),
    "metrics/drift": (drift.DRIFT_SCHEMA.fieldNames(), _kinds(drift.DRIFT_SCHEMA)),
    baseline.TABLE: (baseline.BASELINE_SCHEMA.fieldNames(), _kinds(baseline.BASELINE_SCHEMA)),
    domain.SAMPLE_TABLE: (domain.SAMPLE_SCHEMA.fieldNames(), _kinds(domain.SAMPLE_SCHEMA)),
    "metrics/multivariate_drift": (domain.RESULT_SCHEMA.fieldNames(),
                                   _kinds(domain.RESULT_SCHEMA)),
    "metrics/quality": (QUALITY_SCHEMA.fieldNames(), _kinds(QUALITY_SCHEMA)),
}
PARTITIONS = {
    **{name: list(spec.partition_by) for name, spec in SPECS.items()},
    **{name: PARTITION_BY for name in ("state/performance", "state/fairness", "state/profile",
                                       "metrics/performance", "metrics/fairness",
                                       "metrics/profile", "metrics/drift",
                                       "metrics/multivariate_drift", "metrics/quality")},
    # `metrics.baseline.store` creates the table with these (no constant to import)
    baseline.TABLE: ["model_id", "name"],
    domain.SAMPLE_TABLE: ["model_id", "name"],
}


def test_every_table_is_documented_once(doc):
    assert sorted(doc) == sorted(CODE) == sorted(read.TABLES)


@pytest.mark.parametrize("table", sorted(CODE))
def test_documented_columns_are_the_codes(doc, table):
    expected, kinds = CODE[table]
    documented = names(doc, table)
    assert documented == expected, (
        f"docs/tables.md `## {table}`: undocumented {sorted(set(expected) - set(documented))}, "
        f"not in the code {sorted(set(documented) - set(expected))} (order must follow the code)")
    has_features = any(c[0] == FEATURES for c in doc[table]["columns"])
    assert has_features == (table in WITH_FEATURES)
    wrong = {c: (t, kinds[c]) for c, t in types(doc, table).items()
             if c in kinds and t != kinds[c]}
    assert not wrong, f"{table}: documented type vs code type: {wrong}"
    assert doc[table]["partitioned"] == PARTITIONS[table], (
        f"{table}: documented partition columns {doc[table]['partitioned']}, "
        f"code {PARTITIONS[table]}")


def _delta_tables(root: Path) -> list[str]:
    return sorted(str(log.parent.relative_to(root)) for log in root.rglob("_delta_log"))


def test_written_tables_have_the_documented_columns(doc, scenario_lake):
    root = Path(scenario_lake)
    written = _delta_tables(root)
    assert set(written) == set(doc), "every table of a full run is documented, and written"
    models = load_models(root.parent / "input" / "models")
    features = {f for m in models.values() for f in m.features}
    numeric = {f for m in models.values() for f in m.numeric}
    problems = []
    for table in written:
        delta = DeltaTable(str(root / table))
        schema = to_spark(delta.schema())
        actual = schema.fieldNames()
        documented = names(doc, table)
        if table in WITH_FEATURES:
            extra = actual[len(documented):]
            if actual[:len(documented)] != documented or set(extra) != features:
                problems.append(f"{table}: {actual} != {documented} + features {sorted(features)}")
            odd = {c: schema[c].dataType.simpleString() for c in extra
                   if schema[c].dataType.simpleString() != ("double" if c in numeric else "string")}
            if odd:
                problems.append(f"{table}: feature columns of unexpected types {odd}")
        elif actual != documented:
            problems.append(f"{table}: written {actual}, documented {documented}")
        kinds = types(doc, table)
        wrong = {c: (kinds[c], schema[c].dataType.simpleString()) for c in kinds
                 if c in actual and kinds[c] != schema[c].dataType.simpleString()}
        if wrong:
            problems.append(f"{table}: documented vs written types {wrong}")
        partitioned = list(delta.metadata().partition_columns)
        if partitioned != doc[table]["partitioned"]:
            problems.append(f"{table}: partitioned by {partitioned}, documented "
                            f"{doc[table]['partitioned']}")
    assert not problems, "\n".join(problems)


def _ks_bound() -> float:
    """The `error_bound` `drift.score` gives a KS row (any two non-empty numeric sides)."""
    grid = [float(i) for i in range(len(drift_stats.QUANTILE_GRID))]
    side = {"n_finite": 100, "count": 100, "num_nulls": 0, "mean": 1.0, "m2": 1.0}
    row = {"kind": profile.NUMERIC, "edges": None, "iqr_r": [0.0, 1.0], "q_w": grid,
           "q_r": grid, **{f"{s}_{k}": v for s in ("w", "r") for k, v in side.items()}}
    return next(bound for metric, _v, bound, *_ in drift.score(row, {}) if metric == "ks")


def test_documented_constants_are_the_codes(doc):
    """The numbers the profile, drift and baseline sections quote are the code's."""
    text = DOC.read_text()
    quantiles = ", ".join(f"p{round(q * 100)}" for q in profile.QUANTILES)
    expected = [
        f"{quantiles} (`QUANTILES`",
        f"k = {profile.KLL_K}",
        f"lgConfigK = {profile.HLL_LG_K}",
        f"{profile.CATEGORY_CAP} (`CATEGORY_CAP`)",
        f"`{profile.OTHER}`",
        f"`column` = `{profile.TABLE_ROW}`",
        f"{profile.TOP_ITEMS} (`TOP_ITEMS`)",
        f"{drift.MIN_COUNT} (`MIN_COUNT`)",
        f"`ks` {_ks_bound():.4f} = ",
        f"{drift_stats.KLL_RANK_ERROR} each",
        f"h = {drift_stats.QUANTILE_GRID_GAP:g}",
        f"`BINS` = {baseline.BINS}, so {baseline.BINS - 1} edges",
        f"{baseline.MIN_CALIBRATION_WINDOWS} (`MIN_CALIBRATION_WINDOWS`)",
        f"{baseline.CALIBRATION_MARGIN} (`CALIBRATION_MARGIN`)",
        f"{baseline.FLOOR_SHARE} (`FLOOR_SHARE`)",
    ]
    missing = [phrase for phrase in expected if phrase not in text]
    assert not missing, f"docs/tables.md does not say (or no longer matches the code): {missing}"
    section = "\n".join(c[2] for c in doc["metrics/drift"]["columns"] if c[0] == "thresholds")
    for kind, defaults in drift.DEFAULT_THRESHOLDS.items():
        for metric, value in defaults.items():
            assert f"`{metric}`" in section, f"metrics/drift threshold: {kind} {metric}"
            if value != float("inf"):
                assert f"{value:g}" in section, f"metrics/drift threshold: {kind} {metric} {value}"
