"""`inferwatch report`: the sections hold the lake's numbers, the file is self-contained
(plotly.js inlined once, no external URL), and a headless Chromium with every host
unresolvable draws every figure without a single network request."""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from inferwatch.errors import UserError
from inferwatch.report import build_report, figures
from inferwatch.report.build import sections
from inferwatch.report.data import load
from tests.notebooks.direct import MODELS, rows

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
# INFERWATCH_UPDATE_SCREENSHOT=1 copies the fraud report's screenshot there.
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report.png"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr"}


def expected_figures(lake, model: str) -> dict[str, bool]:
    """Which sections must have a figure, from the tables read directly."""
    perf, drift = rows(lake, "metrics/performance", model), rows(lake, "metrics/drift", model)
    hourly = perf[perf["granularity"] == "1h"]
    return {
        "performance-realized-vs-estimated": (hourly["slice_key"] == "*").any(),
        "label-coverage-feedback-delay-and-volume": (hourly["slice_key"] == "*").any(),
        "champion-vs-challenger":
            hourly.loc[hourly["slice_key"] == "model_version", "slice_value"].nunique() > 1,
        "drift-against-the-baseline": ((drift["granularity"] == "1h")
                                       & (drift["comparison"] == "baseline")
                                       & (drift["slice_key"] == "*")).any(),
        "data-quality": not rows(lake, "metrics/quality", model).empty,
        "alerts": not rows(lake, "alerts", model).empty,
    }


@pytest.mark.parametrize("model", MODELS)
def test_sections_hold_the_lake(lake, model):
    parts = {s.anchor: s for s in sections(load(str(lake), model), "1h")}
    expected = expected_figures(lake, model)
    assert {a: s.figure is not None for a, s in parts.items()} == expected

    perf = rows(lake, "metrics/performance", model)
    whole = perf[(perf["granularity"] == "1h") & (perf["slice_key"] == "*")]
    performance = parts["performance-realized-vs-estimated"].figure
    assert {len(trace.x) for trace in performance.data} == {whole["window_start"].nunique()}
    volume = parts["label-coverage-feedback-delay-and-volume"].figure.data[0]
    assert sum(volume.y) == whole["n"].sum()

    drift = rows(lake, "metrics/drift", model)
    baseline = drift[(drift["granularity"] == "1h") & (drift["comparison"] == "baseline")
                     & (drift["slice_key"] == "*")]
    heatmap = parts["drift-against-the-baseline"].figure.data[0]
    assert set(heatmap.y) == set(baseline["column"])
    assert len(heatmap.x) == baseline["window_start"].nunique()
    hot = {y for y, row in zip(heatmap.y, heatmap.z) if (row > 1).any()}
    assert hot == set(baseline.loc[baseline["drifted"], "column"])
    alerts = rows(lake, "alerts", model)
    if not alerts.empty:
        timeline = parts["alerts"].figure.data[0]
        assert len(timeline.x) == len(alerts) and set(timeline.y) == set(alerts["kind"])


def test_report_file_is_self_contained(lake, tmp_path):
    out = build_report(str(lake), "fraud", out=tmp_path / "fraud.html")
    page = out.read_text()
    assert page.count(get_plotlyjs()[:300]) == 1
    divs = re.findall(r'<div id="(fig-[a-z-]+)" class="plotly-graph-div"', page)
    assert divs == [f"fig-{a}" for a, has in expected_figures(lake, "fraud").items() if has]

    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.found += [f"{tag} {k}={v}" for k, v in attrs
                           if k in {"src", "href", "srcset", "action", "poster", "data"}
                           and v and re.match(r"(https?:|wss?:)?//", v)]

    links = Links()
    links.feed(page)
    assert links.found == []


def test_user_mistakes_are_one_line(lake, tmp_path):
    with pytest.raises(UserError, match=r"unknown model 'nope'.*eta, fraud") as err:
        build_report(str(lake), "nope", out=tmp_path / "x.html")
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="no metric rows of model 'fraud'"):
        build_report(str(lake), "fraud", start="2001-01-01", end="2001-01-02",
                     out=tmp_path / "x.html")
    with pytest.raises(UserError, match="is not before"):
        build_report(str(lake), "fraud", start="2026-03-03", end="2026-03-02")
    with pytest.raises(UserError, match="no inferwatch lake at"):
        build_report(str(tmp_path / "nowhere"), "fraud", out=tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_alerts_timeline_draws_an_alert_table():
    frame = pd.DataFrame({"first_window": pd.to_datetime(["2026-03-03 09:00"] * 2, utc=True),
                          "kind": ["drift", "quality"], "message": ["amount drifted", "x"]})
    trace = figures.alerts(frame).data[0]
    assert list(trace.y) == ["drift", "quality"] and list(trace.text) == list(frame["message"])
    assert figures.alerts(frame.iloc[:0]) is None and figures.alerts(None) is None


class Dom(HTMLParser):
    """Per figure div (`fig-*`): its classes, `svg.main-svg` and `path.point` counts."""

    def __init__(self):
        super().__init__()
        self.stack: list[str | None] = []
        self.figures: dict[str, dict] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        ident = attrs.get("id") or ""
        owner = next((f for f in reversed(self.stack) if f), None)
        if ident.startswith("fig-"):
            owner = ident
            self.figures[ident] = {"classes": classes, "main-svg": 0, "points": 0}
        if owner and tag == "svg" and "main-svg" in classes:
            self.figures[owner]["main-svg"] += 1
        if owner and tag == "path" and "point" in classes:
            self.figures[owner]["points"] += 1
        if tag not in VOID:
            self.stack.append(ident if ident.startswith("fig-") else None)

    def handle_endtag(self, tag):
        if tag not in VOID and self.stack:
            self.stack.pop()


def _browser() -> str:
    found = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if found is None:
        pytest.skip("no headless Chromium to render the report: on Debian, "
                    "`apt-get install -y chromium-headless-shell`")
    return found


def _chromium(browser: str, page: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         # Every host name fails to resolve: a plot that needed the network would not draw.
         "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=15000",
         "--window-size=1280,900", *flags, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True)


def _network_urls(net_log: Path) -> set[str]:
    events = json.loads(net_log.read_text())["events"]
    return {e["params"]["url"] for e in events if "url" in e.get("params", {})}


@pytest.mark.parametrize("model", MODELS)
def test_report_renders_offline_in_chromium(lake, tmp_path, model):
    browser = _browser()
    parts = sections(load(str(lake), model), "1h")
    page = build_report(str(lake), model, out=tmp_path / f"{model}.html")

    net_log = tmp_path / "net.json"
    dom = Dom()
    dom.feed(_chromium(browser, page, f"--log-net-log={net_log}", "--dump-dom").stdout)
    drawn = [s for s in parts if s.figure is not None]
    assert sorted(dom.figures) == sorted(f"fig-{s.anchor}" for s in drawn)
    for name, figure in dom.figures.items():
        assert "js-plotly-plot" in figure["classes"], f"{name} was not drawn"
        assert figure["main-svg"] >= 2, f"{name} has no plot area"
    performance = next(s.figure for s in drawn if s.anchor.startswith("performance"))
    markers = sum(int(pd.Series(trace.y).notna().sum()) for trace in performance.data)
    assert dom.figures["fig-performance-realized-vs-estimated"]["points"] == markers
    assert not [u for u in _network_urls(net_log) if re.match(r"(https?|wss?):", u)]

    shot = tmp_path / f"{model}.png"
    _chromium(browser, page, f"--screenshot={shot}", "--hide-scrollbars")
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1280, 900)
    assert shot.stat().st_size > 30_000, "a blank page compresses to a few KB"
    if model == "fraud" and os.environ.get("INFERWATCH_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, SCREENSHOT)


def test_cli_writes_the_report_and_refuses_an_unknown_model(lake, tmp_path, capsys):
    from inferwatch.cli import entry

    out = tmp_path / "eta.html"
    with pytest.raises(SystemExit) as done:
        entry(["report", "--model", "eta", "--lake", str(lake), "--granularity", "1d",
               "--start", "2026-03-03T00:00", "--out", str(out)])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"wrote {out}"
    assert "granularity 1d" in out.read_text() and "[2026-03-03 00:00:00+00:00" in out.read_text()
    with pytest.raises(SystemExit) as done:
        entry(["report", "--model", "nope", "--lake", str(lake), "--out", str(out)])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith("error: unknown model 'nope'")
    assert err.count("\n") == 1
