"""The contract tables: names, schemas and partitioning (DESIGN.md, "Tables").

Feature columns are not listed: they arrive with the data and merge into `raw/inferences`
and `inferences` as new nullable columns (numeric features as double, the rest string).
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from inferwatch.lake import Table
from inferwatch.lake.contract import RAW_TABLES
from inferwatch.lake.files import normalize_uri
from inferwatch.lake.storage import StorageSettings, arrow_filesystem


def _schema(*fields: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField(name, kind, True) for name, kind in fields])


S, D, TS, L, DT = T.StringType(), T.DoubleType(), T.TimestampType(), T.LongType(), T.DateType()

_TYPES = {"string": S, "double": D, "timestamp": TS, "date": DT}


def _raw(table: str) -> T.StructType:
    """A raw table's schema from the Spark-free contract the serving-side logger shares
    (`lake.contract`): the logger and the jobs write the same columns."""
    return _schema(*[(name, _TYPES[kind]) for name, kind in RAW_TABLES[table][0]])


RAW_INFERENCES = _raw("raw/inferences")
RAW_LABELS = _raw("raw/labels")
INFERENCES = _schema(
    ("inference_id", S), ("model_version", S), ("ts", TS), ("prediction", D),
    ("prediction_label", S), ("source", S), ("ingested_at", TS), ("model_id", S), ("hour", TS),
)
LABELS = _schema(
    ("inference_id", S), ("label", D), ("label_class", S), ("label_ts", TS), ("delay_s", D), ("ts", TS),
    ("source", S), ("ingested_at", TS), ("model_id", S), ("hour", TS),
)
LABELS_PENDING = _schema(
    ("inference_id", S), ("label", D), ("label_class", S), ("label_ts", TS), ("model_id", S),
    ("inference_ts", TS), ("source", S), ("ingested_at", TS), ("first_seen", TS), ("reason", S),
)
# inference_id → where it is stored, bucketed by a hash of the id: a label without hints
# reads only the buckets of its own ids, not the whole inference history.
INFERENCE_INDEX = _schema(
    ("inference_id", S), ("model_id", S), ("model_version", S), ("hour", TS), ("ts", TS),
    ("id_bucket", T.IntegerType()),
)
INDEX_BUCKETS = 32
QUARANTINE = _raw("quarantine")
# per (model_id, hour) of each partition run: what arrived for it (quality's duplicate and
# quarantine rates); `example_reason` is one quarantine reason of the hour
DELIVERIES = _schema(
    ("model_id", S), ("hour", TS), ("run_id", S), ("rows_new", L), ("rows_duplicate", L),
    ("rows_quarantined", L), ("example_reason", S),
)
# one row per alert (an incident of one model, kind and slice); see inferwatch.alerts
ALERTS = _schema(
    ("alert_id", S), ("model_id", S), ("kind", S), ("metric", S), ("column", S),
    ("slice_key", S), ("slice_value", S), ("granularity", S), ("status", S), ("severity", S),
    ("first_window", TS), ("opened_window", TS), ("last_window", TS), ("resolved_window", TS),
    ("peak_value", D),
    ("threshold", D), ("score", D), ("message", S), ("causes", S), ("hints", S),
    ("opened_at", TS), ("updated_at", TS), ("run_id", S),
)
ALERTS_OUTBOX = _schema(
    ("event_id", S), ("alert_id", S), ("model_id", S), ("record", S), ("event", S),
    ("payload", S), ("at", TS), ("delivered", T.BooleanType()), ("error", S),
)
JOB_RUNS = _schema(
    ("run_id", S), ("job", S), ("model_id", S), ("params", S), ("started_at", TS),
    ("ended_at", TS), ("status", S), ("rows_in", L), ("rows_out", L), ("rows_duplicate", L),
    ("rows_pending", L), ("rows_quarantined", L), ("input_versions", S), ("output_versions", S),
    ("hours_owed", S), ("error", S), ("details", S),
)
# one row per job: who holds its lease (`inferwatch.lake.lease`), replaced by each take
LEASES = _schema(
    ("job", S), ("owner", S), ("host", S), ("pid", L), ("process", S), ("acquired_at", TS),
    ("expires_at", TS), ("released_at", TS),
)


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: T.StructType
    partition_by: tuple[str, ...] = ()


SPECS = {
    spec.name: spec
    for spec in (
        TableSpec("raw/inferences", RAW_INFERENCES, tuple(RAW_TABLES["raw/inferences"][1])),
        TableSpec("raw/labels", RAW_LABELS, tuple(RAW_TABLES["raw/labels"][1])),
        TableSpec("inferences", INFERENCES, ("model_id", "hour")),
        TableSpec("labels", LABELS, ("model_id", "hour")),
        TableSpec("labels_pending", LABELS_PENDING),
        TableSpec("inference_index", INFERENCE_INDEX, ("id_bucket",)),
        TableSpec("quarantine", QUARANTINE, tuple(RAW_TABLES["quarantine"][1])),
        TableSpec("job_runs", JOB_RUNS),
        TableSpec("state/deliveries", DELIVERIES, ("model_id",)),
        TableSpec("alerts", ALERTS, ("model_id",)),
        TableSpec("alerts_outbox", ALERTS_OUTBOX, ("model_id",)),
        TableSpec("leases", LEASES, ("job",)),
    )
}


class Lake:
    """The lake root: hands out contract tables, creating them on first use."""

    def __init__(self, spark: SparkSession, root: str, storage: StorageSettings | None = None):
        self.spark = spark
        self.root = root.rstrip("/")
        self.storage = storage or StorageSettings({})
        self._tables: dict[str, Table] = {}

    def path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def table(self, name: str) -> Table:
        """The table `name`; a contract table is created (empty) on first use. One `Table`
        per name, so its snapshot is loaded once and then brought forward."""
        table = self._tables.get(name)
        if table is None:
            table = Table(self.spark, self.path(name), name=name, storage=self.storage)
            spec = SPECS.get(name)
            if spec is not None and not table.exists():
                table.create(spec.schema, spec.partition_by)
            if spec is not None or table.exists():
                self._tables[name] = table
        return table

    def names(self) -> list[str]:
        """Every Delta table under the root (`inferences`, `raw/labels`, `metrics/...`)."""
        fs, base = arrow_filesystem(self.storage, normalize_uri(self.root))
        found = []
        for depth1 in _dirs(fs, base):
            name = depth1.rsplit("/", 1)[-1]
            if name.startswith(("_", ".")):
                continue
            children = _dirs(fs, depth1)
            if any(c.endswith("/_delta_log") for c in children):
                found.append(name)
                continue
            found += [f"{name}/{c.rsplit('/', 1)[-1]}" for c in children
                      if any(g.endswith("/_delta_log") for g in _dirs(fs, c))]
        return sorted(found)


def _dirs(fs, path: str) -> list[str]:
    from pyarrow.fs import FileSelector, FileType

    try:
        infos = fs.get_file_info(FileSelector(path, allow_not_found=True))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [i.path for i in infos if i.type == FileType.Directory]
