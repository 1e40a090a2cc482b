"""Staged writes: a finished Spark write moved out of `_staging/` into the table's
partition folders, each file described as a Delta add action (record count and stats
from its footer). A kill before the commit leaves only files no commit references."""
from __future__ import annotations

import functools
import hashlib
import time
import uuid
from collections.abc import Callable
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
# is known without a Spark job for a plan that reads what has a size (files, cached
# frames, driver rows given as Arrow, materialized states) through steps that yield at
# most the rows they read: the sum of the sizes bounds it. A materialized state's size
# is what the block manager holds of it (Spark estimates it as the plan that computed it:
# 10^12-10^44 bytes for a 40-row performance state; counting its rows first cost the
# performance job more than the driver's write saved). Else Spark's estimate bounds a
# plan over files, cached frames and Arrow rows without a join (the product of its
# sides) or a generator (a profile's ~30 rows a row). On crash_safety's 40-row lake the
# performance job took 4.0-4.7 s with Spark's writes of its states, 3.0-3.4 s with these.
DRIVER_WRITE_BYTES = 4 << 20
_SIZED = {"LogicalRelation", "InMemoryRelation", "LocalRelation"}
_STORED = "LogicalRDD"
# plan steps that yield at most the rows they read
_KEEPS_ROWS = {"Project", "Filter", "Union", "Window", "Sort", "Repartition",
               "RepartitionByExpression", "RebalancePartitions", "GlobalLimit", "LocalLimit",
               "Deduplicate", "Distinct", "SubqueryAlias", "ResolvedHint"}


def driver_rows(df) -> pa.Table | None:
    """`df`'s rows as Arrow when the driver can write them (see above), else None: Spark
    writes them. Always None over Spark Connect, which shows no plan."""
    jdf = getattr(df, "_jdf", None)
    if jdf is None:
        return None
    plan = jdf.queryExecution().optimizedPlan()
    size = _bound(plan, functools.cache(lambda: _stored(df)))
    if size is None and _estimated(df, plan):
        size = int(plan.stats().sizeInBytes())
    return df.toArrow() if size is not None and size <= DRIVER_WRITE_BYTES else None


def _bound(node, stored: Callable[[], dict[int, tuple[int, int]]]) -> int | None:
    """A bound of the bytes of `node`'s rows from the sizes of what it reads, for a plan of
    steps that yield at most the rows they read (projections widen a row by a few
    computed columns; a semi or anti join keeps rows of its left side); else None."""
    kind = node.getClass().getSimpleName()
    children = node.children()
    children = [children.apply(i) for i in range(children.size())]
    if kind == "Join" and node.joinType().toString() in ("LeftSemi", "LeftAnti"):
        children = children[:1]
    elif children and kind not in _KEEPS_ROWS:
        return None
    if not children:
        return _leaf_bytes(node, kind, stored)
    sizes = [_bound(child, stored) for child in children]
    return None if None in sizes else sum(sizes)


def _estimated(df, plan) -> bool:
    """Whether Spark's estimate of `plan` bounds its size: a plan over files, cached
    frames and driver rows, without a join (the product of its sides) or a generator
    (a profile's ~30 rows a row)."""
    leaves = plan.collectLeaves()
    if any(leaves.apply(i).getClass().getSimpleName() not in _SIZED
           for i in range(leaves.size())):
        return False
    patterns = df.sparkSession._jvm.org.apache.spark.sql.catalyst.trees.TreePattern
    return not (plan.containsPattern(patterns.JOIN())
                or plan.containsPattern(patterns.GENERATE()))


def _leaf_bytes(leaf, kind: str, stored: Callable[[], dict[int, tuple[int, int]]]
                ) -> int | None:
    """The bytes a leaf reads: its files', cached frame's or driver rows' size as Spark
    knows it, or for the stored rows of a `frames.materialized` frame (whose estimate is
    that of the plan that computed them) what the block manager holds of them."""
    if kind in _SIZED:
        return int(leaf.stats().sizeInBytes())
    if kind != _STORED:
        return None
    rdd = leaf.rdd()
    parts, size = stored().get(rdd.id(), (None, None))
    # not stored (rows from Python) or partly evicted: unknown
    return size if parts == rdd.getNumPartitions() else None


def _stored(df) -> dict[int, tuple[int, int]]:
    """{RDD id: (partitions stored, bytes in memory and on disk)} of the session's stored
    RDDs, read once a write (a plan over several materialized states asks for each)."""
    infos = df.sparkSession.sparkContext._jsc.sc().getRDDStorageInfo()
    return {info.id(): (info.numCachedPartitions(), int(info.memSize() + info.diskSize()))
            for info in infos}


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
