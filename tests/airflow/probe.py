"""Run inside a subprocess with AIRFLOW_HOME and the DAG folder set (Airflow configures
itself, logging included, on import): prints JSON about the DAG folder, or runs one DAG.

    python probe.py describe                 # import errors, tasks in order, commands
    python probe.py test DAG_ID LOGICAL_DATE # dag.test() of one DAG: its state, each task's
"""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime


class _Variables:
    """`var.value.get(name, default)` in templates, from AIRFLOW_VAR_* like Airflow."""

    def get(self, name: str, default=None):
        return os.environ.get(f"AIRFLOW_VAR_{name.upper()}", default)


class _DagRun:
    def __init__(self, start_date: datetime):
        self.start_date = start_date


def _order(dag) -> list[str]:
    return [t.task_id for t in dag.topological_sort()]


def describe() -> dict:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
    start = datetime.fromisoformat("2026-03-03T10:00:00+00:00")
    context = {"var": {"value": _Variables()}, "data_interval_start": start,
               "data_interval_end": start.replace(hour=11),
               "dag_run": _DagRun(start.replace(hour=11, minute=2)),
               "params": {"start": "2026-03-02T00:00:00+00:00",
                          "end": "2026-03-03T00:00:00+00:00"}}
    for dag_id, dag in sorted(bag.dags.items()):
        tasks = []
        for task in dag.topological_sort():
            if not hasattr(task, "application"):  # check_runs: a Python callable
                tasks.append({"task_id": task.task_id, "retries": task.retries,
                              "callable": task.python_callable.__name__,
                              "trigger_rule": getattr(task.trigger_rule, "value", task.trigger_rule),
                              "kwargs": task.render_template(task.op_kwargs, context)})
                continue
            application = task.render_template(task.application, context)
            args = task.render_template(task.application_args, context)
            hook = SparkSubmitHook(conn_id=task._conn_id, application_args=args,
                                   conf=task.render_template(task.conf, context),
                                   name=task.render_template(task.name, context))
            tasks.append({"task_id": task.task_id, "retries": task.retries,
                          "trigger_rule": getattr(task.trigger_rule, "value", task.trigger_rule),
                          "env": task.render_template(task.env_vars, context),
                          "command": hook._build_spark_submit_command(application)})
        out["dags"][dag_id] = {"tasks": tasks, "catchup": dag.catchup,
                               "max_active_runs": dag.max_active_runs,
                               "schedule": str(getattr(dag.timetable, "summary", None))}
    return out


def test(dag_id: str, logical_date: str) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    run = bag.dags[dag_id].test(logical_date=datetime.fromisoformat(logical_date))
    return {"state": str(run.state), "start_date": run.start_date,
            "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()}}


if __name__ == "__main__":
    result = describe() if sys.argv[1] == "describe" else test(sys.argv[2], sys.argv[3])
    print("PROBE " + json.dumps(result, default=str))
