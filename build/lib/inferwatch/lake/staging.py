"""Staged writes: a finished Spark write moved out of `_staging/` into the table's
partition folders, each file described as a Delta add action (record count and stats
from its footer). A kill before the commit leaves only files no commit references."""
from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake.transaction import AddAction

from inferwatch.lake import files as lf


def adopt(fs: pafs.FileSystem, root: str, staging: str, types: dict[str, str]
      ) -> list[AddAction]:
    """Move a finished Spark write out of staging and describe its files as add actions."""
    base = f"{root}/{staging}"
    selector = pa.fs.FileSelector(base, recursive=True)
    part_cols = list(types)
    adds = []
    now_ms = int(time.time() * 1000)
    for info in fs.get_file_info(selector):
        relative = info.path[len(base) + 1:]
        leaf = relative.rsplit("/", 1)[-1]
        if info.type != pa.fs.FileType.File or leaf.startswith(("_", ".")):
            continue
        records, stats = lf.parquet_stats(fs, info.path)
        if records == 0:
            continue
        # Spark's spelling of a value ("10:00:00.5") made canonical ("10:00:00.500000")
        # so that partition values compare as strings.
        values = {c: lf.format_partition_value(lf.parse_partition_value(v, types[c]))
                  for c, v in lf.hive_values(relative).items() if c in types}
        # Same folder naming as delta-rs (every special character %-escaped, non-ASCII
        # as UTF-8), which object stores and delta-rs read back; reads scan files whose
        # folders Spark would decode wrongly with the value from the log instead.
        folders = [f"{c}={lf.escape_partition_value(values.get(c))}" for c in part_cols]
        relative = "/".join(folders + [leaf])
        target = f"{root}/{relative}"
        fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
        fs.move(info.path, target)
        adds.append(AddAction(
            path=relative, size=info.size,
            partition_values={c: values.get(c) for c in part_cols},
            modification_time=now_ms, data_change=True, stats=stats,
        ))
    fs.delete_dir(base)
    return adds
