"""`open_context` reads the config at once and starts Spark on first use only, once."""
from __future__ import annotations

import dataclasses

import pytest

from inferwatch.context import open_context
from inferwatch.errors import UnknownNameError


def test_spark_and_the_lake_start_on_first_use_once(tmp_path, monkeypatch):
    import inferwatch.session

    started = []
    monkeypatch.setattr(inferwatch.session, "get_spark",
                        lambda env, quiet=False: started.append(quiet) or object())
    ctx = open_context("conf/local.yaml", lake=str(tmp_path / "lake"), quiet=True,
                       model="fraud")
    assert started == [] and ctx.session is None and ctx.opened is None
    assert ctx.one_model().model_id == "fraud"
    lake = ctx.lake
    assert started == [True] and lake.spark is ctx.spark and lake.root == str(tmp_path / "lake")
    copy = dataclasses.replace(ctx, rebuild=True)
    assert copy.lake is lake and started == [True]


def test_a_command_that_reads_only_the_lake_needs_no_model_folder(tmp_path):
    ctx = open_context("conf/local.yaml", lake=str(tmp_path), models_dir=tmp_path / "none",
                       read_models=False, model="anything")
    assert ctx.models == {} and ctx.model == "anything" and ctx.env.lake == str(tmp_path)
    with pytest.raises(UnknownNameError, match="unknown model 'nope'"):
        open_context("conf/local.yaml", lake=str(tmp_path), model="nope")
