"""One self-contained HTML page: plotly.js inlined once in the head, every figure a div
drawn by it, tables as plain HTML; nothing is fetched from the network."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

TABLE_ROWS = 50
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False}

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #222; background: #fafafa; }
header { background: #243447; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 6px 0; font-size: 22px; }
header p { margin: 2px 0; font-size: 13px; color: #d0d7de; }
nav { padding: 8px 32px; background: #e9eef3; font-size: 13px; }
nav a { margin-right: 16px; color: #243447; }
main { padding: 8px 32px 40px 32px; }
section { background: #fff; border: 1px solid #e1e4e8; border-radius: 6px;
          margin: 18px 0; padding: 12px 18px; }
section h2 { font-size: 17px; margin: 4px 0 6px 0; }
p.note { color: #555; font-size: 13px; margin: 0 0 8px 0; }
p.empty { color: #8a6d3b; background: #fcf8e3; padding: 10px 12px; border-radius: 4px; }
table.data { border-collapse: collapse; font-size: 12px; margin-top: 10px; }
table.data th, table.data td { border: 1px solid #e1e4e8; padding: 3px 8px; text-align: left; }
table.data th { background: #f3f5f7; }
"""


@dataclass
class Section:
    """A part of the report: a title, a sentence on how to read it, then its figure, or
    the sentence saying why there is none, and optionally a table."""

    title: str
    note: str
    figure: go.Figure | None = None
    empty: str = ""
    table: pd.DataFrame | None = None
    table_caption: str = ""
    anchor: str = field(default="")

    def __post_init__(self) -> None:
        self.anchor = self.anchor or re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")


def _table(frame: pd.DataFrame, caption: str) -> str:
    shown = frame.head(TABLE_ROWS).copy()
    for column in shown.columns:
        if pd.api.types.is_datetime64_any_dtype(shown[column]):
            shown[column] = shown[column].dt.strftime("%Y-%m-%d %H:%M")
    more = (f" (first {TABLE_ROWS} of {len(frame)})" if len(frame) > TABLE_ROWS else "")
    head = f"<p class=\"note\">{html.escape(caption)}{more}</p>" if caption else ""
    return head + shown.to_html(index=False, classes="data", na_rep="", border=0,
                                float_format=lambda v: f"{v:.4g}", escape=True)


def _section(section: Section) -> str:
    parts = [f"<section id=\"{section.anchor}\"><h2>{html.escape(section.title)}</h2>",
             f"<p class=\"note\">{html.escape(section.note)}</p>"]
    if section.figure is not None:
        parts.append(section.figure.to_html(full_html=False, include_plotlyjs=False,
                                            div_id=f"fig-{section.anchor}",
                                            config=PLOT_CONFIG))
    else:
        parts.append(f"<p class=\"empty\">{html.escape(section.empty)}</p>")
    if section.table is not None and not section.table.empty:
        parts.append(_table(section.table, section.table_caption))
    parts.append("</section>")
    return "\n".join(parts)


def page(title: str, facts: list[str], sections: list[Section]) -> str:
    """The whole document: plotly.js once, in the head, then the sections in order."""
    nav = " ".join(f"<a href=\"#{s.anchor}\">{html.escape(s.title)}</a>" for s in sections)
    lines = "".join(f"<p>{html.escape(fact)}</p>" for fact in facts)
    return "\n".join([
        "<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{html.escape(title)}</title>", f"<style>{CSS}</style>",
        # MathJax off: plotly would otherwise look for it (it is not needed, never loaded).
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>",
        f"<script type=\"text/javascript\">{get_plotlyjs()}</script>",
        "</head><body>", f"<header><h1>{html.escape(title)}</h1>{lines}</header>",
        f"<nav>{nav}</nav>", "<main>", *(_section(s) for s in sections), "</main>",
        "</body></html>"])
