"""Where the partition and join-labels jobs' raw rows come from: `raw/inferences` and
`raw/labels` (files and records ingest wrote, the serving-side logger's flushes), and each
model's `inferences_table` / `labels_table` (a Delta table another system writes, read in
place by its versions, `lake.foreign`).

A source is read from a cursor version to a latest one, as one batch: its rows in the
types the raw table stores them, the count of rows the log says were added (apart from
the rows read, for the run's accounting) and the rows ingest's rules refused (a foreign
table's rows are checked here, as ingest checks a file's). Each source has its own
cursor and its own Delta app transaction id (`app`), so a killed run resumes each where
it stopped."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from inferwatch.context import Context
from inferwatch.ingest.contract import KINDS, unsafe_names, unsafe_names_refused
from inferwatch.ingest.rules import REASON, quarantine_rows
from inferwatch.ingest.tables import accepted, checked_rows
from inferwatch.lake.foreign import ARRIVED, ForeignTable
from inferwatch.lake.scan import column as quoted
from inferwatch.model_config import ModelConfig
from inferwatch.runs import FAILED, PARTIAL, Run

JOBS = {"inferences": "partition", "labels": "join-labels"}


@dataclass
class Batch:
    rows: DataFrame  # typed as the raw table holds them
    logged: int | None  # rows the log says were added; None when it does not say
    files: int  # data files read (0: nothing new)
    refused: DataFrame | None = None  # quarantine rows of what ingest's rules refused
    refused_count: int = 0
    release: Callable[[], None] = field(default=lambda: None)


class RawLog:
    """`raw/inferences` or `raw/labels`."""

    def __init__(self, ctx: Context, kind: str):
        self.table = ctx.lake.table(KINDS[kind]["table"])
        self.key = self.name = KINDS[kind]["table"]
        self.app = f"{JOBS[kind]}:{self.name}"

    def version(self) -> int:
        return self.table.version()

    def batch(self, since: int | None, latest: int, job: Run) -> Batch:
        # rows in are counted from the log's add actions, apart from the files read, so a
        # file the read missed fails the accounting instead of going unnoticed
        added = self.table.added_files(since, latest)
        return Batch(safe_columns(self.table.read_files(added, latest), job),
                     self.table.added_records(since, latest) if added else 0, len(added))


class TableLog:
    """A model's `inferences_table` or `labels_table`: rows of the versions after the
    cursor, deletion vectors and column mapping applied, checked by ingest's rules."""

    def __init__(self, ctx: Context, model: ModelConfig, kind: str):
        self.ctx, self.model, self.kind = ctx, model, kind
        self.key = self.name = getattr(model, f"{kind}_table")
        self.app = f"{JOBS[kind]}:{model.model_id}:{self.name}"

    @cached_property
    def table(self) -> ForeignTable:  # opened on first use: a bad URI fails this model only
        return ForeignTable(self.ctx.spark, self.name, storage=self.ctx.lake.storage,
                            name=f"{self.kind}_table of model {self.model.model_id}")

    def version(self) -> int:
        return self.table.version()

    def batch(self, since: int | None, latest: int, job: Run) -> Batch:
        new = self.table.new_files(since, latest)
        counts = [n.rows for n in new]
        rows = safe_columns(self.table.read_new(new, latest), job)
        where = f"{self.name} (version {latest})"
        checked = checked_rows(rows, self.kind, self.model, self.ctx.models, where).persist()
        bad = checked.where(F.col(REASON).isNotNull())
        originals = [c for c in checked.columns if c not in (REASON, ARRIVED)]
        return Batch(accepted(checked, self.kind, self.ctx.models, job.started_at, self.name),
                     None if None in counts else sum(counts), len(new),
                     quarantine_rows(bad, self.name, job.job, job.run_id, originals),
                     bad.count(), checked.unpersist)


def sources(ctx: Context, kind: str) -> list[RawLog | TableLog]:
    """The raw table of `kind`, then each model's table of that kind, by model id."""
    tables = [TableLog(ctx, m, kind) for _, m in sorted(ctx.models.items())
              if getattr(m, f"{kind}_table")]
    return [RawLog(ctx, kind), *tables]


def consume_each(ctx: Context, job: Run, kind: str,
                 consume: Callable[[Run, RawLog | TableLog], None]) -> None:
    """`consume(run, source)` for each source of `kind`: the raw table as the job's own
    row, each model's table as that model's row, whose failure (a table unreadable,
    refused, moved) is recorded there and never stops the others; the job is then
    partial, its raw cursor moving."""
    for source in sources(ctx, kind):
        if isinstance(source, RawLog):
            consume(job, source)
            continue
        part = job.for_model(source.model.model_id)
        try:
            consume(part, source)
        except Exception as err:  # noqa: BLE001 - recorded as that model's failure
            part.fail(err)
    if any(p.status == FAILED for p in job.models.values()):
        job.status = PARTIAL


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
