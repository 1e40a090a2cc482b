"""Randomized schedules of deliveries and jobs, checked against a plain pandas oracle.

One fixed universe of inferences and labels (two models, re-sends, bad rows, labels that
arrive before their inference or for ids never scored) is delivered in seeded random
chunks, through batch ingest or the serving logger, while `partition`, `join-labels`,
`performance` and `maintain` run in between, some killed after a random commit, some as
two overlapping runs of one job. Every schedule then runs each job once more and must
hold exactly the oracle's `inferences` and `labels`, and the metric tables of one clean
run over the same universe. `tests/jobs/test_schedules.py` runs a few seeds in `make
test`; `make soak` runs many (`python -m tests.jobs.schedules SEEDS`).
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
from deltalake import DeltaTable

from inferwatch.ingest import ingest_records
from inferwatch.jobs import run_job
from inferwatch.lake.faults import InjectedFault, fail_after_commit
from inferwatch.lake.lease import LeaseSettings
from tests.helpers import context, models

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
MODELS = ("fraud", "eta")
# every job as users run it: through `run_job`, which holds the job's lease on the lake
LEASE = LeaseSettings(wait_s=1.0, poll_s=0.2)
JOBS = {name: (lambda ctx, name=name: run_job(ctx, name, LEASE))
        for name in ("partition", "join-labels", "performance", "maintain")}
# columns that say when or in which run a row was written, not what it holds
VOLATILE = {"run_id", "ingested_at", "ingest_date", "first_seen", "computed_at", "source"}
METRICS = ("metrics/performance",)


def universe(seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Inference records (with exact re-sends and two bad rows) and label records."""
    rng = random.Random(seed)
    inferences, labels = [], []
    for i in range(60):
        model = MODELS[i % 2]
        ts = T0 + timedelta(minutes=5 * i + rng.randint(0, 4))
        row = {"inference_id": f"s{i}", "model_id": model, "model_version": f"v{i % 3 % 2}",
               "ts": ts.isoformat(), "country": rng.choice(["DE", "FR"]),
               "gender": rng.choice(["F", "M"]), "city": "Lisbon", "vehicle": "bike",
               "amount": round(rng.uniform(0, 2000), 2)}
        score = rng.random()
        row["prediction"] = round(score, 4) if model == "fraud" else round(10 + 50 * score, 2)
        inferences.append(row)
        for late in range(rng.choice([0, 1, 1, 2])):  # 0..2 labels, the latest wins
            value = float(rng.random() < score) if model == "fraud" else round(
                row["prediction"] + rng.gauss(0, 5), 2)
            labels.append({"inference_id": row["inference_id"], "model_id": model,
                           "label": value,
                           "label_ts": (ts + timedelta(hours=1 + late, minutes=i)).isoformat()})
    inferences += [dict(inferences[i]) for i in (3, 8, 21)]  # re-sends
    inferences += [{**inferences[0], "inference_id": None},  # no id: quarantined
                   {**inferences[1], "inference_id": "bad-ts", "ts": "yesterday"}]
    labels += [{"inference_id": "ghost", "model_id": "fraud", "label": 1.0,
                "label_ts": T0.isoformat()}]  # never scored: stays pending
    return inferences, labels


def oracle(inferences: list[dict], labels: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What `inferences` and `labels` must hold, computed with pandas alone."""
    frame = pd.DataFrame(inferences)
    frame = frame[frame["inference_id"].notna() & (frame["ts"] != "yesterday")]
    stored = (frame.drop_duplicates(["model_id", "model_version", "inference_id"])
              [["model_id", "model_version", "inference_id", "prediction"]])
    marks = pd.DataFrame(labels)
    marks = marks[marks.set_index(["model_id", "inference_id"]).index.isin(
        stored.set_index(["model_id", "inference_id"]).index)]
    latest = (marks.sort_values("label_ts").groupby(["model_id", "inference_id"]).tail(1)
              .merge(stored[["model_id", "model_version", "inference_id"]],
                     on=["model_id", "inference_id"])[["model_id", "inference_id", "label"]])
    return _sorted(stored), _sorted(latest)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def stored(lake_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    inferences = DeltaTable(f"{lake_dir}/inferences").to_pandas(
        columns=["model_id", "model_version", "inference_id", "prediction"])
    labels = DeltaTable(f"{lake_dir}/labels").to_pandas(
        columns=["model_id", "inference_id", "label"])
    return _sorted(inferences), _sorted(labels)


def metric_tables(lake_dir: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for name in METRICS:
        table = DeltaTable(f"{lake_dir}/{name}")
        keep = [f.name for f in table.schema().fields if f.name not in VOLATILE]
        frame = table.to_pandas(columns=keep)
        scalar = [c for c in frame.columns if not frame[c].map(
            lambda v: isinstance(v, list | dict | bytes) or hasattr(v, "__array__")).any()]
        out[name] = frame[scalar].sort_values(
            ["model_id", "granularity", "window_start", "slice_key", "slice_value"]
        ).reset_index(drop=True)
    return out


@dataclass
class Schedule:
    """One seeded interleaving; `log` says what ran, for a failure's message."""

    seed: int
    log: list[str] = field(default_factory=list)
    kills: int = 0
    overlaps: int = 0
    maintains: int = 0


def clean_run(spark, lake_dir: Path) -> dict[str, pd.DataFrame]:
    inferences, labels = universe()
    ctx = context(spark, lake_dir)
    ingest_records(ctx.lake, "inferences", inferences, models())
    ingest_records(ctx.lake, "labels", labels, models())
    for name in ("partition", "join-labels", "performance"):
        JOBS[name](ctx)
    return metric_tables(lake_dir)


def plan(seed: int) -> list[tuple]:
    """The seeded schedule, as events: ("deliver", kind, rows, channel), ("run", job),
    ("kill", job, after_commit) or ("overlap", job); then each job once more."""
    rng = random.Random(seed)
    inferences, labels = universe()
    pending = [("inferences", r) for r in inferences] + [("labels", r) for r in labels]
    rng.shuffle(pending)
    events: list[tuple] = []
    while pending:
        size = rng.randint(5, 30)
        chunk, pending = pending[:size], pending[size:]
        for kind in ("inferences", "labels"):
            rows = [r for k, r in chunk if k == kind]
            if rows:
                channel = "logger" if kind == "inferences" and rng.random() < 0.3 else "batch"
                events.append(("deliver", kind, rows, channel))
        for _ in range(rng.randint(0, 2)):
            name = rng.choice(["partition", "partition", "join-labels", "join-labels",
                               "performance", "maintain"])
            roll = rng.random()
            if roll < 0.25:
                events.append(("kill", name, rng.randint(1, 6)))
            elif roll < 0.4 and name != "maintain":
                events.append(("overlap", name))
            else:
                events.append(("run", name))
    return events + [("run", name) for name in ("partition", "join-labels", "performance")]


def seams(events: list[tuple]) -> set[str]:
    """The seams a schedule passes: a delivery by each channel, a kill, an overlap, and a
    `maintain` while delivered rows wait unread."""
    passed, unread = set(), False
    for event in events:
        if event[0] == "deliver":
            passed.add(f"{event[3]} delivery")
            unread = True
        elif event[0] in ("kill", "overlap"):
            passed.add(event[0])
        if event[0] in ("run", "kill") and event[1] == "maintain" and unread:
            passed.add("maintain over unread rows")
        if event[0] == "run" and event[1] == "partition":
            unread = False
    return passed


def run_schedule(spark, lake_dir: Path, seed: int) -> Schedule:
    """Deliver the universe in a seeded random order while jobs run, killed and overlapped."""
    done = Schedule(seed)
    ctx = context(spark, lake_dir)
    for event in plan(seed):
        kind, name = event[0], event[1]
        if kind == "deliver":
            _deliver(ctx, lake_dir, name, event[2], event[3])
            done.log.append(f"{event[3]} {len(event[2])} {name}")
            continue
        if kind == "kill":
            try:
                with fail_after_commit(event[2]):
                    JOBS[name](ctx)
            except InjectedFault:
                done.kills += 1
            done.log.append(f"{name} killed after commit {event[2]}")
        elif kind == "overlap":
            _overlap(ctx, name)
            done.overlaps += 1
            done.log.append(f"{name} x2 overlapping")
        else:
            _quiet(JOBS[name], ctx)
            done.log.append(name)
        done.maintains += name == "maintain"
    return done


def _deliver(ctx, lake_dir: Path, kind: str, rows: list[dict], channel: str) -> None:
    if channel == "batch":
        ingest_records(ctx.lake, kind, rows, models())
        return
    from inferwatch.log import InferenceLogger

    with InferenceLogger(str(lake_dir), models_dir="conf/models",
                         spill_dir=lake_dir.parent / "spill", flush_seconds=60) as logger:
        for r in rows:
            features = {k: v for k, v in r.items() if k not in (
                "inference_id", "ts", "prediction", "model_version", "model_id")}
            logger.log(r["inference_id"], ts=r["ts"], features=features,
                       prediction=r["prediction"], model_version=r["model_version"],
                       model_id=r["model_id"])


def _quiet(job, ctx) -> None:
    """A run that fails (refused by a concurrent commit) is recorded as failed; the next
    run redoes its work."""
    try:
        job(ctx)
    except Exception:  # noqa: BLE001 - a failed run is a value in job_runs
        pass


def _overlap(ctx, name: str) -> None:
    threads = [threading.Thread(target=_quiet, args=(JOBS[name], ctx)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def check(spark, lake_dir: Path, seed: int, clean: dict[str, pd.DataFrame]) -> Schedule:
    """Run schedule `seed` and compare its tables with the oracle and the clean run."""
    done = run_schedule(spark, lake_dir, seed)
    want_inferences, want_labels = oracle(*universe())
    got_inferences, got_labels = stored(lake_dir)
    story = f"seed {seed}: " + "; ".join(done.log)
    pd.testing.assert_frame_equal(got_inferences, want_inferences, obj=f"inferences, {story}",
                                  check_dtype=False)
    pd.testing.assert_frame_equal(got_labels, want_labels, obj=f"labels, {story}",
                                  check_dtype=False)
    # each bad row quarantined exactly once, however runs were killed or overlapped
    quarantined = DeltaTable(f"{lake_dir}/quarantine").to_pandas(columns=["reason"])
    assert len(quarantined) == 2, f"quarantine {quarantined['reason'].tolist()}, {story}"
    got = metric_tables(lake_dir)
    for name, frame in clean.items():
        pd.testing.assert_frame_equal(got[name], frame, obj=f"{name}, {story}",
                                      check_exact=False, rtol=1e-9)
    return done


def main(argv: list[str]) -> None:
    """`python -m tests.jobs.schedules FIRST LAST`: run seeds FIRST..LAST-1 and report."""
    import tempfile
    import time

    from tests.conftest import test_session

    first, last = (int(a) for a in argv[:2])
    spark = test_session(Path(tempfile.mkdtemp()) / "warehouse")
    root = Path(tempfile.mkdtemp(prefix="soak-"))
    clean = clean_run(spark, root / "clean" / "lake")
    totals = {"schedules": 0, "kills": 0, "overlaps": 0, "maintains": 0}
    t0 = time.monotonic()
    for seed in range(first, last):
        done = check(spark, root / f"s{seed}" / "lake", seed, clean)
        totals["schedules"] += 1
        for key in ("kills", "overlaps", "maintains"):
            totals[key] += getattr(done, key)
        print(f"seed {seed}: ok ({done.kills} kills, {done.overlaps} overlaps, "
              f"{done.maintains} maintains; {time.monotonic() - t0:.0f} s)", flush=True)
    print(f"{totals['schedules']} schedules, rows lost: 0, {totals}", flush=True)
    spark.stop()


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
