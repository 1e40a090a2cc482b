"""Views of one model's metric tables for people: the investigation notebooks under
`notebooks/` and `inferwatch report` (one self-contained HTML file) draw the same views.

* `data`: the tables, read with delta-rs (`inferwatch.read`), no Spark;
* `views`: model health as pandas frames; `window`: one window under the magnifier;
* `figures`: plotly figures of the views; `html`: the page; `build`: `build_report`.

Needs the `notebooks` extra (plotly; jupytext and duckdb for the notebooks).
"""
from __future__ import annotations

from inferwatch.report.build import build_report

__all__ = ["build_report"]
