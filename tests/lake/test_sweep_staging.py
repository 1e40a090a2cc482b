"""The staging sweep never removes a running write's folder: one whose folder was made
within the retention though its files are older (a file's time may not move while its
first bytes are written), or one whose age is unknown (an object store's folders have no
time, and a write there has no file to show until its first upload completes)."""
from __future__ import annotations

import os
import time

import pyarrow.fs as pafs
from fsspec.implementations.local import LocalFileSystem

from inferwatch.lake import Table
from inferwatch.lake.maintenance import sweep_folders, sweep_staging


def _age(path, hours: float) -> None:
    old = time.time() - hours * 3600
    os.utime(path, (old, old))


def _write(path, data: bytes = b"PAR1") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_a_folder_made_within_the_retention_stays_whatever_its_files_say(spark, tmp_path):
    table = Table(spark, str(tmp_path / "t"))
    staging = tmp_path / "t" / "_staging"
    _write(staging / "killed" / "part-0.parquet")
    _age(staging / "killed" / "part-0.parquet", 500)
    _age(staging / "killed", 500)
    _write(staging / "running" / "part-0.parquet")  # the folder: made just now
    _age(staging / "running" / "part-0.parquet", 500)
    (staging / "empty").mkdir()  # a write that has no file yet

    assert sweep_staging(table, 168) == 1
    assert sorted(p.name for p in staging.iterdir()) == ["empty", "running"]


class _NoFolderTimes(pafs.FSSpecHandler):
    """The local disk as an object store lists it: folders carry no modification time."""

    @staticmethod
    def _strip(info: pafs.FileInfo) -> pafs.FileInfo:
        if info.type != pafs.FileType.Directory:
            return info
        return pafs.FileInfo(info.path, info.type)

    def get_file_info(self, paths):
        return [self._strip(i) for i in super().get_file_info(paths)]

    def get_file_info_selector(self, selector):
        return [self._strip(i) for i in super().get_file_info_selector(selector)]


def test_on_an_object_store_a_folder_of_unknown_age_stays(tmp_path):
    fs = pafs.PyFileSystem(_NoFolderTimes(LocalFileSystem()))
    base = tmp_path / "_staging"
    (base / "starting" / "_temporary" / "0").mkdir(parents=True)  # markers, no file yet
    _age(base / "starting", 500)
    _write(base / "killed" / "p=a" / "part-0.parquet")
    _age(base / "killed" / "p=a" / "part-0.parquet", 500)
    _write(base / "running" / "p=a" / "part-0.parquet")

    assert sweep_folders(fs, str(base), 168) == 1
    assert sorted(p.name for p in base.iterdir()) == ["running", "starting"]
