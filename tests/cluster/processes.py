"""Spark the way users run it, started by the tests: a standalone master with two
one-core workers, and a Spark Connect server (pip's pyspark ships both), every process
bound to 127.0.0.1, its log kept in a folder the failing test names."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pyspark

from tests.conftest import CHILD_JVM_OPTIONS

SPARK_HOME = Path(pyspark.__file__).parent
SPARK_CLASS = SPARK_HOME / "bin" / "spark-class"
BIN = Path(sys.executable).parent
SITE_PACKAGES = Path(pyspark.__file__).parents[1]
LOOPBACK = "127.0.0.1"
QUICK_JIT = CHILD_JVM_OPTIONS[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def spark_env(folder: Path) -> dict[str, str]:
    """The environment of every Spark process here: loopback only, the venv's `bin` first
    on PATH (pip's spark-submit finds Spark through its python), work files in `folder`,
    and (`spark-defaults.conf` of a conf folder of its own) executors and daemons on the
    quick JIT, as tests/conftest.py's CHILD_JVM_OPTIONS puts drivers: each runs seconds of
    work, for which C2's compiling costs more CPU than it saves."""
    conf = folder / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "spark-defaults.conf").write_text(
        f"spark.executor.extraJavaOptions {QUICK_JIT}\n")
    return {**os.environ, "SPARK_LOCAL_IP": LOOPBACK, "SPARK_WORKER_DIR": str(folder / "work"),
            "SPARK_CONF_DIR": str(conf), "SPARK_DAEMON_JAVA_OPTS": QUICK_JIT,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def worker_python(folder: Path) -> Path:
    """A Python for the executors that has the venv's packages but not the checkout's
    inferwatch (the editable install's .pth file is not read: `-S`), as on a cluster's
    nodes: their tasks import inferwatch from what spark-submit ships (`--py-files`)."""
    path = folder / "worker-python"
    path.write_text(f'#!/bin/sh\nPYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{SITE_PACKAGES}" '
                    f'exec "{sys.executable}" -S "$@"\n')
    path.chmod(0o755)
    return path


def logs(folder: Path, lines: int = 40) -> str:
    """The last lines of every log in `folder`, for a failing test's message."""
    out = []
    for path in sorted(folder.rglob("*.log")) + sorted(folder.rglob("stderr")):
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        out.append(f"--- {path}\n" + "\n".join(tail))
    return "\n".join(out)


def run_shell(command: str, cwd: Path, env: dict[str, str],
              folder: Path) -> subprocess.CompletedProcess:
    """`command` run as typed; asserted to exit 0, else its stderr and the tails of the
    logs in `folder` are the failure's message."""
    done = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, (f"{command}: exit {done.returncode}\n"
                                  f"{done.stderr[-4000:]}\n{logs(folder)}")
    return done


def _start(command: list[str], folder: Path, name: str) -> subprocess.Popen:
    with open(folder / f"{name}.log", "wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                env=spark_env(folder), start_new_session=True)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _state(ui_port: int) -> dict | None:
    """The master's state, or None while its UI is not up: a master still attaching its
    handlers answered `/json/` with its HTML page once (a fresh-clone run, session 34)."""
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{ui_port}/json/", timeout=2) as page:
            return json.load(page)
    except (OSError, ValueError):  # json.JSONDecodeError is a ValueError
        return None


@contextmanager
def standalone(folder: Path, workers: int = 2, memory: str = "1g", timeout: float = 90.0):
    """A master and `workers` workers of one core and `memory` each; yields the master's
    URL once every worker is ALIVE, stops them all on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    port, ui_port = free_port(), free_port()
    started = [_start([str(SPARK_CLASS), "org.apache.spark.deploy.master.Master",
                       "--host", LOOPBACK, "--port", str(port), "--webui-port", str(ui_port)],
                      folder, "master")]
    url = f"spark://{LOOPBACK}:{port}"
    try:
        for i in range(workers):
            started.append(_start([str(SPARK_CLASS), "org.apache.spark.deploy.worker.Worker",
                                   "--host", LOOPBACK, "--cores", "1", "--memory", memory,
                                   "--webui-port", str(free_port()), url], folder, f"worker{i}"))
        deadline = time.monotonic() + timeout
        while True:
            state = _state(ui_port) or {}
            alive = [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]
            if len(alive) == workers:
                break
            dead = [p.args[1] for p in started if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"standalone cluster not up ({len(alive)} of {workers} "
                                   f"workers alive, exited: {dead})\n{logs(folder)}")
            time.sleep(0.5)
        yield url
    finally:
        _stop(started)


@contextmanager
def connect_server(folder: Path, timeout: float = 90.0):
    """A Spark Connect server in local mode (two cores) whose Python workers do not have
    inferwatch (`worker_python`); yields its `sc://` URL once it listens."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**spark_env(folder), "PYSPARK_PYTHON": str(worker_python(folder))}
    with open(folder / "connect.log", "wb") as log:
        server = subprocess.Popen(
            [str(BIN / "spark-submit"), "--class",
             "org.apache.spark.sql.connect.service.SparkConnectServer", "--master", "local[2]",
             "--conf", f"spark.connect.grpc.binding.address={LOOPBACK}",
             "--conf", f"spark.connect.grpc.binding.port={port}",
             "--conf", "spark.ui.enabled=false"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection((LOOPBACK, port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Spark Connect server not up\n{logs(folder)}") from None
                time.sleep(0.5)
        yield f"sc://{LOOPBACK}:{port}"
    finally:
        _stop([server])
