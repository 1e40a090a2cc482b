"""Reading input files for ingest: Parquet, CSV and JSON lines, every column as a string.

A source that cannot be ingested at all (a missing path, an unknown extension, a folder
without Parquet files, an empty file, a file that is not what its extension says) is
refused with one `IngestError` line naming it; row-level problems are the rules' job.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inferwatch.errors import UserError
from inferwatch.ingest.contract import unsafe_names, unsafe_names_refused

FORMATS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json",
           ".ndjson": "json"}
CORRUPT = "_corrupt_record"
GLOB = re.compile(r"([\\\[\]{}*?])")  # what Hadoop would expand in a path


class IngestError(UserError):
    """A source that cannot be ingested at all (unknown format, missing columns, ...)."""


def shown(path: str | Path) -> str:
    """A path as it appears in a one-line message (a file name may hold a newline)."""
    path = str(path)
    return path if path.isprintable() else repr(path)[1:-1]


def check_paths(paths: list[str]) -> None:
    """Refuse a missing local path before any Spark work starts."""
    for path in map(str, paths):
        if "://" not in path and not os.path.exists(path):
            raise IngestError(f"{shown(path)}: no such file or folder")


def check_columns(columns: list[str], where: str) -> None:
    """Refuse column names that the lake cannot store as plain top-level columns."""
    unsafe = unsafe_names(columns)  # the serving-side logger refuses the same names
    if unsafe:
        raise IngestError(f"{shown(where)}: {unsafe_names_refused(unsafe)}")


def check_source(path: str | Path) -> str:
    """The format of `path`, or the refusal of what can be told without reading it: a
    missing path, an unknown extension, a folder without Parquet files, an empty file.
    Needs no Spark, so the CLI refuses these before a JVM starts."""
    path = str(path)
    suffix = Path(path.rstrip("/")).suffix.lower()
    local = "://" not in path
    is_dir = local and os.path.isdir(path)
    fmt = FORMATS.get(suffix) or ("parquet" if is_dir else None)
    if fmt is None:
        raise IngestError(f"{shown(path)}: unknown format '{suffix}'; expected one of "
                          f"{', '.join(sorted(FORMATS))} (or a folder of Parquet files)")
    check_paths([path])
    if is_dir and not any(p.suffix == ".parquet" for p in Path(path).rglob("*")):
        raise IngestError(f"{shown(path)}: a folder without .parquet files; expected a file or a "
                          "folder of Parquet files")
    if local and not is_dir and os.path.getsize(path) == 0:
        raise IngestError(f"{shown(path)}: empty file")
    return fmt


def read_source(spark: SparkSession, path: str | Path) -> DataFrame:
    """Read one file, or a folder of Parquet files, as all-string columns."""
    path = str(path)
    fmt = check_source(path)
    try:
        df = _read(spark, path, fmt)
        columns = df.columns
    except IngestError:
        raise
    except Exception as err:  # noqa: BLE001 - Spark/Arrow say "not Parquet" in many ways
        # a Py4JJavaError's first line only says which call failed; the cause follows
        said = [line.strip().removeprefix(": ") for line in str(err).splitlines()
                if line.strip() and not line.startswith("An error occurred while calling")]
        first = (said or [type(err).__name__])[0][:160]
        raise IngestError(f"{shown(path)}: cannot be read as {fmt} ({first})") from None
    if not columns or columns == [CORRUPT]:
        raise IngestError(f"{shown(path)}: no {fmt} records with named columns")
    check_columns(columns, path)
    return df.select(*[F.col(f"`{c}`").cast("string").alias(c) for c in columns])


def _read(spark: SparkSession, path: str, fmt: str) -> DataFrame:
    # a local path names one file or folder: "x[1].csv" must not read "x1.csv"
    literal = GLOB.sub(r"\\\1", path) if "://" not in path else path
    if fmt == "csv":
        # multiLine: quoted fields may hold newlines; escape: RFC 4180 doubled quotes
        return (spark.read.option("header", True).option("mode", "PERMISSIVE")
                .option("multiLine", True).option("escape", '"').csv(literal))
    if fmt == "json":
        return _json_lines(spark, literal)
    df = spark.read.parquet(literal)
    # pandas writes nanosecond timestamps, which Spark reads as longs (nanosAsLong).
    for column in _nanosecond_columns(path):
        df = df.withColumn(column, F.timestamp_micros(F.floor(F.col(f"`{column}`") / 1000)))
    return df


def _json_lines(spark: SparkSession, path: str) -> DataFrame:
    """JSON lines, strictly: Spark's reader takes the first JSON value of a line and drops
    whatever follows (`{...} junk`, `{...},`, `{...}{...}`); such a line, like one that
    does not parse, keeps its text in CORRUPT, so it is quarantined, never half-read."""
    inferred = (spark.read.option("primitivesAsString", True).option("mode", "PERMISSIVE")
                .option("columnNameOfCorruptRecord", CORRUPT).json(path)).schema
    fields = [f for f in inferred.fields if f.name != CORRUPT]
    schema = T.StructType([*fields, T.StructField(CORRUPT, T.StringType())])
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT,
               "primitivesAsString": "true"}
    lines = spark.read.text(path).where(F.trim("value") != "")
    parsed = lines.select("value", F.from_json("value", schema, options).alias("_j"))
    # from_json writes a bare NaN/Infinity token as the text '"NaN"': unquote it, so it
    # reads as the reader's own 'NaN'
    special = r'^"([+-]?(?:NaN|Infinity|INF))"$'
    return parsed.select(
        *[(F.regexp_replace(F.col("_j").getField(f.name), special, "$1")
           if isinstance(f.dataType, T.StringType) else F.col("_j").getField(f.name))
          .alias(f.name) for f in fields],
        F.when(F.col("_j").getField(CORRUPT).isNotNull() | ~_one_value(F.col("value")),
               F.col("value")).alias(CORRUPT))


def _one_value(line: Column) -> Column:
    """Whether a line holds exactly one JSON object and nothing after it: outside string
    literals it starts with '{', ends with '}' and its bracket depth returns to 0 once."""
    bare = F.regexp_replace(F.trim(line), r'"(?:[^"\\]|\\.)*"', '""')

    def step(acc, char):
        depth = acc["depth"] + F.when(char.isin("{", "["), 1).when(char.isin("}", "]"), -1) \
            .otherwise(0)
        closed = acc["closed"] + F.when(depth == 0, 1).otherwise(0)
        return F.struct(depth.alias("depth"), closed.alias("closed"))

    start = F.struct(F.lit(0).alias("depth"), F.lit(0).alias("closed"))
    walk = F.aggregate(F.split(bare, ""), start, step)
    return bare.startswith("{") & bare.endswith("}") & (walk["closed"] == 1)


def _nanosecond_columns(path: str) -> list[str]:
    from inferwatch.lake.files import filesystem

    fs, inner = filesystem(path)
    info = fs.get_file_info(inner)
    if info.type == pa.fs.FileType.Directory:
        found = [f for f in fs.get_file_info(pa.fs.FileSelector(inner, recursive=True))
                 if f.path.endswith(".parquet")]
        if not found:
            return []
        inner = found[0].path
    with fs.open_input_file(inner) as handle:
        schema = pq.read_schema(handle)
    return [f.name for f in schema
            if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]


def fingerprint(paths: list[str]) -> str:
    """Identity of a set of inputs by what identifies their content: each file's ETag
    where the store gives one, else its size and modification time; a folder, each of
    its files. Re-ingesting unchanged inputs is a no-op; an object replaced under the
    same path (or a part file rewritten in a folder) is new input."""
    digest = hashlib.sha256()
    for path in sorted(map(str, paths)):
        if "://" not in path and os.path.isfile(path):
            # a local file: as before, so an unchanged file ingested then stays a no-op
            stat = os.stat(path)
            digest.update(f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
            continue
        digest.update(f"{os.path.abspath(path) if '://' not in path else path}|".encode())
        for name, identity in _contents(path):
            digest.update(f"{name}|{identity}\n".encode())
    return digest.hexdigest()[:16]


def _contents(path: str) -> list[tuple[str, str]]:
    """(file, identity) of each file a path names: itself, or the files of a folder."""
    from inferwatch.lake.files import filesystem

    fs, inner = filesystem(path)
    info = fs.get_file_info(inner)
    if info.type == pa.fs.FileType.Directory:
        found = fs.get_file_info(pa.fs.FileSelector(inner, recursive=True))
        files = sorted((f for f in found if f.type == pa.fs.FileType.File),
                       key=lambda f: f.path)
    else:
        files = [info] if info.type == pa.fs.FileType.File else []
    return [(f.path[len(inner):], _identity(fs, f)) for f in files]


def _identity(fs: pa.fs.FileSystem, info: pa.fs.FileInfo) -> str:
    """An object's ETag (S3, GCS and Azure give one with its metadata), else its size and
    modification time."""
    try:
        with fs.open_input_stream(info.path) as stream:
            metadata = stream.metadata() or {}
    except (OSError, NotImplementedError):
        metadata = {}
    for key, value in metadata.items():
        if (key.decode() if isinstance(key, bytes) else key).lower() == "etag":
            return f"etag:{value.decode() if isinstance(value, bytes) else value}"
    mtime = info.mtime_ns if info.mtime_ns is not None else ""
    return f"{info.size}|{mtime}"
