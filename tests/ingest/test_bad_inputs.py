"""Bad input, as a sloppy and a hostile producer send it, through ingest and the jobs.

One lake takes a CSV, a JSON-lines and a Parquet file of inferences holding one row (or
a few) per case, then a labels file; `partition` and `join-labels` run once each. Every
case is then checked on what delta-rs reads back (`raw/*`, `inferences`, `labels`,
`labels_pending`, `quarantine`), and every run's rows add up. Files that cannot be
ingested at all are refused before any row is written, with one line naming them.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from inferwatch.ingest import IngestError, ingest_files, ingest_records
from inferwatch.jobs import join_labels, partition
from inferwatch.runs import Run, runs
from tests.helpers import context, delta_frame, models

UTC = timezone.utc
NOW = datetime(2026, 11, 1, tzinfo=UTC)
T0 = "2026-03-02T10:15:00Z"
LONG_ID = "L" * 600
EDGE_ID = "E" * 512  # exactly the limit: kept
NOTE = 'line one\nline two, with a comma and "quotes"'

CSV_COLUMNS = ["inference_id", "model_id", "model_version", "ts", "prediction", "amount",
               "distance_km", "country", "shoe_size", "note"]
# (inference_id, model_id, model_version, ts, prediction, amount, distance_km, country,
#  shoe_size, note); "" is an empty field, read as null
CSV_ROWS = [
    ("ok-1", "fraud", "v1", T0, "0.2", "10.5", "3.2", "DE", "42", "plain"),
    ("", "fraud", "v1", T0, "0.2", "1", "1", "DE", "", ""),                # missing id
    ("   ", "fraud", "v1", T0, "0.2", "1", "1", "DE", "", ""),             # blank id
    (LONG_ID, "fraud", "v1", T0, "0.2", "1", "1", "DE", "", ""),
    (EDGE_ID, "fraud", "v1", T0, "0.2", "1", "1", "DE", "", ""),
    ("esc-1", "../x", "v1", T0, "0.2", "1", "1", "DE", "", ""),            # path escape
    ("ascii-1", "frâud", "v1", T0, "0.2", "1", "1", "DE", "", ""),         # non-ASCII
    ("ts-bad", "fraud", "v1", "yesterday", "0.2", "1", "1", "DE", "", ""),
    ("ts-future", "fraud", "v1", "2099-01-01T00:00:00Z", "0.2", "1", "1", "DE", "", ""),
    ("ts-10000", "fraud", "v1", "+10000-01-01T00:00:00Z", "0.2", "1", "1", "DE", "", ""),
    ("ts-1970", "fraud", "v1", "1970-01-01T00:00:00Z", "0.2", "1", "1", "DE", "", ""),
    ("ts-near", "fraud", "v1", "2026-11-01T12:00:00Z", "0.2", "1", "1", "DE", "", ""),
    ("ts-naive", "fraud", "v1", "2026-03-02 10:30:00", "0.2", "1", "1", "DE", "", ""),
    ("ts-offset", "fraud", "v1", "2026-03-02T12:30:00+02:00", "0.2", "1", "1", "DE", "", ""),
    ("pred-nan", "fraud", "v1", T0, "NaN", "1", "1", "DE", "", ""),
    ("pred-inf", "fraud", "v1", T0, "inf", "1", "1", "DE", "", ""),
    ("pred-neg-inf", "fraud", "v1", T0, "-Infinity", "1", "1", "DE", "", ""),
    ("pred-text", "fraud", "v1", T0, "high", "1", "1", "DE", "", ""),
    ("feat-nan", "fraud", "v1", T0, "0.2", "NaN", "inf", "DE", "", ""),
    ("feat-text", "fraud", "v1", T0, "0.2", "abc", "1", "DE", "", ""),
    ("feat-other", "eta", "v1", T0, "31.5", "abc", "2.5", "", "", ""),     # not eta's
    ("dup-1", "fraud", "v1", "2026-03-02T10:20:00Z", "0.9", "1", "1", "DE", "", ""),
    ("dup-1", "fraud", "v1", T0, "0.1", "1", "1", "DE", "", ""),           # earliest wins
    ("dup-2", "fraud", "", T0, "0.3", "1", "1", "DE", "", ""),             # also in JSONL
    ("cc-1", "fraud", "v1", T0, "0.4", "1", "1", "DE", "", ""),            # champion
    ("cc-1", "fraud", "v2", T0, "0.6", "1", "1", "DE", "", ""),            # challenger
    ("quoted-1", "fraud", "v1", T0, "0.2", "1", "1", "DE, the \"land\"", "", NOTE),
]
JSON_LINES = [
    {"inference_id": "j-1", "model_id": "eta", "ts": "2026-03-02T11:00:00Z",
     "prediction": 31.5, "distance_km": float("nan"), "city": "Oslo",
     "ctx": {"device": "ios", "ab": [1, 2]}},
    {"inference_id": "dup-2", "model_id": "fraud", "ts": T0, "prediction": 0.3},
    {"inference_id": "j-pred-text", "model_id": "fraud", "ts": T0, "prediction": "high"},
    {"inference_id": "j-pred-nan", "model_id": "fraud", "ts": T0, "prediction": float("nan")},
    {"inference_id": None, "model_id": "fraud", "ts": T0, "prediction": 0.1},
    {"inference_id": 12345678901234567890, "model_id": "fraud", "ts": T0, "prediction": 0.5},
]
TRUNCATED = '{"inference_id": "j-cut", "model_id": "fraud", "ts": "2026-03'
GARBAGE = "<<< not json at all >>>"
PARQUET_ROWS = 4
LABEL_ROWS = [  # inference_id, label, label_ts, model_id, inference_ts
    ("ok-1", "1", "2026-03-03T00:00:00Z", "", ""),
    ("ts-naive", "0", "2026-03-04T00:00:00Z", "", ""),     # same id, same label_ts:
    ("ts-naive", "1", "2026-03-04T00:00:00Z", "", ""),     # the higher label wins
    ("cc-1", "1", "2026-03-05 06:00:00", "", ""),          # zone-less; both versions
    ("ghost-1", "1", "2026-03-03T00:00:00Z", "", ""),      # no such inference: pending
    ("ghost-2", "0", "2026-03-03T00:00:00Z", "fraud", T0),  # hinted, still pending
    ("esc-1", "1", "2026-03-03T00:00:00Z", "../x", T0),    # hint naming a bad model
    ("pred-nan", "1", "2026-03-03T00:00:00Z", "", ""),     # its inference was quarantined
    ("feat-nan", "NaN", "2026-03-03T00:00:00Z", "", ""),
    ("feat-other", "yes", "2026-03-03T00:00:00Z", "", ""),  # text for a regression model
    ("dup-1", "1", "soon", "", ""),
    ("ok-1", "0", "+10000-01-01T00:00:00Z", "", ""),  # would win forever, if it were stored
    ("", "1", "2026-03-03T00:00:00Z", "", ""),
]


def _csv(header: list[str], rows: list[tuple]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # as Excel writes it
    writer.writerow(header)
    writer.writerows(rows)
    return "\ufeff" + out.getvalue()  # with a byte-order mark, as Excel writes it


def _parquet(path: Path) -> None:
    """Retyped columns: numeric ids, text predictions, naive nanosecond timestamps."""
    ts = pd.to_datetime(["2026-03-02 10:45", "2026-03-02 10:45", "2026-03-02 10:45",
                         "1970-01-01 00:00"]).as_unit("ns")
    pq.write_table(pa.table({
        "inference_id": pa.array([101, 102, 103, 104], pa.int64()),
        "model_id": ["fraud"] * PARQUET_ROWS,
        "ts": pa.array(ts, pa.timestamp("ns")),
        "prediction": ["0.7", "high", "NaN", "0.1"],
        "amount": [float("nan"), 1.0, 1.0, 1.0],
        "distance_km": [float("inf"), 1.0, 1.0, 1.0],
    }), path)


@dataclass
class Outcome:
    lake: Path
    files: dict[str, Path]
    ingest: Run
    partition: Run
    ingest_labels: Run
    join: Run

    def table(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        return delta_frame(f"{self.lake}/{name}", columns)

    def quarantined(self) -> pd.DataFrame:
        """Quarantine rows with their original row parsed and its inference_id."""
        frame = self.table("quarantine")
        frame["original"] = frame["row"].map(json.loads)
        frame["inference_id"] = frame["original"].map(lambda r: r.get("inference_id"))
        return frame


@pytest.fixture(scope="module")
def outcome(spark, tmp_path_factory) -> Outcome:
    root = tmp_path_factory.mktemp("bad_inputs")
    files = {"csv": root / "sloppy.csv", "jsonl": root / "hostile.jsonl",
             "parquet": root / "typed.parquet", "glob": root / "more[1].csv",
             "decoy": root / "more1.csv", "labels": root / "labels.csv"}
    files["csv"].write_text(_csv(CSV_COLUMNS, CSV_ROWS), encoding="utf-8")
    lines = [json.dumps(r) for r in JSON_LINES]
    files["jsonl"].write_text("\n".join([*lines[:3], "", *lines[3:], TRUNCATED, GARBAGE]))
    _parquet(files["parquet"])
    # a file whose name Hadoop would read as a glob matching its neighbour
    files["glob"].write_text(f"inference_id,model_id,ts,prediction\nglob-1,fraud,{T0},0.5\n")
    files["decoy"].write_text(f"inference_id,model_id,ts,prediction\ndecoy-1,fraud,{T0},0.5\n")
    files["labels"].write_text(_csv(["inference_id", "label", "label_ts", "model_id",
                                     "inference_ts"], LABEL_ROWS))

    ctx = context(spark, root / "lake")
    inputs = [files[k] for k in ("csv", "jsonl", "parquet", "glob")]
    ingest = ingest_files(ctx.lake, "inferences", inputs, models())
    partitioned = partition.run(ctx, now=NOW)
    labels = ingest_files(ctx.lake, "labels", [files["labels"]], models())
    joined = join_labels.run(ctx, now=NOW)
    return Outcome(root / "lake", files, ingest, partitioned, labels, joined)


def _accounted(run: Run) -> None:
    assert run.status == "ok", run.error
    assert run.rows_in == (run.rows_out + run.rows_duplicate + run.rows_pending
                           + run.rows_quarantined), run.summary()


def test_every_run_accounts_for_every_row(outcome):
    json_records = len(JSON_LINES) + 2  # the truncated and the garbage line are records too
    # rows_in, counted here from the files we wrote
    assert outcome.ingest.rows_in == len(CSV_ROWS) + json_records + PARQUET_ROWS + 1
    assert outcome.partition.rows_in == len(outcome.table("raw/inferences", ["inference_id"]))
    assert outcome.ingest_labels.rows_in == len(LABEL_ROWS)
    assert outcome.join.rows_in == len(outcome.table("raw/labels", ["inference_id"]))
    for run in (outcome.ingest, outcome.partition, outcome.ingest_labels, outcome.join):
        _accounted(run)
    assert (outcome.ingest.rows_out, outcome.ingest.rows_quarantined) == (24, 16)
    assert (outcome.partition.rows_out, outcome.partition.rows_duplicate,
            outcome.partition.rows_quarantined) == (16, 2, 6)
    assert (outcome.ingest_labels.rows_out, outcome.ingest_labels.rows_quarantined) == (9, 4)
    assert (outcome.join.rows_out, outcome.join.rows_duplicate, outcome.join.rows_pending,
            outcome.join.rows_quarantined) == (3, 1, 4, 1)
    # the recorded runs say the same as the returned ones
    for job, run in (("ingest-inferences", outcome.ingest), ("partition", outcome.partition),
                     ("ingest-labels", outcome.ingest_labels), ("join-labels", outcome.join)):
        recorded = runs(str(outcome.lake), job)[-1]
        assert (recorded["rows_in"], recorded["rows_out"], recorded["rows_duplicate"],
                recorded["rows_pending"], recorded["rows_quarantined"]) == (
            run.rows_in, run.rows_out, run.rows_duplicate, run.rows_pending,
            run.rows_quarantined)


def test_every_quarantined_row_says_why(outcome):
    quarantined = outcome.quarantined()
    for run in (outcome.ingest, outcome.partition, outcome.ingest_labels, outcome.join):
        mine = quarantined[quarantined["run_id"] == run.run_id]
        assert len(mine) == run.rows_quarantined and set(mine["job"]) <= {run.job}
    assert len(quarantined) == (outcome.ingest.rows_quarantined
                                + outcome.partition.rows_quarantined
                                + outcome.ingest_labels.rows_quarantined
                                + outcome.join.rows_quarantined)
    assert quarantined["reason"].map(lambda r: isinstance(r, str) and r.strip() != "").all()
    inferences = quarantined[quarantined["table"] == "raw/inferences"]
    by_id = inferences.groupby(inferences["inference_id"].fillna("<null>"))["reason"]
    reasons = {i: sorted(r) for i, r in by_id}
    expected = {
        LONG_ID: ["inference_id is longer than 512 characters"],
        "esc-1": ["model_id '../x' does not match ^[A-Za-z0-9_.-]+$"],
        "ascii-1": ["model_id 'frâud' does not match"],
        "ts-bad": ["ts 'yesterday' is not a timestamp"],
        "ts-future": ["ts 2099-01-01 00:00:00 is more than 24h in the future"],
        "ts-10000": ["ts '+10000-01-01T00:00:00Z' is not a timestamp"],
        "ts-1970": ["ts 1970-01-01 00:00:00 is before 2000-01-01"],
        "pred-nan": ["prediction 'NaN' is not a finite number"],
        "pred-inf": ["prediction 'inf' is not a finite number"],
        "pred-neg-inf": ["prediction '-Infinity' is not a finite number"],
        "pred-text": ["prediction 'high' is not a number"],
        "feat-text": ["amount 'abc' is not a number (a numeric feature of fraud)"],
        "j-pred-text": ["prediction 'high' is not a number"],
        "j-pred-nan": ["prediction 'NaN' is not a finite number"],
        "102": ["prediction 'high' is not a number"],
        "103": ["prediction 'NaN' is not a finite number"],
        "104": ["ts 1970-01-01 00:00:00 is before 2000-01-01"],
        "   ": ["missing inference_id"],
        "<null>": ["malformed JSON line: " + GARBAGE, "malformed JSON line: " + TRUNCATED,
                   "missing inference_id", "missing inference_id"],
    }
    assert sorted(reasons) == sorted(expected)
    for inference_id, fragments in expected.items():
        got = reasons[inference_id]
        assert len(got) == len(fragments), (inference_id, got)
        for fragment in fragments:
            assert any(fragment in reason for reason in got), (inference_id, fragment, got)
    # the original row is kept as it came
    original = inferences.loc[inferences["inference_id"] == "pred-text", "original"].iloc[0]
    assert (original["ts"], original["amount"], original["source"]) == (
        T0, "1", str(outcome.files["csv"]))


def test_rows_kept_and_how_they_are_stored(outcome):
    stored = outcome.table("inferences")
    keys = sorted(zip(stored["inference_id"], stored["model_version"].fillna("")))
    assert keys == sorted([
        ("ok-1", "v1"), (EDGE_ID, "v1"), ("ts-near", "v1"), ("ts-naive", "v1"),
        ("ts-offset", "v1"), ("feat-nan", "v1"), ("feat-other", "v1"), ("dup-1", "v1"),
        ("dup-2", ""), ("cc-1", "v1"), ("cc-1", "v2"), ("quoted-1", "v1"), ("j-1", ""),
        ("12345678901234567890", ""), ("101", ""), ("glob-1", ""),
    ])
    row = {(r["inference_id"], r["model_version"]): r
           for r in stored.to_dict("records")}
    # zone-less timestamps are UTC; offsets are converted; the hour follows
    assert row["ts-naive", "v1"]["ts"] == pd.Timestamp("2026-03-02 10:30", tz="UTC")
    assert row["ts-offset", "v1"]["ts"] == pd.Timestamp("2026-03-02 10:30", tz="UTC")
    assert row["ts-naive", "v1"]["hour"] == pd.Timestamp("2026-03-02 10:00", tz="UTC")
    assert row["101", None]["ts"] == pd.Timestamp("2026-03-02 10:45", tz="UTC")
    assert row["ts-near", "v1"]["ts"] == pd.Timestamp("2026-11-01 12:00", tz="UTC")
    # NaN and infinite features are kept as such
    assert math.isnan(row["feat-nan", "v1"]["amount"])
    assert row["feat-nan", "v1"]["distance_km"] == math.inf
    assert math.isnan(row["101", None]["amount"]) and row["101", None]["distance_km"] == math.inf
    assert math.isnan(row["j-1", None]["distance_km"])
    # a value that is not a number, in a column that is not the model's numeric feature
    assert pd.isna(row["feat-other", "v1"]["amount"])
    assert row["feat-other", "v1"]["distance_km"] == 2.5
    # the earliest of two copies wins; across files, the same ts: the first source by name
    assert row["dup-1", "v1"]["prediction"] == 0.1
    assert row["dup-2", None]["source"] == min(str(outcome.files["csv"]),
                                                str(outcome.files["jsonl"]))
    # champion and challenger share an id and are both kept
    assert (row["cc-1", "v1"]["prediction"], row["cc-1", "v2"]["prediction"]) == (0.4, 0.6)
    # extra columns are kept as features; quoted newlines, commas and quotes survive
    assert row["ok-1", "v1"]["shoe_size"] == "42" and row["ok-1", "v1"]["amount"] == 10.5
    assert row["j-1", None]["city"] == "Oslo"
    assert row["j-1", None]["ctx"]  # a nested object is kept, as Spark's text of it
    assert row["quoted-1", "v1"]["note"] == NOTE
    assert row["quoted-1", "v1"]["country"] == 'DE, the "land"'
    assert row["ok-1", "v1"]["note"] == "plain"  # no \r from the CRLF line ends
    # the glob-like file name read that file, not its neighbour
    assert "decoy-1" not in set(outcome.table("raw/inferences", ["inference_id"])["inference_id"])
    assert row["glob-1", None]["source"] == str(outcome.files["glob"])
    # partition folders are named by safe values only
    folders = {p.name for p in (outcome.lake / "inferences").glob("model_id=*")}
    assert folders == {"model_id=fraud", "model_id=eta"}
    assert not any(".." in str(p) for p in outcome.lake.rglob("*"))


def test_raw_keeps_what_ingest_accepted(outcome):
    raw = outcome.table("raw/inferences")
    assert len(raw) == outcome.ingest.rows_out
    # the partition job's checks see the raw rows: long ids and bad model ids pass ingest
    assert {LONG_ID, "esc-1", "ascii-1", "ts-future", "ts-1970"} <= set(raw["inference_id"])
    assert sorted(raw.loc[raw["inference_id"] == "dup-1", "prediction"]) == [0.1, 0.9]
    # a JSON id too long for a double keeps every digit
    assert "12345678901234567890" in set(raw["inference_id"])


def test_labels(outcome):
    labels = outcome.table("labels", ["inference_id", "model_id", "label", "label_ts", "hour"])
    assert labels[["inference_id", "label"]].values.tolist() == [
        ["cc-1", 1.0], ["ok-1", 1.0], ["ts-naive", 1.0]]
    # a zone-less label_ts is UTC
    cc = labels[labels["inference_id"] == "cc-1"].iloc[0]
    assert cc["label_ts"] == pd.Timestamp("2026-03-05 06:00", tz="UTC")
    assert cc["hour"] == pd.Timestamp("2026-03-02 10:00", tz="UTC")
    pending = outcome.table("labels_pending", ["inference_id", "model_id", "reason"])
    waiting = pending[pending["reason"].isna()]
    assert sorted(waiting["inference_id"]) == ["esc-1", "ghost-1", "ghost-2", "pred-nan"]
    # a label rejected by join-labels is committed with its reason, then quarantined
    rejected = pending[pending["reason"].notna()]
    assert rejected[["inference_id", "reason"]].values.tolist() == [
        ["feat-other", "label 'yes' is not a number (model eta is not multiclass)"]]
    raw = outcome.table("raw/labels", ["inference_id", "label", "label_ts"])
    tie = raw[raw["inference_id"] == "ts-naive"]
    assert sorted(tie["label"]) == [0.0, 1.0]  # both stored raw, one counted as duplicate
    quarantined = outcome.quarantined()
    quarantined = quarantined[quarantined["table"] == "raw/labels"]
    reasons = sorted(zip(quarantined["inference_id"].fillna("<null>"), quarantined["reason"]))
    assert [i for i, _ in reasons] == ["<null>", "dup-1", "feat-nan", "feat-other", "ok-1"]
    expected = ["missing inference_id", "label_ts 'soon' is not a timestamp",
                "label 'NaN' is not a finite number",
                "label 'yes' is not a number (model eta is not multiclass)",
                "label_ts '+10000-01-01T00:00:00Z' is not a timestamp"]
    for (_, reason), fragment in zip(reasons, expected, strict=True):
        assert fragment in reason


def test_json_lines_with_trailing_garbage_are_quarantined(spark, lake_dir, tmp_path):
    path = tmp_path / "trailing.jsonl"
    good = {"inference_id": "t-1", "model_id": "fraud", "ts": T0, "prediction": 0.1}
    lines = [json.dumps(good),
             json.dumps({**good, "inference_id": "t-2"}) + " trailing",
             json.dumps({**good, "inference_id": "t-3"}) + ",",  # pasted from an array
             json.dumps({**good, "inference_id": "t-4"}) + json.dumps(good)]
    path.write_text("\n".join(lines) + "\n")
    run = ingest_files(context(spark, lake_dir).lake, "inferences", [path], models())
    _accounted(run)
    assert (run.rows_in, run.rows_out, run.rows_quarantined) == (4, 1, 3)
    reasons = delta_frame(f"{lake_dir}/quarantine")["reason"]
    assert reasons.str.startswith("malformed JSON line").all()


# --- files refused as a whole: before any row is written -------------------------------

HEADER = "inference_id,model_id,ts,prediction\n"
ROW = f"a,fraud,{T0},0.1\n"


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def _empty_parquet(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({}), path)
    return path


REFUSED = {  # case: (kind, make(tmp) -> paths, the refused path's index, message fragment)
    "missing path": ("inferences", lambda d: [d / "nope.csv"], 0, "no such file or folder"),
    "missing path, newline in its name": (
        "inferences", lambda d: [d / "no\npe.csv"], 0, "no such file or folder"),
    "empty csv": ("inferences", lambda d: [_write(d / "e.csv", "")], 0, "empty file"),
    "empty jsonl": ("labels", lambda d: [_write(d / "e.jsonl", "")], 0, "empty file"),
    "empty parquet": ("inferences", lambda d: [_write(d / "e.parquet", b"")], 0, "empty file"),
    "empty file, newline in its name": (
        "inferences", lambda d: [_write(d / "e\nx.csv", "")], 0, "empty file"),
    "blank lines only": ("inferences", lambda d: [_write(d / "b.jsonl", "\n \n\n")], 0,
                         "no json records with named columns"),
    "no JSON line at all": ("inferences", lambda d: [_write(d / "g.jsonl", "hello\nworld\n")],
                            0, "no json records with named columns"),
    "text in x.parquet": ("inferences", lambda d: [_write(d / "x.parquet", HEADER + ROW)], 0,
                          "cannot be read as parquet"),
    "parquet without columns": ("inferences", lambda d: [_empty_parquet(d / "n.parquet")], 0,
                                "no parquet records with named columns"),
    "gzip bytes in x.csv": ("inferences", lambda d: [_write(d / "x.csv", b"\x1f\x8b\x08\x00"
                                                            b"\x00\x00\x00\x00\x00\x03")],
                            0, "missing required columns"),
    "folder without parquet": (
        "inferences", lambda d: [_write(d / "logs" / "a.csv", HEADER + ROW).parent], 0,
        "a folder without .parquet files"),
    "empty folder": ("inferences", lambda d: [_mkdir(d / "empty")], 0,
                     "a folder without .parquet files"),
    "unknown extension": ("inferences", lambda d: [_write(d / "x.xlsx", HEADER + ROW)], 0,
                          "unknown format '.xlsx'"),
    "no extension": ("inferences", lambda d: [_write(d / "data", HEADER + ROW)], 0,
                     "unknown format ''"),
    "missing prediction column": (
        "inferences", lambda d: [_write(d / "m.csv", "inference_id,model_id,ts\na,fraud,x\n")],
        0, "missing required columns ['prediction']"),
    "missing label_ts column": (
        "labels", lambda d: [_write(d / "l.jsonl", '{"inference_id": "a", "label": 1}\n')],
        0, "missing required columns ['label_ts']"),
    "header in other case": (
        "inferences", lambda d: [_write(d / "c.csv", HEADER.upper() + ROW)], 0,
        "missing required columns"),
    "dotted column name": (
        "inferences", lambda d: [_write(d / "d.csv", HEADER[:-1] + ",user.age\n"
                                        + ROW[:-1] + ",3\n")],
        0, "column names with '.' or '`' are not supported ['user.age']"),
    "backtick in a column name": (
        "inferences", lambda d: [_write(d / "t.jsonl", '{"inference_id": "a", "a`b": 1}\n')],
        0, "column names with '.' or '`' are not supported"),
    "one bad file among good ones": (
        "inferences", lambda d: [_write(d / "good.csv", HEADER + ROW),
                                 _write(d / "bad.parquet", "not parquet")], 1,
        "cannot be read as parquet"),
}


def _shown(path: Path) -> str:
    text = str(path)
    return text if text.isprintable() else repr(text)[1:-1]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_files(spark, lake_dir, tmp_path, case):
    kind, make, refused, fragment = REFUSED[case]
    paths = make(tmp_path / "in")
    with pytest.raises(IngestError) as raised:
        ingest_files(context(spark, lake_dir).lake, kind, paths, models())
    message = str(raised.value)
    assert "\n" not in message and "\r" not in message
    assert "An error occurred while calling" not in message  # py4j's wrapper, not the cause
    assert message.startswith(_shown(paths[refused]) + ": ")
    assert fragment in message
    assert not (lake_dir / f"raw/{kind}").exists() and not (lake_dir / "quarantine").exists()


def test_refused_records(spark, lake_dir):
    with pytest.raises(IngestError, match=r"^api: column names with '\.' or '`'"):
        ingest_records(context(spark, lake_dir).lake, "inferences", [
            {"inference_id": "a", "model_id": "fraud", "ts": T0, "prediction": 0.1,
             "user.age": 3}], models())
    assert not (lake_dir / "raw/inferences").exists()
