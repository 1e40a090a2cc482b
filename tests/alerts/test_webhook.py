"""Notifications through the outbox against a real HTTP server on loopback: with the
server down, slow, or answering 500 the alerts job's result and time are unchanged (within
one request timeout) and nothing is lost; every event is delivered once it answers."""
from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inferwatch import read
from inferwatch.alerts import notify
from inferwatch.model_config import load_models
from inferwatch.jobs import alerts as alerts_job
from tests.helpers import context


class Hook:
    """A Slack-like webhook: `mode` is ok, slow (sleeps past the timeout) or error (500)."""

    def __init__(self):
        self.mode, self.received = "ok", []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if hook.mode == "slow":
                    time.sleep(notify.TIMEOUT_SECONDS + 1)
                if hook.mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    return
                hook.received.append(body)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def lake(scenario_lake, tmp_path):
    copy = tmp_path / "lake"
    shutil.copytree(scenario_lake, copy)
    shutil.rmtree(copy / "alerts_outbox", ignore_errors=True)  # every alert still to tell
    return copy


def _run(spark, lake, models_dir, url):
    ctx = context(spark, lake, load_models(models_dir))
    ctx = dataclasses.replace(ctx, env=dataclasses.replace(ctx.env, webhook_url=url))
    t = time.monotonic()
    run = alerts_job.run(ctx)
    return run, time.monotonic() - t


def test_an_outage_delays_notifications_never_the_job_and_loses_none(spark, scenario_lake,
                                                                     lake):
    models_dir = scenario_lake.parent / "input" / "models"
    expected = read.table(str(lake), "alerts")
    assert len(expected) > 0, "the scenario must raise alerts"
    quiet, quiet_s = _run(spark, lake, models_dir, None)
    hook = Hook()
    try:
        dead = hook.url.replace(str(hook.server.server_port), "9")  # nothing listens
        for mode, url in (("down", dead), ("slow", hook.url), ("error", hook.url)):
            hook.mode = "ok" if mode == "down" else mode
            run, seconds = _run(spark, lake, models_dir, url)
            assert run.status == "ok", (mode, run.error)
            assert seconds < quiet_s + notify.TIMEOUT_SECONDS + 5, (mode, seconds, quiet_s)
            assert _ids(lake) == _ids_of(expected), mode
            outbox = notify.as_dicts(read.table(str(lake), notify.OUTBOX))
            assert not any(r["delivered"] for r in outbox if r["record"] == "attempt"), mode
        hook.mode = "ok"
        run, _ = _run(spark, lake, models_dir, hook.url)
        waiting = notify.pending(notify.as_dicts(read.table(str(lake), notify.OUTBOX)))
        if waiting:  # more events than one run's budget: the next run goes on
            run, _ = _run(spark, lake, models_dir, hook.url)
    finally:
        hook.close()
    queued = read.table(str(lake), notify.OUTBOX)
    events = set(queued.loc[queued["record"] == "queued", "event_id"])
    got = {m["alert"]["alert_id"] + ":" + ("resolved" if m["text"].startswith(
        "[inferwatch resolved]") else "opened") for m in hook.received}
    assert events and got == events  # each event delivered (a slow server may get twice)
    assert quiet.status == "ok" and len(events) == len(set(queued["event_id"]))


def _ids_of(frame) -> set:
    return set(zip(frame["alert_id"], frame["status"]))


def _ids(lake) -> set:
    return _ids_of(read.table(str(lake), "alerts"))


def test_a_mistyped_webhook_fails_its_delivery_and_never_shows_its_token():
    """A space in the URL (http.client's InvalidURL quotes the URL's path) is a failed
    delivery whose error, kept in the outbox and the job's notes, masks path and query."""
    hook = Hook()
    try:
        token = "T0AAAA/B0BBBB/XyZsEcReT"
        url = f"{hook.url}/services/{token} ?key=sEcReTkEy"
        event = {"event_id": "a:opened", "alert_id": "a", "model_id": "m", "event": "opened",
                 "payload": json.dumps({"text": "t"})}
        attempts = notify.deliver(url, [event, {**event, "event_id": "b:opened"}])
        assert len(attempts) == 1 and attempts[0]["delivered"] is False  # the rest waits
        error = attempts[0]["error"]
        assert error.startswith("InvalidURL: ") and "***" in error, error
        assert "XyZsEcReT" not in error and "sEcReTkEy" not in error, error
        assert hook.received == []
    finally:
        hook.close()
