"""`docs/tables.md` is the one tables reference: held to the code's column lists and to the
Delta tables a full pipeline run writes, so it cannot drift from either."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from deltalake import DeltaTable

from inferwatch import read
from inferwatch.config import load_models
from inferwatch.lake.schema import to_spark
from inferwatch.lake.tables import SPECS
from inferwatch.metrics import fairness, performance_state
from inferwatch.metrics.families import FAIRNESS_COLUMNS, PERFORMANCE_COLUMNS
from inferwatch.metrics.windows import PARTITION_BY

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
            name, kind, meaning = cells[0].strip("`"), cells[1], cells[2]
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


# table -> (column names in code order, Spark type names where the code fixes them)
CODE = {
    **{name: (spec.schema.fieldNames(),
              {f.name: f.dataType.simpleString() for f in spec.schema.fields})
       for name, spec in SPECS.items()},
    "state/performance": (_state(performance_state.STATE_SCHEMA),
                          {f.name: f.dataType.simpleString()
                           for f in performance_state.STATE_SCHEMA.fields}),
    "state/fairness": (_state(fairness.STATE_SCHEMA),
                       {f.name: f.dataType.simpleString() for f in fairness.STATE_SCHEMA.fields}),
    "metrics/performance": (list(PERFORMANCE_COLUMNS), {}),
    "metrics/fairness": (list(FAIRNESS_COLUMNS), {}),
}
PARTITIONS = {
    **{name: list(spec.partition_by) for name, spec in SPECS.items()},
    **{name: PARTITION_BY for name in ("state/performance", "state/fairness",
                                       "metrics/performance", "metrics/fairness")},
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
