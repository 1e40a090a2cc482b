"""A lake with a year of hourly history, built in minutes by writing the Delta logs directly.

`bench_year.py` uses it. Committing 8,760 hours through delta-rs one at a time takes
hours (3,000 commits took 18 minutes here), so the builder plays the hourly pipeline
forward in memory and writes what it would have left behind:

* `_delta_log/NNNNNNNNNNNNNNNNNNNN.json` commits exactly as `Table` (and, for
  `job_runs`, `write_deltalake`) writes them: commit 0 with protocol and metaData (the
  schema a real run of the jobs produced), then per hour the adds, removes and app
  transactions of ingest, partition, join-labels and performance, each with a
  `commitInfo`, its timestamp on that hour and the file's mtime set to it;
* the checkpoints and log cleanup delta-rs's post-commit hook leaves (a checkpoint
  every 100 commits, JSON commits kept 30 days): the JSON commits from the last 100th
  commit older than 30 days on, its checkpoint (made by delta-rs from a scratch log
  holding the table's state at that version: cleanup deleted the commits before it,
  and their tombstones expired), and delta-rs's checkpoint of the last 100th commit;
* data files hard-linked (os.link) from a few real Parquet files per table, each add's
  stats shifted to its own hour. Files the hourly jobs read hold rows consistent with
  their stats: every `inference_index` file (one file per hour, ts in that hour, ids
  that never equal a current one but sort among them, as UUIDs would) and every live `state/` and
  `metrics/` file (the rows a real run produced, shifted to each window of its span).
  Files no job reads (old `inferences`, `labels`, raw and `job_runs` files) share one
  shape per table whose rows lie at the start of the history.
* files replaced by later commits stay on disk (a lake nobody vacuumed), unless
  `dead_files=False`.

Per hour X of the history (one run of every job, at X + 1h):
ingest (raw/inferences, raw/labels, one file each, a unique app transaction each);
partition (`inferences`: one file per model for X; `inference_index`: one file per
bucket; daily a `quarantine` file); join-labels (`labels`: the partitions X - lag for
lag in LABEL_LAGS hours are replaced, as labels arrive minutes to weeks late;
`labels_pending` overwritten with the cursor); performance (per model one replace of
the day/week/month files of those hours in `state/performance` and
`metrics/performance`, and in the fairness tables for models with fairness rows); five
`job_runs` commits. The last hour's `job_runs` rows hold the real versions, so every
job resumes exactly where the history ends.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import deltalake
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import yaml
from deltalake import DeltaTable

from inferwatch.scenario.files import arrow_schema
from inferwatch import scenario
from inferwatch.lake import files as lf
from inferwatch.lake.tables import INDEX_BUCKETS
from inferwatch.granularity import GRANULARITIES, NAMES, truncate, window_end
from inferwatch.scenario.incidents import iso

HOUR = GRANULARITIES["1h"].step
DAY = GRANULARITIES["1d"].step
CHECKPOINT_INTERVAL = 100  # delta-rs default delta.checkpointInterval
LOG_RETENTION = timedelta(days=30)  # delta-rs default delta.logRetentionDuration
LABEL_LAGS = (0, 1, 36, 600)  # hours back whose labels each hourly run receives
MAX_LINKS = 30_000  # ext4 allows 65,000 links per inode; leave room for a `cp -al`
PERF_TABLES = ("state/performance", "metrics/performance")
FAIR_TABLES = ("state/fairness", "metrics/fairness")
JOB_KINDS = ("ingest-inferences", "ingest-labels", "partition", "join-labels", "performance")
ENGINE = {"engineInfo": f"delta-rs:py-{deltalake.__version__}",
          "clientVersion": f"delta-rs.py-{deltalake.__version__}"}
UTC = timezone.utc


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# -- the current hour's batch ----------------------------------------------------------
@dataclass
class Batch:
    hour: datetime
    inferences: Path
    labels: Path
    models_dir: Path
    n_inferences: int
    n_labels: int


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame, schema=arrow_schema(frame), preserve_index=False)
    pq.write_table(table, path, coerce_timestamps="us", allow_truncated_timestamps=True)


def make_batch(folder: Path, hour: datetime, models: Iterable[str], rows_per_hour: int,
               seed: int) -> Batch:
    """One hour of the demo scenario's raw inferences (with its re-sent duplicates) and
    every label of those inferences, as two Parquet files, plus the model YAMLs (the
    baseline window is that hour, so every lake reads the same baseline rows)."""
    made = scenario.generate(seed=seed, days=1, rows_per_hour=rows_per_hour,
                             models=tuple(models), start=hour)
    inf = made.inferences
    inf = inf[(inf["ts"] >= pd.Timestamp(hour)) & (inf["ts"] < pd.Timestamp(hour + HOUR))]
    labels = made.labels[made.labels["inference_id"].isin(set(inf["inference_id"]))]
    folder.mkdir(parents=True, exist_ok=True)
    _write_frame(inf, folder / "inferences.parquet")
    _write_frame(labels, folder / "labels.parquet")
    models_dir = folder / "models"
    models_dir.mkdir(exist_ok=True)
    for model_id, desc in made.models.items():
        desc = dict(desc, baseline={"window": [iso(hour), iso(hour + HOUR)]})
        (models_dir / f"{model_id}.yaml").write_text(yaml.safe_dump(desc, sort_keys=False))
    return Batch(hour, folder / "inferences.parquet", folder / "labels.parquet", models_dir,
                 len(inf), len(labels))


# -- what a real run left behind -------------------------------------------------------
class Template:
    """A lake the real jobs ran one hour on: schemas, rows and commit shapes to copy."""

    def __init__(self, root: Path, hour: datetime):
        self.root, self.hour = Path(root), hour

    def log_actions(self, name: str) -> list[dict]:
        folder = self.root / name / "_delta_log"
        actions = []
        for path in sorted(folder.glob("*.json")):
            actions += [json.loads(line) for line in path.read_text().splitlines() if line]
        return actions

    def meta(self, name: str) -> tuple[dict, dict]:
        protocol = metadata = None
        for action in self.log_actions(name):
            protocol = action.get("protocol", protocol)
            metadata = action.get("metaData", metadata)
        if protocol is None or metadata is None:
            raise RuntimeError(f"template lake has no table {name}")
        return protocol, metadata

    def rows(self, name: str, where: Callable[[dict], bool] | None = None) -> pa.Table | None:
        """Rows of the live files (no partition columns, as the files hold them)."""
        dt = DeltaTable(str(self.root / name))
        tables = []
        for add in pa.table(dt.get_add_actions(flatten=True)).to_pylist():
            parts = {k[len("partition."):]: v for k, v in add.items()
                     if k.startswith("partition.")}
            if where is None or where(parts):
                tables.append(pq.ParquetFile(self.root / name / unquote(add["path"])).read())
        if not tables:
            return None
        return pa.concat_tables(tables, promote_options="default")


# -- one table's history ---------------------------------------------------------------
@dataclass(eq=False)
class Source:
    """A real Parquet file that adds link to; its stats are shifted per add."""

    path: Path
    stats: dict
    size: int
    rows: int
    links: int = 0
    copies: int = 0


@dataclass(eq=False)
class DFile:
    rel: str  # path under the table root as on disk
    parts: dict[str, str | None]
    source: Source
    shift_us: int  # how far this file's stats lie after the source's
    mtime_ms: int
    removed: int | None = None


@dataclass
class Commit:
    ts: int
    op: str  # create | append | replace | overwrite | write (write_deltalake)
    adds: list[DFile] = field(default_factory=list)
    removes: list[DFile] = field(default_factory=list)
    txn: tuple[str, int] | None = None


class Log:
    def __init__(self, root: Path, name: str, template: Template, created: datetime,
                 delta_rs_writer: bool = False):
        self.name, self.path = name, root / name
        self.protocol, self.metadata = template.meta(name)
        self.metadata = dict(self.metadata, id=str(uuid.uuid4()), createdTime=ms(created))
        self.part_cols = list(self.metadata["partitionColumns"])
        schema = json.loads(self.metadata["schemaString"])
        self.ts_cols = {f["name"] for f in schema["fields"] if f["type"] == "timestamp"}
        self.delta_rs_writer = delta_rs_writer
        self.commits = [Commit(ms(created), "create")]
        self.live: dict[Any, list[DFile]] = {}
        self._stats_cache: dict[tuple[int, int], str] = {}

    @property
    def version(self) -> int:
        return len(self.commits) - 1

    def commit(self, ts: datetime, op: str, adds: list[DFile] = (),
               removes: list[DFile] = (), txn: tuple[str, int] | None = None) -> int:
        version = len(self.commits)
        for f in removes:
            f.removed = version
        self.commits.append(Commit(ms(ts), op, list(adds), list(removes), txn))
        return version

    def file(self, parts: dict[str, Any], source: Source, shift: timedelta, when: datetime,
             task: int = 0, write_id: str | None = None) -> DFile:
        values = {c: lf.format_partition_value(parts[c]) for c in self.part_cols}
        folders = "".join(f"{c}={lf.escape_partition_value(values[c])}/" for c in self.part_cols)
        write_id = write_id or str(uuid.uuid4())
        leaf = (f"part-{task:05d}-{write_id}-c000.snappy.parquet" if self.delta_rs_writer
                else f"part-{task:05d}-{write_id}.c000.snappy.parquet")
        return DFile(folders + leaf, values, source, shift // timedelta(microseconds=1), ms(when))

    def replace(self, key: Any, new: DFile | None) -> list[DFile]:
        """Make `new` the live file of `key`; return the files it replaces."""
        old = self.live.pop(key, [])
        if new is not None:
            self.live[key] = [new]
        return old

    # -- writing -------------------------------------------------------------------
    def checkpoints(self, now: datetime) -> tuple[int | None, int | None]:
        """(the checkpoint cleanup keeps: the last 100th commit older than the log
        retention, the last 100th commit), as delta-rs's post-commit hook leaves them."""
        cutoff = ms(now - LOG_RETENTION)
        aligned = range(CHECKPOINT_INTERVAL - 1, self.version + 1, CHECKPOINT_INTERVAL)
        kept = max((v for v in aligned if self.commits[v].ts <= cutoff), default=None)
        return kept, max(aligned, default=None)

    def _stats(self, f: DFile) -> str:
        key = (id(f.source), f.shift_us)
        text = self._stats_cache.get(key)
        if text is None:
            stats = dict(f.source.stats)
            if f.shift_us:
                for bound in ("minValues", "maxValues"):
                    stats[bound] = {k: (_shift_text(v, f.shift_us) if k in self.ts_cols else v)
                                    for k, v in stats[bound].items()}
            text = (json.dumps(stats, separators=(",", ":")) if self.delta_rs_writer
                    else json.dumps(stats))
            self._stats_cache[key] = text
        return text

    def _info(self, version: int, c: Commit) -> dict:
        if c.op == "create":
            return {"timestamp": c.ts, "operation": "CREATE TABLE", "operationParameters": {
                "metadata": json.dumps(self.metadata, separators=(",", ":")), "mode": "Ignore",
                "protocol": json.dumps(self.protocol, separators=(",", ":")),
                "location": f"file://{self.path}/"}, **ENGINE}
        if c.op == "write":
            rows = sum(f.source.rows for f in c.adds)
            return {"timestamp": c.ts, "operation": "WRITE",
                    "operationParameters": {"mode": "Append"}, **ENGINE,
                    "operationMetrics": {"num_added_files": len(c.adds), "num_removed_files": 0,
                                         "num_partitions": 0, "num_added_rows": rows,
                                         "execution_time_ms": 12, "num_retries": 0}}
        params = {"mode": "Append"}
        if self.part_cols:
            params["partitionBy"] = json.dumps(self.part_cols, separators=(",", ":"))
        return {"timestamp": c.ts, "operation": "WRITE", "operationParameters": params,
                "engineInfo": ENGINE["engineInfo"], "inferwatch.read_version": str(version - 1),
                "clientVersion": ENGINE["clientVersion"], "inferwatch.operation": c.op,
                "inferwatch.commit_id": uuid.uuid4().hex}

    def _lines(self, version: int, c: Commit, adds: list[DFile] | None = None,
               txns: dict[str, int] | None = None) -> str:
        lines = [{"commitInfo": self._info(version, c)}]
        if c.op == "create":
            lines += [{"protocol": self.protocol}, {"metaData": self.metadata}]
        lines += [{"add": {
            "path": f.rel.replace("%", "%25"), "partitionValues": f.parts,
            "size": f.source.size, "modificationTime": f.mtime_ms, "dataChange": True,
            "stats": self._stats(f), "tags": None, "baseRowId": None,
            "defaultRowCommitVersion": None, "clusteringProvider": None}}
            for f in (c.adds if adds is None else adds)]
        if adds is None:
            lines += [{"remove": {
                "path": f.rel.replace("%", "%25"), "dataChange": True,
                "deletionTimestamp": c.ts, "extendedFileMetadata": True,
                "partitionValues": f.parts, "size": f.source.size}} for f in c.removes]
        for app, app_version in ({c.txn[0]: c.txn[1]} if c.txn and txns is None
                                 else txns or {}).items():
            lines.append({"txn": {"appId": app, "version": app_version}})
        return "\n".join(json.dumps(line, separators=(",", ":")) for line in lines) + "\n"

    def write_log(self, now: datetime) -> int:
        """Write the log as delta-rs's hooks leave it after a year: the JSON commits from
        the kept checkpoint on (cleanup deleted the older ones) and that checkpoint. The
        checkpoint's content depends only on the table's state at its version (live
        files, each app's last transaction; the tombstones of older commits expired a
        week after them), so it is made by delta-rs from a two-commit scratch log holding
        exactly that state, instead of replaying every commit before it. Returns the
        JSON files written."""
        folder = self.path / "_delta_log"
        folder.mkdir(parents=True, exist_ok=True)
        (self.path / "_staging").mkdir(exist_ok=True)
        kept, _ = self.checkpoints(now)
        first = 0 if kept is None else kept
        for version in range(first, len(self.commits)):
            c = self.commits[version]
            path = folder / f"{version:020d}.json"
            path.write_text(self._lines(version, c))
            os.utime(path, (c.ts / 1000, c.ts / 1000))
        if kept is not None:
            self._kept_checkpoint(kept)
        return len(self.commits) - first

    def _kept_checkpoint(self, kept: int) -> None:
        live, txns = [], {}
        for version in range(kept + 1):
            c = self.commits[version]
            live += [f for f in c.adds if f.removed is None or f.removed > kept]
            if c.txn is not None:
                txns[c.txn[0]] = c.txn[1]
        scratch = self.path.parent / f".{self.path.name}-checkpoint"
        shutil.rmtree(scratch, ignore_errors=True)
        (scratch / "_delta_log").mkdir(parents=True)
        (scratch / "_delta_log" / f"{0:020d}.json").write_text(self._lines(0, self.commits[0]))
        (scratch / "_delta_log" / f"{1:020d}.json").write_text(
            self._lines(1, self.commits[kept], adds=live, txns=txns))
        DeltaTable(str(scratch), version=1).create_checkpoint()
        folder = self.path / "_delta_log"
        target = folder / f"{kept:020d}.checkpoint.parquet"
        shutil.move(scratch / "_delta_log" / f"{1:020d}.checkpoint.parquet", target)
        hint = json.loads((scratch / "_delta_log" / "_last_checkpoint").read_text())
        (folder / "_last_checkpoint").write_text(json.dumps(dict(hint, version=kept)))
        stamp = self.commits[kept].ts / 1000
        os.utime(target, (stamp, stamp))
        shutil.rmtree(scratch)

    def link_files(self, dead_files: bool) -> int:
        made: set[Path] = set()
        linked = 0
        for c in self.commits:
            for f in c.adds:
                if f.removed is not None and not dead_files:
                    continue
                target = self.path / f.rel
                if target.parent not in made:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    made.add(target.parent)
                src = f.source
                if src.links >= MAX_LINKS:  # a fresh inode: ext4 caps links per inode
                    src.copies += 1
                    fresh = src.path.with_name(f"{src.path.stem}.{src.copies}.parquet")
                    shutil.copy2(src.path, fresh)
                    src.path, src.links = fresh, 0
                os.link(src.path, target)
                src.links += 1
                linked += 1
        return linked

    def checkpoint(self, now: datetime) -> tuple[int | None, int | None, int]:
        """The last 100th commit's checkpoint (delta-rs, from the kept one and the JSON
        commits after it)."""
        kept, last = self.checkpoints(now)
        if last is not None and last != kept:
            DeltaTable(str(self.path), version=last).create_checkpoint()
        return kept, last, len(list((self.path / "_delta_log").glob("*.json")))


def _shift_text(text: Any, shift_us: int) -> Any:
    """A Delta stats timestamp ("...T10:11:16.330923Z" or "...297Z") moved by shift_us."""
    if not isinstance(text, str) or not text.endswith("Z"):
        return text
    body = text[:-1]
    digits = len(body.rsplit(".", 1)[1]) if "." in body else 0
    moved = datetime.fromisoformat(body) + timedelta(microseconds=shift_us)
    out = moved.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        out += "." + f"{moved.microsecond:06d}"[:digits]
    return out + "Z"


# -- sources ---------------------------------------------------------------------------
class Sources:
    """Real Parquet files written once (pyarrow, timestamps as UTC microseconds) in a
    scratch folder on the lake's filesystem, linked into the tables, then deleted."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._fs = pafs.LocalFileSystem()
        self.written = 0

    def write(self, table: pa.Table, mtime: datetime) -> Source:
        path = self.folder / f"{self.written:07d}.parquet"
        self.written += 1
        pq.write_table(table, path, compression="snappy")
        stamp = mtime.timestamp()
        os.utime(path, (stamp, stamp))
        records, stats = lf.parquet_stats(self._fs, str(path))
        return Source(path, json.loads(stats), path.stat().st_size, records)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def shifted(table: pa.Table, delta: timedelta, suffix: str | None = None) -> pa.Table:
    """Every timestamp column moved by `delta`; `inference_id`s given `suffix`: they then
    never equal a current id but sort among them, as random (UUID) ids do, so an index
    file's id range does not rule the current ids out."""
    shift = delta // timedelta(microseconds=1)
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type):
            moved = pc.add(table.column(i).cast(pa.int64()), shift).cast(f.type)
            table = table.set_column(i, f, moved)
        elif suffix is not None and f.name == "inference_id":
            ids = pc.binary_join_element_wise(table.column(i), pa.scalar(suffix), "")
            table = table.set_column(i, f, ids.cast(f.type))
    return table


def _timestamps(table: pa.Table, column: str) -> list[datetime]:
    return [v for v in table.column(column).to_pylist() if v is not None]


# -- the lake --------------------------------------------------------------------------
@dataclass
class BuildReport:
    hours: int
    seconds: dict[str, float]
    tables: dict[str, dict[str, Any]]
    files_linked: int
    sources_written: int


def _state_windows(granularity: str, first: datetime, last_hour: datetime) -> list[datetime]:
    """Every window of `granularity` the history computed (hours first..last_hour)."""
    step = truncate(first, granularity)
    out = []
    while step <= last_hour:
        out.append(step)
        step = window_end(step, granularity)
    return out


def build(root: Path, template: Template, hour: datetime, days: int, now: datetime,
          dead_files: bool = True, say: Callable[[str], None] = print) -> BuildReport:
    """Write a lake at `root` holding `days` x 24 hours of history ending at `hour`
    (exclusive), as the hourly pipeline would have left it."""
    t_all = time.perf_counter()
    seconds: dict[str, float] = {}
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    n_hours = days * 24
    start = hour - n_hours * HOUR
    created = start + HOUR
    models = _template_models(template)
    with_fairness = _fairness_models(template)
    tables = ["raw/inferences", "raw/labels", "quarantine", "inferences", "inference_index",
              "labels", "labels_pending", "job_runs", *PERF_TABLES,
              *(FAIR_TABLES if with_fairness else ())]
    logs = {name: Log(root, name, template, created, delta_rs_writer=(name == "job_runs"))
            for name in tables}
    sources = Sources(root.parent / f".{root.name}-sources")

    # -- sources: the shapes of files no job reads, content at `start` ----------------
    t0 = time.perf_counter()
    back = start - hour  # template rows (at `hour`) moved to the history's start
    base = start + HOUR

    def shape(name: str, where=None) -> Source:
        rows = template.rows(name, where)
        if rows is None:
            raise RuntimeError(f"the template run left no rows in {name}")
        return sources.write(shifted(rows, back, "-old"), base)

    raw_inf, raw_lab = shape("raw/inferences"), shape("raw/labels")
    inf_src = {m: shape("inferences", lambda p, m=m: p["model_id"] == m) for m in models}
    lab_src = {m: shape("labels", lambda p, m=m: p["model_id"] == m) for m in models}
    pend_src = sources.write(_pending_rows(template, back), base)
    quar_src = sources.write(_quarantine_rows(template, start), base)
    runs = template.rows("job_runs")
    runs_by_kind = {k: runs.filter(pc.equal(runs.column("job"), k)) for k in JOB_KINDS}
    missing = [k for k, t in runs_by_kind.items() if t.num_rows == 0]
    if missing:
        raise RuntimeError(f"the template run recorded no job_runs rows for {missing}")
    runs_base = {k: min(_timestamps(t, "started_at")) for k, t in runs_by_kind.items()}
    runs_src = {k: sources.write(shifted(t, start - runs_base[k]), base)
                for k, t in runs_by_kind.items()}

    # inference_index: one file per hour (rows at that hour, a 32nd of the template's
    # index rows, ids unique to the hour), linked into every bucket
    index_rows = template.rows("inference_index")
    n_index = index_rows.num_rows
    chunks = []
    for c in range(INDEX_BUCKETS):
        picks = list(range(c, n_index, INDEX_BUCKETS)) or [c % n_index]
        chunks.append(index_rows.take(picks))
    seconds["shapes"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    index_src = []
    for i in range(n_hours):
        x = start + i * HOUR
        index_src.append(sources.write(
            shifted(chunks[i % INDEX_BUCKETS], x - hour, f"-h{i:05d}"), x + HOUR))
    seconds["index files"] = time.perf_counter() - t0

    # state/ and metrics/: the final content of every file span, real rows per window
    t0 = time.perf_counter()
    last_hour = hour - HOUR
    state_src: dict[tuple, Source] = {}
    family_tables = {m: list(PERF_TABLES) + (list(FAIR_TABLES) if m in with_fairness
                                            else []) for m in models}
    for m in models:
        for name in family_tables[m]:
            for g in NAMES:
                rows = template.rows(name, lambda p, m=m, g=g: p == {"model_id": m,
                                                                     "granularity": g})
                if rows is None:
                    raise RuntimeError(f"the template run left no {g} rows for {m} in {name}")
                w0 = truncate(hour, g)
                spans: dict[datetime, list[datetime]] = {}
                for w in _state_windows(g, start, last_hour):
                    spans.setdefault(truncate(w, GRANULARITIES[g].file_span), []).append(w)
                for span, windows in spans.items():
                    content = pa.concat_tables([shifted(rows, w - w0) for w in windows])
                    state_src[(name, m, g, span)] = sources.write(
                        content, min(window_end(windows[-1], g) + HOUR, now))
    seconds["state files"] = time.perf_counter() - t0

    # -- the hourly cycles -------------------------------------------------------------
    t0 = time.perf_counter()
    final_runs: dict[str, DFile] = {}
    for i in range(n_hours):
        x = start + i * HOUR
        at = Clock(x + HOUR + timedelta(seconds=60))
        last = i == n_hours - 1

        def run_row(kind: str, when: datetime, last: bool = last) -> None:
            log = logs["job_runs"]
            f = log.file({}, runs_src[kind], when - start, when)
            log.commit(when, "write", [f])
            if last:
                final_runs[kind] = f

        # ingest
        for name, src, kind in (("raw/inferences", raw_inf, "ingest-inferences"),
                                ("raw/labels", raw_lab, "ingest-labels")):
            when = at()
            log = logs[name]
            f = log.file({"ingest_date": when.date()}, src, x - start, when)
            log.commit(when, "append", [f], txn=(f"{kind}-{uuid.uuid4().hex[:16]}", 1))
            run_row(kind, at())
        # partition
        raw_v = logs["raw/inferences"].version
        if x.hour == 0:  # a few quarantined rows a day
            when = at()
            log = logs["quarantine"]
            f = log.file({"table": "raw/inferences", "ingest_date": when.date()}, quar_src,
                         x - start, when)
            log.commit(when, "append", [f], txn=("partition:raw/inferences", raw_v))
        when = at()
        log = logs["inferences"]
        write_id = str(uuid.uuid4())
        adds = [log.file({"model_id": m, "hour": x}, inf_src[m], x - start, when, k, write_id)
                for k, m in enumerate(models)]
        inf_v = log.commit(when, "append", adds, txn=("partition:raw/inferences", raw_v))
        when = at()
        log = logs["inference_index"]
        write_id = str(uuid.uuid4())
        adds = [log.file({"id_bucket": b}, index_src[i], timedelta(0), when, b, write_id)
                for b in range(INDEX_BUCKETS)]
        log.commit(when, "append", adds, txn=("index:inferences", inf_v))
        run_row("partition", at())
        # join-labels
        when = at()
        log = logs["labels"]
        write_id = str(uuid.uuid4())
        adds, removes = [], []
        for m in models:
            for lag in LABEL_LAGS:
                h = x - lag * HOUR
                if h < start:
                    continue
                f = log.file({"model_id": m, "hour": h}, lab_src[m], h - start, when,
                             len(adds), write_id)
                removes += log.replace((m, h), f)
                adds.append(f)
        log.commit(when, "replace", adds, removes)
        when = at()
        log = logs["labels_pending"]
        new = None if last else log.file({}, pend_src, x - start, when)
        log.commit(when, "overwrite", [new] if new else [], log.replace("pending", new),
                   txn=("join-labels:raw/labels", logs["raw/labels"].version))
        run_row("join-labels", at())
        # performance
        hours = sorted({x - lag * HOUR for lag in LABEL_LAGS if x - lag * HOUR >= start})
        spans = sorted({(g.name, truncate(g.truncate(h), g.file_span))
                        for h in hours for g in GRANULARITIES.values()})
        for m in models:
            for name in family_tables[m]:
                when = at()
                log = logs[name]
                write_id = str(uuid.uuid4())
                adds, removes = [], []
                for k, (g, span) in enumerate(spans):
                    f = log.file({"model_id": m, "granularity": g}, state_src[(name, m, g, span)],
                                 timedelta(0), when, k, write_id)
                    removes += log.replace((m, g, span), f)
                    adds.append(f)
                log.commit(when, "replace", adds, removes)
        run_row("performance", at())
    seconds["simulate"] = time.perf_counter() - t0

    # the last hour's job_runs rows: the real versions every job resumes from
    finals = {name: log.version for name, log in logs.items()}
    for kind, f in final_runs.items():
        rows = shifted(runs_by_kind[kind], datetime.fromtimestamp(f.mtime_ms / 1000, UTC)
                       - runs_base[kind])
        f.source = sources.write(_with_versions(rows, finals), now)
        f.shift_us = 0

    t0 = time.perf_counter()
    written = {name: log.write_log(now) for name, log in logs.items()}
    seconds["log JSON"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    linked = sum(log.link_files(dead_files) for log in logs.values())
    seconds["data links"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report_tables = {}
    for name, log in logs.items():
        t1 = time.perf_counter()
        kept, last_cp, json_left = log.checkpoint(now)
        report_tables[name] = {"versions": log.version + 1, "json_written": written[name],
                               "json_kept": json_left, "checkpoints": (kept, last_cp),
                               "checkpoint_s": time.perf_counter() - t1}
        say(f"  {name:<20} {log.version + 1:>7,} commits, checkpoints {kept}/{last_cp}, "
            f"{json_left:,} JSON kept ({time.perf_counter() - t1:.1f}s)")
    seconds["checkpoints"] = time.perf_counter() - t0
    n_sources = sources.written
    sources.remove()
    seconds["total"] = time.perf_counter() - t_all
    return BuildReport(n_hours, seconds, report_tables, linked, n_sources)


class Clock:
    """The moments of one hourly cycle's commits, two seconds apart."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=2)
        return self.now


def _fairness_models(template: Template) -> set[str]:
    path = template.root / "state/fairness"
    if not DeltaTable.is_deltatable(str(path)):
        return set()
    actions = pa.table(DeltaTable(str(path)).get_add_actions(flatten=True))
    return set(actions.column("partition.model_id").to_pylist())


def _template_models(template: Template) -> list[str]:
    dt = DeltaTable(str(template.root / "inferences"))
    actions = pa.table(dt.get_add_actions(flatten=True))
    return sorted(set(actions.column("partition.model_id").to_pylist()))


def _with_versions(rows: pa.Table, versions: dict[str, int]) -> pa.Table:
    """job_runs rows whose input/output versions name the tables' final versions."""
    for column in ("input_versions", "output_versions"):
        values = []
        for text in rows.column(column).to_pylist():
            found = json.loads(text) if text else {}
            values.append(json.dumps({k: versions.get(k, v) for k, v in found.items()}))
        index = rows.schema.get_field_index(column)
        rows = rows.set_column(index, rows.schema.field(index), pa.array(values, pa.string()))
    index = rows.schema.get_field_index("hours_owed")
    return rows.set_column(index, rows.schema.field(index),
                           pa.array(["[]"] * rows.num_rows, pa.string()))


def _arrow_type(kind: str) -> pa.DataType:
    return {"string": pa.string(), "double": pa.float64(), "long": pa.int64(),
            "integer": pa.int32(), "date": pa.date32(),
            "timestamp": pa.timestamp("us", tz="UTC")}[kind]


def _data_schema(template: Template, name: str) -> pa.Schema:
    _, metadata = template.meta(name)
    parts = set(metadata["partitionColumns"])
    fields = json.loads(metadata["schemaString"])["fields"]
    return pa.schema([pa.field(f["name"], _arrow_type(f["type"])) for f in fields
                      if f["name"] not in parts])


def _pending_rows(template: Template, back: timedelta) -> pa.Table:
    """Three waiting labels (labels_pending's columns), ids of no inference."""
    raw = shifted(template.rows("raw/labels"), back, "-pending").slice(0, 3).to_pylist()
    schema = _data_schema(template, "labels_pending")
    rows = [{f.name: r.get(f.name) for f in schema} for r in raw]
    for r in rows:
        r["first_seen"], r["reason"] = r.get("ingested_at"), None
    return pa.Table.from_pylist(rows, schema=schema)


def _quarantine_rows(template: Template, at: datetime) -> pa.Table:
    schema = _data_schema(template, "quarantine")
    rows = [{"row": json.dumps({"inference_id": f"q{k}-old", "model_id": "fraud",
                                "ts": "not a time"}),
             "reason": "ts does not parse as a timestamp", "job": "partition",
             "run_id": "0123456789ab", "quarantined_at": at} for k in range(2)]
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows],
                                schema=schema)


# -- facts about a lake ----------------------------------------------------------------
def table_facts(path: Path) -> dict[str, Any]:
    """Live files, partitions, the most files in one partition, JSON commits kept."""
    if not DeltaTable.is_deltatable(str(path)):
        return {}
    dt = DeltaTable(str(path))
    actions = pa.table(dt.get_add_actions(flatten=True))
    parts = list(dt.metadata().partition_columns)
    columns = [actions.column(f"partition.{c}").to_pylist() for c in parts]
    counts = Counter(zip(*columns)) if parts else Counter({(): actions.num_rows})
    log = Path(path) / "_delta_log"
    return {"version": dt.version(), "files": actions.num_rows,
            "partitions": len(counts) if actions.num_rows else 0,
            "max_per_partition": max(counts.values(), default=0),
            "json": len(list(log.glob("*.json"))),
            "checkpoint_mb": sum(p.stat().st_size for p in log.glob("*.checkpoint*.parquet"))
            / 1e6}
