"""The one Spark session factory.

Locally it builds Spark from the environment file; under `spark-submit` (or any process
that already has an active session) what the launcher configured wins and only the
settings our tables depend on are enforced.
"""
from __future__ import annotations

import logging
import os

from pyspark.sql import SparkSession

from inferwatch.config import EnvConfig
from inferwatch.lake.storage import spark_conf

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


def get_spark(env: EnvConfig, quiet: bool = False) -> SparkSession:
    """Return the active session, or build a local one from `env.spark`.

    `quiet` turns the UI and progress bars off (tests, benchmarks).
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
                    **spark_conf(env.storage, env.lake), **env.spark.conf}
        submitted = _launched_by_spark_submit()
        builder = SparkSession.builder
        if not submitted:
            builder = builder.master(env.spark.master)
            for key, value in settings.items():
                builder = builder.config(key, value)
        # Jobs print their own progress lines; Spark's bars would garble them.
        builder = builder.config("spark.ui.showConsoleProgress", "false")
        if quiet:
            builder = builder.config("spark.ui.enabled", "false")
        active = builder.getOrCreate()
        active.sparkContext.setLogLevel("ERROR")
        if submitted:  # what spark-submit was told wins; the file fills in SQL settings
            given = active.sparkContext.getConf()
            for key, value in settings.items():
                if given.contains(key):
                    continue
                if key.startswith("spark.sql."):
                    active.conf.set(key, value)
                elif key.startswith("spark.hadoop."):  # session confs reach every read/write
                    active.conf.set(key[len("spark.hadoop."):], value)
    for key, value in REQUIRED.items():
        active.conf.set(key, value)
    log.info("spark %s master=%s", active.version, active.sparkContext.master)
    return active


def _launched_by_spark_submit() -> bool:
    # spark-submit starts the JVM first and hands Python its gateway port.
    return "PYSPARK_GATEWAY_PORT" in os.environ
