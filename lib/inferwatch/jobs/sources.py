"""Where the partition job's raw inferences come from: `raw/inferences` (files and records
ingest wrote, the serving-side logger's flushes) and each model's `inferences_table` (a
Delta table another system writes, read in place by its versions, `lake.foreign`).

A source is read from a cursor version to a latest one, as one batch: its rows in the
types `raw/inferences` stores them, the count of rows the log says were added (apart
from the rows read, for the run's accounting) and the rows ingest's rules refused (a
foreign table's rows are checked here, as ingest checks a file's)."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.context import Context
from inferwatch.ingest.contract import unsafe_names, unsafe_names_refused
from inferwatch.ingest.rules import REASON, quarantine_rows
from inferwatch.ingest.tables import accepted, checked_rows
from inferwatch.lake.foreign import ForeignTable
from inferwatch.lake.scan import column as quoted
from inferwatch.model_config import ModelConfig
from inferwatch.runs import Run

RAW = "raw/inferences"


@dataclass
class Batch:
    rows: DataFrame  # typed as raw/inferences holds them
    logged: int | None  # rows the log says were added; None when it does not say
    refused: DataFrame | None = None  # quarantine rows of what ingest's rules refused
    refused_count: int = 0
    release: Callable[[], None] = field(default=lambda: None)


class RawLog:
    """`raw/inferences`."""

    def __init__(self, ctx: Context):
        self.table = ctx.lake.table(RAW)
        self.key, self.name, self.app = RAW, RAW, f"partition:{RAW}"

    def version(self) -> int:
        return self.table.version()

    def batch(self, since: int | None, latest: int, job: Run) -> Batch:
        # rows in are counted from the log's add actions, apart from the files read, so a
        # file the read missed fails the accounting instead of going unnoticed
        added = self.table.added_files(since, latest)
        return Batch(safe_columns(self.table.read_files(added, latest), job),
                     self.table.added_records(since, latest))


class TableLog:
    """A model's `inferences_table`: rows of the versions after the cursor, deletion
    vectors and column mapping applied, checked by ingest's rules."""

    def __init__(self, ctx: Context, model: ModelConfig):
        self.ctx, self.model = ctx, model
        self.key = self.name = model.inferences_table
        self.app = f"partition:{model.model_id}:{model.inferences_table}"

    @cached_property
    def table(self) -> ForeignTable:  # opened on first use: a bad URI fails this model only
        return ForeignTable(self.ctx.spark, self.model.inferences_table,
                            storage=self.ctx.lake.storage,
                            name=f"inferences_table of model {self.model.model_id}")

    def version(self) -> int:
        return self.table.version()

    def batch(self, since: int | None, latest: int, job: Run) -> Batch:
        new = self.table.new_files(since, latest)
        counts = [n.rows for n in new]
        rows = safe_columns(self.table.read_new(new, latest), job)
        where = f"{self.name} (version {latest})"
        checked = checked_rows(rows, self.model, self.ctx.models, where).persist()
        bad = checked.where(F.col(REASON).isNotNull())
        originals = [c for c in checked.columns if c != REASON]
        return Batch(accepted(checked, self.ctx.models, job.started_at, self.name),
                     None if None in counts else sum(counts),
                     quarantine_rows(bad, self.name, job.job, job.run_id, originals),
                     bad.count(), checked.unpersist)


def sources(ctx: Context) -> list[RawLog | TableLog]:
    """`raw/inferences`, then each model's inferences table, by model id."""
    tables = [TableLog(ctx, m) for _, m in sorted(ctx.models.items()) if m.inferences_table]
    return [RawLog(ctx), *tables]


def safe_columns(batch: DataFrame, job: Run) -> DataFrame:
    """The raw rows without columns whose names ingest refuses (`.` or a backtick, taken
    for a struct field by every later job): a raw table that holds one (written before the
    rule, or by another writer) must not stop partition for every model."""
    unsafe = unsafe_names(batch.columns)
    if not unsafe:
        return batch
    job.notes.append(f"raw columns left out of inferences: {unsafe} "
                     f"({unsafe_names_refused(unsafe)})")
    return batch.select(*[quoted(c) for c in batch.columns if c not in unsafe])
