"""inferwatch's Airflow 3 DAGs: the hourly pipeline, the daily rollup and maintenance, and a
backfill, each job a `SparkSubmitOperator` running the checkout's one entry point,
`jobs/submit.py <job> [options]` (`inferwatch run <job> [options]`).

Drop this folder into Airflow's DAG folder (or point `dags_folder` at it). Everything a
task needs is read when the task runs, from Airflow Variables with these defaults
(nothing is read while Airflow parses the file):

    inferwatch_home     the inferwatch checkout whose jobs/submit.py spark-submit runs
                        (default: the folder above this file's)
    inferwatch_conf     environment file, relative to inferwatch_home (conf/local.yaml)
    inferwatch_lake     lake root overriding the environment file ("" = the file's)
    inferwatch_models   model descriptions folder overriding it ("" = the file's)

and the Spark connection `spark_default` (master, deploy mode, spark-submit binary), as
for any SparkSubmitOperator. Each task gives the driver the checkout's
`lib/inferwatch/log4j2.properties` (`spark.driver.extraJavaOptions`), so its JVM logs
errors only from its first line, as under `inferwatch run`, and the archive of Spark's
classes `make cds` builds (`lib/inferwatch/jvm/spark-classes.jsa`: 4 s less per start), and puts the checkout's
`lib/inferwatch/jvm/inferwatch-fs.jar` on its class path
(`spark.driver.extraClassPath`): with a local master the jobs then write files
through the local file system class `make` builds (no `chmod` process forked per file;
docs/benchmarks.md). These two settings replace the same keys of spark-defaults.conf.

Schedules:
- `inferwatch_hourly` runs the pipeline (`inferwatch.jobs.PIPELINE`, the same order as
  `inferwatch run hourly`) for each hour, every job bounded to the run's data interval
  (`--start`/`--end`): an hour that changes later (late labels, late raw rows) is owed by
  the bounded run and done by the daily catch-up. `catchup=False` on purpose: every job
  is incremental (a run picks up everything new since the last), so a missed hour needs
  no run of its own, and Airflow starting hundreds of past runs after a pause would only
  queue Spark applications that find nothing to do; history is rebuilt with the backfill
  DAG. `max_active_runs=1`: two runs of the pipeline never race for the same tables.
- `inferwatch_daily` (after midnight UTC): the pipeline once unbounded (the catch-up of
  owed hours), then `rollup` of the finished day and its week, then `maintain`.
- `inferwatch_backfill` (triggered by hand with `start` and `end` params): every pipeline
  job with `--start start --end end --rebuild`.

One broken model never stops the others: a job whose run is `partial` (some models
failed, the rest done) exits 0, so the next jobs run for the healthy models; a job exits
non-zero, and stops the jobs after it, only when its run failed as a whole. The last task
of each DAG, `check_runs`, fails when a job of the DAG left a model (or a run) failed
since the DAG run started: the `job_runs` rows, read with delta-rs, the failures listed
in its log (`inferwatch check-runs`). It is not retried: a retry would read the same rows.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, CronDataIntervalTimetable, Param, chain

# inferwatch.jobs.PIPELINE and DAILY, repeated here so that parsing imports no inferwatch
# (a test holds the two equal)
PIPELINE = ("partition", "join-labels", "profile", "drift", "multivariate", "performance",
            "quality", "alerts")
DAILY = ("rollup", "maintain")
HOME = "{{ var.value.get('inferwatch_home', '%s') }}" % Path(__file__).resolve().parents[1]
CONF = "{{ var.value.get('inferwatch_conf', 'conf/local.yaml') }}"
LAKE = "{{ var.value.get('inferwatch_lake', '') }}"
MODELS = "{{ var.value.get('inferwatch_models', '') }}"
# the driver JVM's log configuration: errors only, from its first line (lib/inferwatch/session.py
# gives the same file to the JVM `inferwatch run` starts)
# and the archive of the classes a driver loads, which `make cds` builds (a missing one is
# ignored; lib/inferwatch/session.py's CLASS_ARCHIVE_OPTIONS, held equal by a test)
DRIVER_OPTIONS = (f"-Dlog4j2.configurationFile=file:{HOME}/lib/inferwatch/log4j2.properties"
                  f" -XX:SharedArchiveFile={HOME}/lib/inferwatch/jvm/spark-classes.jsa"
                  " -Xlog:cds=off -Xlog:cds+dynamic=off")
# the local file system class `make` builds (lib/inferwatch/session.py uses it for a local
# master when the jar is on the driver's class path; a missing jar is ignored)
DRIVER_CLASS_PATH = f"{HOME}/lib/inferwatch/jvm/inferwatch-fs.jar"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEFAULTS = {"retries": 3, "retry_delay": timedelta(minutes=2),
            "retry_exponential_backoff": True, "max_retry_delay": timedelta(minutes=30)}


def job_task(job: str, *args: str, task_id: str | None = None) -> SparkSubmitOperator:
    """`spark-submit --conf spark.driver.extraJavaOptions=<DRIVER_OPTIONS> --conf
    spark.driver.extraClassPath=<DRIVER_CLASS_PATH> <home>/jobs/submit.py <job> --conf
    <home>/<conf> args`; the lake and
    models overrides reach the job as INFERWATCH_LAKE / INFERWATCH_MODELS (empty: the
    conf's)."""
    return SparkSubmitOperator(
        task_id=task_id or job.replace("-", "_"),
        application=f"{HOME}/jobs/submit.py",
        application_args=[job, "--conf", f"{HOME}/{CONF}", *args],
        conf={"spark.driver.extraJavaOptions": DRIVER_OPTIONS,
              "spark.driver.extraClassPath": DRIVER_CLASS_PATH},
        env_vars={"INFERWATCH_LAKE": LAKE, "INFERWATCH_MODELS": MODELS},
        name=f"inferwatch-{job}",
        conn_id="spark_default",
    )


def check_runs(jobs: list[str], conf: str, lake: str, since: str) -> None:
    """Fail when a job of `jobs` left a model failed since `since` (`inferwatch
    check-runs`); inferwatch is imported when the task runs, never while parsing."""
    from inferwatch.config import load_env
    from inferwatch.jobs.failures import check

    env = load_env(conf, lake=lake or None)
    count, failed = check(env, datetime.fromisoformat(since), jobs)
    if failed:
        raise RuntimeError(f"{len(failed)} failed since {since}:\n" + "\n".join(failed))
    print(f"ok: {count} job_runs rows since {since}, none failed")


def check_task(jobs: tuple[str, ...]) -> PythonOperator:
    """The last task of a DAG: `check_runs` over the jobs of this DAG run."""
    return PythonOperator(
        task_id="check_runs", python_callable=check_runs, retries=0,
        op_kwargs={"jobs": list(jobs), "conf": f"{HOME}/{CONF}", "lake": LAKE,
                   "since": "{{ dag_run.start_date.isoformat() }}"},
    )


INTERVAL = ("--start", "{{ data_interval_start.isoformat() }}",
            "--end", "{{ data_interval_end.isoformat() }}")

# data intervals on purpose: Airflow 3 turns a plain cron string into a trigger timetable
# whose runs have no interval (start == end), and every job here is bounded by it
HOURLY = CronDataIntervalTimetable("0 * * * *", timezone="UTC")
DAILY_AT = CronDataIntervalTimetable("15 0 * * *", timezone="UTC")

with DAG("inferwatch_hourly", schedule=HOURLY, start_date=START, catchup=False,
         max_active_runs=1, default_args=DEFAULTS, tags=["inferwatch"],
         doc_md=__doc__) as hourly:
    chain(*[job_task(job, *INTERVAL) for job in PIPELINE], check_task(PIPELINE))

with DAG("inferwatch_daily", schedule=DAILY_AT, start_date=START, catchup=False,
         max_active_runs=1, default_args=DEFAULTS, tags=["inferwatch"],
         doc_md=__doc__) as daily:
    chain(job_task("hourly", task_id="catch_up"), job_task("rollup", *INTERVAL),
          job_task("maintain"), check_task(PIPELINE + DAILY))

with DAG("inferwatch_backfill", schedule=None, start_date=START, catchup=False,
         max_active_runs=1, default_args=DEFAULTS, tags=["inferwatch"], doc_md=__doc__,
         params={"start": Param("2026-03-02T00:00:00+00:00", type="string",
                                description="First hour to recompute (ISO, UTC)"),
                 "end": Param("2026-03-03T00:00:00+00:00", type="string",
                              description="End of the range, exclusive (ISO, UTC)")}) as backfill:
    chain(*[job_task(job, "--start", "{{ params.start }}", "--end", "{{ params.end }}",
                     "--rebuild") for job in PIPELINE], check_task(PIPELINE))
