"""Staged writes: a finished Spark write moved out of `_staging/` into the table's
partition folders, each file described as a Delta add action (record count and stats
from its footer). A kill before the commit leaves only files no commit references."""
from __future__ import annotations

import hashlib
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake.transaction import AddAction

from inferwatch.lake import files as lf

THREADS = 16
# a staging folder level that is no partition of the table: the span of a clustered
# write (`Table.replace_files`), one file each; adopted into the partition's folder
SPAN = "_file_span"


# A write the driver can hold is collected and written by `stage_arrow`: for the rows of
# a small hourly run (an ingest's raw rows and quarantine, a partition's inferences) a
# Spark write (a shuffle to one file per partition, a task commit each, a job commit)
# took 0.2-0.45 s a table and this 0.04-0.08 s, with the same files, partition values,
# statistics and rows (tests/lake/test_driver_writes.py). Which writes are that small
# is known without a Spark job only for a plan over files, cached frames and driver-side
# rows: their sizes are real, Spark's estimate of the plan over them then a bound,
# unless a join (the product of its sides) or a generator (a profile's ~30 rows a row)
# is in it. A plan over materialized states (`frames.materialized`) is estimated from
# the plan that computed them, a useless bound: Spark writes it. (Counting its rows
# first cost the performance job on 40 rows more than the driver's write saved.)
DRIVER_WRITE_BYTES = 4 << 20
_SIZED = {"LogicalRelation", "InMemoryRelation", "LocalRelation"}


def driver_rows(df) -> pa.Table | None:
    """`df`'s rows as Arrow when the driver can write them (see above), else None: Spark
    writes them. Always None over Spark Connect, which shows no plan."""
    jdf = getattr(df, "_jdf", None)
    if jdf is None:
        return None
    plan = jdf.queryExecution().optimizedPlan()
    leaves = plan.collectLeaves()
    kinds = {leaves.apply(i).getClass().getSimpleName() for i in range(leaves.size())}
    if kinds <= _SIZED and not _multiplies(df, plan) \
            and int(plan.stats().sizeInBytes()) <= DRIVER_WRITE_BYTES:
        return df.toArrow()
    return None


def _multiplies(df, plan) -> bool:
    """Whether `plan` holds a join or a generator, which may yield more rows than read."""
    patterns = df.sparkSession._jvm.org.apache.spark.sql.catalyst.trees.TreePattern
    return bool(plan.containsPattern(patterns.JOIN())
                or plan.containsPattern(patterns.GENERATE()))


def stage_arrow(fs: pafs.FileSystem, root: str, staging: str, data: pa.Table,
                partition_by: list[str]) -> None:
    """Write driver-side rows into `staging` as Spark would (Hive folders, one file per
    partition), for `adopt`: a fleet's few alert rows in 100 model partitions took a
    Spark write 3 s, a Parquet writer per file."""
    import pyarrow.dataset as ds

    fields = [data.schema.field(c) for c in partition_by]
    fs.create_dir(f"{root}/{staging}", recursive=True)  # also for no rows, as Spark does
    ds.write_dataset(
        data, f"{root}/{staging}", filesystem=fs, format="parquet",
        partitioning=ds.partitioning(pa.schema(fields), flavor="hive") if fields else None,
        basename_template=f"part-{uuid.uuid4().hex}-{{i}}.snappy.parquet",
        file_options=ds.ParquetFileFormat().make_write_options(compression="snappy"),
        existing_data_behavior="error")


def adopt(fs: pafs.FileSystem, root: str, staging: str, types: dict[str, str]
      ) -> list[AddAction]:
    """Move a finished Spark write out of staging and describe its files as add actions.
    A write of many partitions (a backfill: thousands of hours) has as many files, each
    a footer read and a move: they run `THREADS` at a time (I/O waits, on object stores
    above all)."""
    base = f"{root}/{staging}"
    found = [info for info in fs.get_file_info(pa.fs.FileSelector(base, recursive=True))
             if info.type == pa.fs.FileType.File
             and not info.path.rsplit("/", 1)[-1].startswith(("_", "."))]
    now_ms = int(time.time() * 1000)
    with ThreadPoolExecutor(THREADS) as pool:
        adds = [a for a in pool.map(lambda info: _adopt_file(fs, root, base, info, types, now_ms),
                                    found) if a is not None]
    fs.delete_dir(base)
    return adds


def _adopt_file(fs: pafs.FileSystem, root: str, base: str, info: pa.fs.FileInfo,
                types: dict[str, str], now_ms: int) -> AddAction | None:
    records, stats = lf.parquet_stats(fs, info.path)
    if records == 0:
        return None
    relative = info.path[len(base) + 1:]
    leaf = relative.rsplit("/", 1)[-1]
    span = [s for s in relative.split("/")[:-1] if s.startswith(f"{SPAN}=")]
    if span:  # a task's files of two spans of one partition share their leaf's name
        leaf = f"{hashlib.sha1(span[0].encode()).hexdigest()[:12]}-{leaf}"
    # Spark's spelling of a value ("10:00:00.5") made canonical ("10:00:00.500000")
    # so that partition values compare as strings.
    values = {c: lf.format_partition_value(lf.parse_partition_value(v, types[c]))
              for c, v in lf.hive_values(relative).items() if c in types}
    # Same folder naming as delta-rs (every special character %-escaped, non-ASCII
    # as UTF-8), which object stores and delta-rs read back; reads scan files whose
    # folders Spark would decode wrongly with the value from the log instead.
    relative = "/".join([f"{c}={lf.escape_partition_value(values.get(c))}" for c in types]
                        + [leaf])
    target = f"{root}/{relative}"
    fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
    fs.move(info.path, target)
    return AddAction(path=relative, size=info.size,
                     partition_values={c: values.get(c) for c in types},
                     modification_time=now_ms, data_change=True, stats=stats)
