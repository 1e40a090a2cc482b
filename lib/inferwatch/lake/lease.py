"""One run of a job at a time, per lake: a lease kept in the lake's `leases` table.

`leases` is partitioned by `job` and holds one row per job: who took the job's lease
(the run's token, host, pid and process), when, until when, and whether it was released.
Taking, renewing and releasing are each one small delta-rs commit that replaces the
job's partition, guarded by the version the current row was read at
(`Committer._commit`): of two runs that read the same row and both try to take the
lease, the log's put-if-absent commit lets exactly one land, and the other is refused
(the job's partition changed since its read) and reads the winner. No Spark job runs;
reading the holder reads one tiny file, and the table stays one file per job (delta-rs
checkpoints its log every 100 commits; `maintain` vacuums the replaced files).

A lease expires `ttl_s` after it was taken or last renewed. The holder renews it from a
background thread every third of `ttl_s`, so a job of any length keeps it while its
process lives; a holder that died (killed, host lost) is taken over once its lease has
expired. A lease left by a run killed inside a process that lives on (an injected fault,
a notebook) is taken over at once by the next run of that process. A run that finds the
lease held waits up to `wait_s` (checking every `poll_s`) and then gives up, saying who
holds it.

    >>> with held(lake, "profile") as lease:
    ...     if lease.refused_by is None:
    ...         ...  # the only run of `profile` on this lake right now
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake.transaction import AddAction

from inferwatch.lake import files as lf
from inferwatch.lake.commit import ConcurrentWriteError
from inferwatch.lake.table import Table
from inferwatch.lake.tables import SPECS, Lake

log = logging.getLogger(__name__)
TABLE = "leases"
WAIT_ENV, TTL_ENV = "INFERWATCH_LEASE_WAIT_S", "INFERWATCH_LEASE_TTL_S"
# this process: a lease of it that no live `Lease` of it holds was left by a killed run
_PROCESS = uuid.uuid4().hex[:12]
_HELD: set[str] = set()
MAX_REFUSALS = 50  # takes of a free lease refused in a row: something else is wrong


@dataclass(frozen=True)
class LeaseSettings:
    """How long a run waits for a held lease, and how long a lease lives unrenewed.

    The wait outlasts the time to live, so that a retry of a killed run (Airflow retries
    a failed task after 2 minutes) waits out the dead holder's lease and runs, instead of
    finding it held and doing nothing; a live holder renews it every `ttl_s / 3`.
    """

    wait_s: float = 360.0
    ttl_s: float = 300.0
    poll_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.wait_s >= 0 or not self.ttl_s > 0 or not self.poll_s > 0:
            raise ValueError(f"lease settings: wait_s >= 0, ttl_s > 0 and poll_s > 0 "
                             f"expected, got {self}")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> LeaseSettings:
        """Defaults, with `INFERWATCH_LEASE_WAIT_S` / `INFERWATCH_LEASE_TTL_S` over them."""
        env = os.environ if environ is None else environ
        given = {}
        for key, name in ((WAIT_ENV, "wait_s"), (TTL_ENV, "ttl_s")):
            if env.get(key):
                try:
                    given[name] = float(env[key])
                except ValueError:
                    raise ValueError(f"{key}: expected a number of seconds, got "
                                     f"{env[key]!r}") from None
        return cls(**given)


@dataclass(frozen=True)
class Holder:
    """A job's lease row as read from `leases`."""

    job: str
    owner: str
    host: str
    pid: int
    process: str
    acquired_at: datetime
    expires_at: datetime
    released_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        return self.released_at is None and self.expires_at > now

    def as_dict(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v
                for k, v in asdict(self).items()}

    def __str__(self) -> str:
        return (f"run {self.owner} on {self.host} pid {self.pid} since "
                f"{self.acquired_at:%Y-%m-%d %H:%M:%S}Z, lease expires "
                f"{self.expires_at:%Y-%m-%d %H:%M:%S}Z unless renewed")


def _arrow_schema() -> pa.Schema:
    kinds = {"string": pa.string(), "long": pa.int64(),
             "timestamp": pa.timestamp("us", tz="UTC")}
    return pa.schema([pa.field(f.name, kinds[f.dataType.typeName()])
                      for f in SPECS[TABLE].schema.fields if f.name != "job"])


class _LeaseTable(Table):
    """`leases`, read and written with delta-rs and pyarrow only."""

    def current(self, job: str) -> tuple[int, Holder | None]:
        """The table's version and the job's lease row at that version."""
        dt = self.delta()
        rows = dt.to_pyarrow_table(filters=[("job", "=", job)]).to_pylist()
        latest = max(rows, key=lambda r: r["acquired_at"], default=None)
        if latest is None:
            return dt.version(), None
        return dt.version(), Holder(**{k: latest.get(k) for k in Holder.__dataclass_fields__})

    def put(self, holder: Holder, read_version: int) -> int:
        """Make the job's partition hold exactly `holder`, unless it changed after
        `read_version` (ConcurrentWriteError)."""
        row = {k: v for k, v in asdict(holder).items() if k != "job"}
        folder = f"job={lf.escape_partition_value(lf.format_partition_value(holder.job))}"
        relative = f"{folder}/lease-{uuid.uuid4().hex}.parquet"
        path = f"{self._fs_root}/{relative}"
        self._fs.create_dir(f"{self._fs_root}/{folder}", recursive=True)
        with self._fs.open_output_stream(path) as out:
            pq.write_table(pa.Table.from_pylist([row], schema=_arrow_schema()), out)
        records, stats = lf.parquet_stats(self._fs, path)
        add = AddAction(path=relative, size=self._fs.get_file_info(path).size,
                        partition_values={"job": holder.job},
                        modification_time=int(time.time() * 1000), data_change=True,
                        stats=stats)
        partition = [{"job": holder.job}]
        return self._commit([add], partition, (read_version, partition), None, "lease")


class Lease:
    """The lease of one job on one lake, taken by `take` and given back by `release`."""

    def __init__(self, lake: Lake, job: str, settings: LeaseSettings | None = None,
                 clock: Callable[[], datetime] | None = None):
        self.job = job
        self.settings = settings or LeaseSettings()
        self.owner = uuid.uuid4().hex[:12]
        self.refused_by: Holder | None = None  # who kept the lease when `take` gave up
        self.notes: list[str] = []
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._table = _LeaseTable(lake.spark, lake.path(TABLE), name=TABLE,
                                  storage=lake.storage)
        self._held = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self._held

    def take(self) -> bool:
        """Take the lease, waiting up to `wait_s` for a holder to finish; False (and
        `refused_by` says who holds it) when it is still held then."""
        spec = SPECS[TABLE]
        try:
            self._table.create(spec.schema, spec.partition_by)
        except Exception:  # noqa: BLE001 - another run created it at the same moment
            if not self._table.exists():
                raise
        deadline = time.monotonic() + self.settings.wait_s
        refusals = 0
        while True:
            version, current = self._table.current(self.job)
            if current is None or self._free(current):
                if self._put(version, current):
                    self._renewer = threading.Thread(target=self._renew_loop, daemon=True,
                                                     name=f"lease-{self.job}")
                    self._renewer.start()
                    return True
                refusals += 1  # another run took it first: read who
                if refusals > MAX_REFUSALS:
                    raise ConcurrentWriteError(f"{self.job}: the lease was free but "
                                               f"{refusals} takes were refused")
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                self.refused_by = current
                return False
            time.sleep(min(self.settings.poll_s, left))

    def _free(self, current: Holder) -> bool:
        if ((current.process, current.pid) == (_PROCESS, os.getpid())
                and current.owner not in _HELD):
            return True  # left by a run of this process that died without releasing it
        return not current.live(self._clock())

    def _put(self, version: int, current: Holder | None) -> bool:
        now = self._clock()
        mine = Holder(self.job, self.owner, socket.gethostname(), os.getpid(), _PROCESS,
                      now, now + timedelta(seconds=self.settings.ttl_s))
        _HELD.add(self.owner)  # before the commit: a thread of this process that reads
        try:                   # the new row must not take it for a dead run's
            self._table.put(mine, version)
        except ConcurrentWriteError:
            _HELD.discard(self.owner)
            return False
        except BaseException:
            _HELD.discard(self.owner)
            raise
        self._held = True
        if current is not None and current.released_at is None:
            self.notes.append(f"took over the lease of {current} (expired or left by a "
                              f"killed run)")
        return True

    def renew(self) -> bool:
        """Push the expiry `ttl_s` past now; False (with a note) when the lease was lost."""
        with self._lock:
            if not self._held:
                return False
            version, current = self._table.current(self.job)
            if current is None or current.owner != self.owner:
                self._lost(current)
                return False
            extended = Holder(**{**asdict(current), "expires_at": self._clock()
                                 + timedelta(seconds=self.settings.ttl_s)})
            try:
                self._table.put(extended, version)
            except ConcurrentWriteError:  # only a taker who saw it expired writes there
                self._lost(self._table.current(self.job)[1])
                return False
            return True

    def _lost(self, current: Holder | None) -> None:
        self._held = False
        _HELD.discard(self.owner)
        self.notes.append(f"lease lost while running (now: {current or 'nobody'}); "
                          f"another run of {self.job} may have overlapped this one")
        log.error("%s: %s", self.job, self.notes[-1])

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.settings.ttl_s / 3):
            try:
                if not self.renew():
                    return
            except Exception as err:  # noqa: BLE001 - retried next time; expiry is the net
                log.warning("%s: lease renewal failed: %s", self.job, err)

    def release(self) -> None:
        """Give the lease back (a released row); failures are logged, never raised: an
        unreleased lease expires."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=60)
        with self._lock:
            if not self._held:
                return
            try:
                version, current = self._table.current(self.job)
                if current is not None and current.owner == self.owner:
                    done = Holder(**{**asdict(current), "released_at": self._clock()})
                    self._table.put(done, version)
            except Exception as err:  # noqa: BLE001 - the lease then expires
                log.warning("%s: lease not released (it expires): %s", self.job, err)
            finally:
                self._held = False
                _HELD.discard(self.owner)


@contextmanager
def held(lake: Lake, job: str, settings: LeaseSettings | None = None) -> Iterator[Lease]:
    """The job's lease for the block (`lease.refused_by` is None), or the holder that kept
    it past the wait (`lease.refused_by`); released at the end of the block."""
    lease = Lease(lake, job, settings)
    lease.take()
    try:
        yield lease
    finally:
        lease.release()
