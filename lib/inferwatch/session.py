"""The one Spark session factory.

Locally it builds Spark from the environment file; under `spark-submit` (or any process
that already has an active session) what the launcher configured wins and only the
settings our tables depend on are enforced.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import subprocess
import threading
from pathlib import Path

from pyspark.sql import SparkSession

from inferwatch import console
from inferwatch.config import EnvConfig
from inferwatch.lake.storage import scheme, spark_conf
from inferwatch.shipping import ship

log = logging.getLogger(__name__)

# Settings the lake layer relies on, whatever launched Spark.
REQUIRED = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # Each write is staged and then committed atomically through the Delta log, so the
    # Hadoop committer's renames and _SUCCESS markers buy nothing (SQL confs reach the
    # Hadoop conf of every write).
    "mapreduce.fileoutputcommitter.algorithm.version": "2",
    "mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    # Read nanosecond Parquet timestamps (pandas' default) as longs instead of failing.
    "spark.sql.legacy.parquet.nanosAsLong": "true",
}
LOCAL_FS = "inferwatch.fs.NioLocalFileSystem"
LOCAL_FS_JAR = Path(__file__).with_name("jvm") / "inferwatch-fs.jar"
# The classes a driver loads, archived by `make cds` (scripts/build_cds.sh; `make test`
# runs it): a JVM maps them instead of reading and verifying them from Spark's jars, 4 s
# less per start. A missing, stale or foreign archive (another JDK, another class path)
# is ignored, silently.
CLASS_ARCHIVE = Path(__file__).with_name("jvm") / "spark-classes.jsa"
CLASS_ARCHIVE_OPTIONS = "-XX:SharedArchiveFile={} -Xlog:cds=off -Xlog:cds+dynamic=off"
# Printed straight to stderr, not logged, so no log configuration reaches them: by the JDK
# for the --add-modules=jdk.incubator.vector Spark's launcher always adds, and by the
# DataSketches copy in spark-catalyst at the first sketch aggregate on Java > 11.
JVM_NOTICES = (b"WARNING: Using incubator modules:",
               b"Warning: Java versions > Java 11 can only operate in restricted mode")


def get_spark(env: EnvConfig, quiet: bool = False) -> SparkSession:
    """Return the active session, or build a local one from `env.spark`.

    `quiet` turns the UI off (tests, benchmarks). Spark logs errors only unless the
    command line asked for everything (`inferwatch -v`, `console.verbose()`).
    """
    active = SparkSession.getActiveSession()
    if active is None:
        # object-store credentials for Spark's Parquet I/O, from the same settings
        # delta-rs and pyarrow get (lake/storage.py); the file's spark.conf wins
        settings = {"spark.app.name": env.spark.app_name,
                    "spark.sql.shuffle.partitions": str(env.spark.shuffle_partitions),
                    "spark.sql.adaptive.enabled": "true",
                    # sketch aggregates (KLL, HLL) fall back to sorting past this many
                    # groups per task (default 128): a day of hourly slices exceeds it
                    "spark.sql.objectHashAggregate.sortBased.fallbackThreshold": "1024",
                    # the lake names every file it reads (from the Delta log), and Spark
                    # looks each up by a job of one task per path past 32: a backfill's
                    # 6,500 hourly files cost 17 s of task overhead a read. 64 at most
                    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "64",
                    # on a local disk the driver looks them up itself: a stat costs
                    # microseconds, a job of tasks 0.1-0.3 s (ten a pipeline run)
                    **({"spark.sql.sources.parallelPartitionDiscovery.threshold": "1000000",
                        # and opening one costs about what reading 64 kB does, not Spark's
                        # 4 MB: a fleet's hourly files are a few kB each, and at 4 MB a
                        # file a scan of 2,400 took 75 tasks of 32 files, where by their
                        # sizes it takes a task a core (100-model lake, alternating runs:
                        # profile 50.9 / 40.8 -> 37.7 / 36.6 s, performance 47.1 / 41.0
                        # -> 40.0 / 34.8, quality 30.5 / 19.8 -> 18.4 / 14.6)
                        "spark.sql.files.openCostInBytes": "65536"}
                       if scheme(env.lake) == "file" else {}),
                    **spark_conf(env.storage, env.lake), **env.spark.conf}
        remote = remote_url()
        submitted = _launched_by_spark_submit()
        # Jobs print their own progress lines; Spark's bars would garble them.
        ui = {"spark.ui.showConsoleProgress": "false",
              **({"spark.ui.enabled": "false"} if quiet else {})}
        if remote:  # Spark Connect: the server's Spark, this process only a client
            active = SparkSession.builder.remote(remote).getOrCreate()
            # what `spark-submit --remote` was told wins, as under spark-submit
            launcher = {k: v for k, v in _remote_init_conf().items() if k.startswith("spark.sql.")}
            _fill(active, {**settings, **launcher}, given=set(), checked=True)
            ship(active)  # the server's Python workers need not have inferwatch
        elif submitted:
            active = SparkSession.builder.config(map={**ui, **submitted_files()}).getOrCreate()
        else:
            active = _start(env.spark.master,
                            {**settings, **ui, **local_files(env.spark.master, settings)})
        if not remote and not console.verbose():  # what the JVM logs from now on; -v keeps it
            active.sparkContext.setLogLevel("ERROR")
        if submitted and not remote:  # what spark-submit was told wins
            _fill(active, settings, given={k for k, _ in active.sparkContext.getConf().getAll()})
    for key, value in REQUIRED.items():
        active.conf.set(key, value)
    log.info("spark %s master=%s", active.version, _master(active))
    return active


def remote_url() -> str | None:
    """The Spark Connect endpoint this process was given: `SPARK_REMOTE`, or the
    `--remote` of the spark-submit that started it (handed to Python among the settings
    of `PYSPARK_REMOTE_INIT_CONF_<n>`); None for classic Spark."""
    return os.environ.get("SPARK_REMOTE") or _remote_init_conf().get("spark.remote")


def _remote_init_conf() -> dict[str, str]:
    """The settings `spark-submit --remote` hands Python, in chunks of ten (pyspark's own
    reader keeps only the last chunk)."""
    settings: dict[str, str] = {}
    for i in range(int(os.environ.get("PYSPARK_REMOTE_INIT_CONF_LEN", "0"))):
        settings.update(json.loads(os.environ.get(f"PYSPARK_REMOTE_INIT_CONF_{i}", "{}")))
    return settings


def release_remote() -> None:
    """Stop this process's Spark Connect session, if it has one, so the server drops its
    state (cached frames, the shipped package) now rather than at its idle timeout."""
    connect = sys.modules.get("pyspark.sql.connect.session")
    active = connect.SparkSession.getActiveSession() if connect is not None else None
    if active is not None:  # a server gone away is retried for minutes: wait 10 s at most
        stopping = threading.Thread(target=active.stop, daemon=True, name="connect-stop")
        stopping.start()
        stopping.join(timeout=10)


def _fill(active: SparkSession, settings: dict[str, str], given: set[str],
          checked: bool = False) -> None:
    """The file's settings a session started elsewhere (spark-submit's JVM, a Spark Connect
    server) can still take: its SQL settings and Hadoop ones (session settings reach every
    read and write), where the launcher gave none. `checked` (a Connect server, whose
    static settings are its own): SQL settings the server does not let a session change
    are left out, not refused."""
    for key, value in settings.items():
        if key in given:
            continue
        if key.startswith("spark.sql.") and (not checked or active.conf.isModifiable(key)):
            active.conf.set(key, value)
        elif key.startswith("spark.hadoop."):
            active.conf.set(key[len("spark.hadoop."):], value)


def _master(active: SparkSession) -> str:
    context = getattr(active, "_sc", None)  # none over Spark Connect
    if context is not None:
        return context.master
    try:  # a server may not let a session read it
        return active.conf.get("spark.master", "remote")
    except Exception:  # noqa: BLE001 - only a log line's word
        return "remote"


def local_files(master: str, settings: dict[str, str]) -> dict[str, str]:
    """Settings for a local-mode JVM this process starts: Hadoop's local file system as
    `jvm/NioLocalFileSystem.java` builds it (`make` compiles it when a JDK is there),
    which sets a new file's permissions with one system call. Hadoop's own forks a
    `chmod` process for every file and directory it creates without its native library
    (pip's pyspark has none): about 15 ms a file, most of a small write's cost. None
    when the jar was not built, the master is not local (executors elsewhere lack the
    jar) or the environment file names a `fs.file.impl` of its own."""
    if not _local_fs_wanted(master, settings) or not LOCAL_FS_JAR.is_file():
        return {}
    path = settings.get("spark.driver.extraClassPath")
    return {"spark.hadoop.fs.file.impl": LOCAL_FS,
            "spark.driver.extraClassPath": os.pathsep.join(
                p for p in (path, str(LOCAL_FS_JAR)) if p)}


def submitted_files(given: dict[str, str] | None = None) -> dict[str, str]:
    """The same file system for a local-mode driver spark-submit started, whose JVM was
    up before Python: used when the launcher put the built jar on its class path
    (`--driver-class-path`, or `spark.driver.extraClassPath` in client mode, as the
    DAGs and `make submit` pass it), the master is local and no `fs.file.impl` is given.
    `given`: spark-submit's settings (default: read from its JVM)."""
    if given is None:
        from pyspark import SparkConf, SparkContext

        SparkContext._ensure_initialized()  # the launcher's JVM, whose settings SparkConf reads
        given = dict(SparkConf().getAll())
    jars = [Path(p) for p in given.get("spark.driver.extraClassPath", "").split(os.pathsep) if p]
    if not _local_fs_wanted(given.get("spark.master", ""), given) \
            or not any(p.name == LOCAL_FS_JAR.name and p.is_file() for p in jars):
        return {}
    return {"spark.hadoop.fs.file.impl": LOCAL_FS}


def _local_fs_wanted(master: str, settings: dict[str, str]) -> bool:
    """A local master (executors elsewhere lack the jar) and no `fs.file.impl` given."""
    return master.startswith("local") and "spark.hadoop.fs.file.impl" not in settings


def _launched_by_spark_submit() -> bool:
    # spark-submit starts the JVM first and hands Python its gateway port.
    return "PYSPARK_GATEWAY_PORT" in os.environ


def _start(master: str, settings: dict[str, str]) -> SparkSession:
    """A local session with `settings`. Unless `-v`, the driver JVM logs errors only from
    its first line (the packaged log4j2.properties; a log4j2.configurationFile the
    environment file gives wins), and its stderr passes through `_forward`, which drops the
    JDK's incubator-module notice: no setting turns that line off."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if master.startswith("local"):
        # Spark's Python workers run `python3` from PATH unless told: in local mode they
        # must be this interpreter, whose packages (inferwatch, scikit-learn) the
        # multivariate job's applyInPandas needs (found by benchmarks/bench_fleet.py)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    # A stopped context leaves its JVM running (pyspark reuses it for the next one): only
    # a process's first session starts one, and -v starts it as Spark would.
    if console.verbose() or getattr(SparkContext, "_gateway", None) is not None:
        return SparkSession.builder.master(master).config(map=settings).getOrCreate()
    options = settings.get("spark.driver.extraJavaOptions", "")
    if "log4j2.configurationFile" not in options:
        options = f"{options} -Dlog4j2.configurationFile={console.LOG4J2.as_uri()}".strip()
    if "SharedArchiveFile" not in options and " " not in str(CLASS_ARCHIVE):
        options = f"{options} {CLASS_ARCHIVE_OPTIONS.format(CLASS_ARCHIVE)}"
    conf = SparkConf().setMaster(master).setAll(
        [*settings.items(), ("spark.driver.extraJavaOptions", options)])
    gateway = launch_gateway(conf, popen_kwargs={"stderr": subprocess.PIPE})
    threading.Thread(target=_forward, args=(gateway.proc.stderr,), daemon=True,
                     name="jvm-stderr").start()
    SparkContext(conf=conf, gateway=gateway)
    return SparkSession.builder.getOrCreate()


def _forward(stream) -> None:
    """Copy the JVM's stderr to ours (fd 2, where the JVM would have written), line by
    line, but for the lines in JVM_NOTICES."""
    for line in iter(stream.readline, b""):
        if line.startswith(JVM_NOTICES):
            continue
        try:
            os.write(2, line)
        except OSError:  # stderr closed: keep draining so the JVM never blocks on it
            pass
