"""One run of a job at a time, per lake: the `leases` table (`inferwatch.lake.lease`).

Concurrent takers in separate processes: exactly one holds the lease. A second run of a
job while the lease is held exits 0 and says who holds it, or waits for it; a lease left
by a holder that died is taken over once it has expired; a running holder renews it.
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner
from deltalake import DeltaTable

from inferwatch.jobs import run_job
from inferwatch.runs import runs
from inferwatch.lake.lease import Lease, LeaseSettings
from inferwatch.lake.tables import Lake
from tests.helpers import context

# a taker in its own process: takes at the given moment, prints what it got and dies
# without releasing (os._exit), like a killed run
TAKER = """
import json, os, sys, time
from inferwatch.lake.lease import Lease, LeaseSettings
from inferwatch.lake.tables import Lake
root, job, at, ttl = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
lease = Lease(Lake(None, root), job, LeaseSettings(wait_s=0, ttl_s=ttl))
time.sleep(max(0.0, at - time.time()))
took = lease.take()
holder = lease.refused_by
print(json.dumps({"owner": lease.owner, "pid": os.getpid(), "took": took,
                  "holder": None if holder is None else holder.owner}), flush=True)
os._exit(0)
"""


def _takers(root, job: str, count: int, ttl: float = 60.0) -> list[dict]:
    at = time.time() + 2.0  # every process started and imported by then
    procs = [subprocess.Popen([sys.executable, "-c", TAKER, str(root), job, str(at), str(ttl)],
                              stdout=subprocess.PIPE, text=True) for _ in range(count)]
    out = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    return out


def _row(root, job: str) -> dict:
    rows = DeltaTable(f"{root}/leases").to_pyarrow_table(filters=[("job", "=", job)])
    assert rows.num_rows == 1
    return rows.to_pylist()[0]


def test_of_concurrent_takers_in_processes_exactly_one_holds_the_lease(tmp_path):
    got = _takers(tmp_path / "lake", "profile", 4)
    winners = [g for g in got if g["took"]]
    assert len(winners) == 1, got
    assert all(g["holder"] == winners[0]["owner"] for g in got if not g["took"]), got
    assert _row(tmp_path / "lake", "profile")["owner"] == winners[0]["owner"]


def test_an_expired_lease_of_a_dead_holder_is_taken_over(tmp_path):
    lake = Lake(None, str(tmp_path / "lake"))
    [dead] = _takers(tmp_path / "lake", "drift", 1, ttl=30.0)
    assert dead["took"]
    waiting = Lease(lake, "drift", LeaseSettings(wait_s=0))
    assert not waiting.take()  # not expired yet: the holder might be alive
    assert (waiting.refused_by.owner, waiting.refused_by.pid) == (dead["owner"], dead["pid"])
    later = datetime.now(timezone.utc) + timedelta(seconds=31)
    taker = Lease(lake, "drift", LeaseSettings(wait_s=0), clock=lambda: later)
    assert taker.take()
    assert any(dead["owner"] in note and "took over" in note for note in taker.notes)
    assert _row(tmp_path / "lake", "drift")["owner"] == taker.owner
    taker.release()
    row = _row(tmp_path / "lake", "drift")
    assert row["owner"] == taker.owner and row["released_at"] is not None


def test_a_running_holder_renews_its_lease(tmp_path):
    lake = Lake(None, str(tmp_path / "lake"))
    holder = Lease(lake, "rollup", LeaseSettings(wait_s=0, ttl_s=0.9))
    assert holder.take()
    time.sleep(2.0)  # more than twice the time to live: renewed every 0.3 s
    other = Lease(lake, "rollup", LeaseSettings(wait_s=0))
    assert not other.take() and other.refused_by.owner == holder.owner
    assert _row(tmp_path / "lake", "rollup")["expires_at"] > datetime.now(timezone.utc)
    holder.release()
    assert other.take()
    other.release()


def test_a_second_run_while_the_lease_is_held_exits_0_and_says_who_holds_it(
        spark, tmp_path, monkeypatch):
    from inferwatch.cli import main

    root = tmp_path / "lake"
    holder = Lease(Lake(spark, str(root)), "profile")
    assert holder.take()
    try:
        monkeypatch.setenv("INFERWATCH_LEASE_WAIT_S", "0")
        result = CliRunner().invoke(main, ["run", "profile", "--lake", str(root)])
        assert result.exit_code == 0, result.output
        assert f"held by run {holder.owner}" in result.output, result.output
        [recorded] = runs(str(root), "profile")
        assert recorded["status"] == "ok" and recorded["input_versions"] == "{}"
        assert json.loads(recorded["details"])["lease_held_by"]["owner"] == holder.owner
        assert _row(root, "profile")["owner"] == holder.owner  # still the holder's
        assert _row(root, "profile")["released_at"] is None
    finally:
        holder.release()


def test_a_second_run_waits_for_the_lease_then_runs(spark, tmp_path):
    ctx = context(spark, tmp_path / "lake")
    ctx = dataclasses.replace(ctx, start=datetime(2026, 3, 2, tzinfo=timezone.utc),
                              end=datetime(2026, 3, 3, tzinfo=timezone.utc))
    holder = Lease(ctx.lake, "rollup")
    assert holder.take()
    threading.Timer(1.0, holder.release).start()
    t0 = time.monotonic()
    run = run_job(ctx, "rollup", LeaseSettings(wait_s=30, poll_s=0.1))
    assert time.monotonic() - t0 >= 1.0
    assert run.status == "ok" and not any("held by" in n for n in run.notes), run.notes
    assert [r["status"] for r in runs(ctx.lake.root, "rollup") if r["model_id"] is None
            ] == ["ok"]
    row = _row(tmp_path / "lake", "rollup")
    assert row["owner"] != holder.owner and row["released_at"] is not None
