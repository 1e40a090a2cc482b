"""Plotly figures of the views in `inferwatch.report.views`: one function per view, each
returning None when there is nothing to draw (the caller says so in a sentence)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TEMPLATE = "plotly_white"
REALIZED, ESTIMATED = "#1f77b4", "#ff7f0e"
SEVERITY_COLORS = {"critical": "#d62728", "warning": "#ff7f0e", "info": "#7f7f7f"}
# Drift scores are abs(value) / threshold: 1 is the threshold; colours saturate at 3.
DRIFT_MAX = 3.0
DRIFT_SCALE = [[0.0, "#f7fbff"], [1 / DRIFT_MAX - 1e-9, "#9ecae1"],
               [1 / DRIFT_MAX, "#fdae6b"], [1.0, "#a50f15"]]


def _layout(fig: go.Figure, title: str, rows: int = 1) -> go.Figure:
    fig.update_layout(template=TEMPLATE, title=title, height=160 + 220 * rows,
                      margin={"l": 70, "r": 30, "t": 70, "b": 40},
                      legend={"orientation": "h", "y": -0.08})
    return fig


def performance(over_time: pd.DataFrame, pairs: list[tuple[str, str]],
                granularity: str) -> go.Figure | None:
    """Realized (solid, labelled rows) vs estimated (dashed, every row) per metric, one
    panel per metric, one point per window: a gap in realized is a window without labels."""
    if over_time.empty or not pairs:
        return None
    fig = make_subplots(rows=len(pairs), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[real for real, _ in pairs])
    for row, (real, est) in enumerate(pairs, start=1):
        for column, color, dash in ((real, REALIZED, "solid"), (est, ESTIMATED, "dash")):
            fig.add_trace(go.Scatter(
                x=over_time["window_start"], y=over_time[column], name=column,
                mode="lines+markers", line={"color": color, "dash": dash},
                marker={"size": 4}, legendgroup=column,
                customdata=over_time[["n", "n_labeled"]],
                hovertemplate=f"{column} %{{y:.4f}}<br>n %{{customdata[0]}}, labelled "
                              "%{customdata[1]}<extra></extra>"), row=row, col=1)
    return _layout(fig, f"Realized vs estimated performance ({granularity})", len(pairs))


def coverage(over_time: pd.DataFrame, granularity: str) -> go.Figure | None:
    """Volume, label coverage and feedback delay (p50, p90 in hours) per window."""
    if over_time.empty:
        return None
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        subplot_titles=["inferences (n)", "label coverage",
                                        "feedback delay (hours)"])
    x = over_time["window_start"]
    fig.add_trace(go.Bar(x=x, y=over_time["n"], name="n", marker_color="#7f7f7f"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=over_time["label_coverage"], name="label_coverage",
                             mode="lines+markers", marker={"size": 4}), row=2, col=1)
    for column, dash in (("delay_p50_h", "solid"), ("delay_p90_h", "dot")):
        fig.add_trace(go.Scatter(x=x, y=over_time[column], name=column.removesuffix("_h"),
                                 mode="lines+markers", marker={"size": 4},
                                 line={"dash": dash}), row=3, col=1)
    fig.update_yaxes(range=[0, 1.05], row=2, col=1)
    return _layout(fig, f"Volume, label coverage and feedback delay ({granularity})", 3)


def versions(frame: pd.DataFrame, granularity: str) -> go.Figure | None:
    """Champion vs challengers: each version's share of the volume and its primary
    metric, realized (solid) and estimated (dashed)."""
    if frame.empty:
        return None
    metric = next((c for c in frame.columns if f"estimated_{c}" in frame.columns), None)
    rows = 2 if metric else 1
    titles = ["share of inferences"] + ([f"{metric} (dashed: estimated)"] if metric else [])
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=titles)
    palette = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
    for i, (version, part) in enumerate(frame.groupby("model_version", observed=True)):
        color = palette[i % len(palette)]
        label = f"{version} ({part['role'].iloc[0]})"
        fig.add_trace(go.Scatter(x=part["window_start"], y=part["share"], name=label,
                                 mode="lines+markers", marker={"size": 4},
                                 line={"color": color}, legendgroup=label), row=1, col=1)
        if metric:
            for column, dash in ((metric, "solid"), (f"estimated_{metric}", "dash")):
                fig.add_trace(go.Scatter(
                    x=part["window_start"], y=part[column], name=f"{label} {column}",
                    mode="lines+markers", marker={"size": 4}, showlegend=False,
                    line={"color": color, "dash": dash}, legendgroup=label), row=2, col=1)
    return _layout(fig, f"Champion vs challenger ({granularity})", rows)


def drift_heatmap(scores: pd.DataFrame, matrix: pd.DataFrame,
                  granularity: str) -> go.Figure | None:
    """Columns x windows against the baseline (whole model): each cell the largest
    abs(value) / threshold over the column's metrics; above 1 (orange to red) the column
    drifted. Grey: not enough data to judge."""
    if matrix.empty:
        return None
    labels = scores.assign(label=scores["metric"].fillna("no judged metric") + " "
                           + scores["value"].map("{:.3g}".format, na_action="ignore")
                           .fillna("") + " (threshold "
                           + scores["threshold"].map("{:.3g}".format, na_action="ignore")
                           .fillna("-") + ")")
    text = labels.pivot(index="column", columns="window_start", values="label")
    text = text.reindex(index=matrix.index, columns=matrix.columns)
    # Plotly draws the first row at the bottom: reverse so the most drifted is on top.
    z, text = matrix.iloc[::-1], text.iloc[::-1]
    fig = go.Figure(go.Heatmap(
        x=list(z.columns), y=list(z.index), z=z.clip(upper=DRIFT_MAX).to_numpy(),
        zmin=0, zmax=DRIFT_MAX, colorscale=DRIFT_SCALE, text=text.to_numpy(),
        customdata=z.to_numpy(), xgap=1, ygap=1,
        colorbar={"title": "score / threshold", "tickvals": [0, 1, 2, 3]},
        hovertemplate="%{y} @ %{x}<br>score %{customdata:.2f}<br>%{text}<extra></extra>"))
    fig.update_layout(plot_bgcolor="#d9d9d9")
    fig = _layout(fig, f"Drift against the baseline, whole model ({granularity})")
    fig.update_layout(height=max(320, 140 + 24 * len(z.index)))
    return fig


def quality(failures: pd.DataFrame, by_hour: pd.DataFrame) -> go.Figure | None:
    """Expectations failed per validated hour (bars) and which ones (one marker per
    failed expectation, coloured by severity, its message on hover)."""
    if by_hour.empty:
        return None
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        row_heights=[0.3, 0.7],
                        subplot_titles=["expectations failed / validated per hour",
                                        "failed expectations"])
    fig.add_trace(go.Bar(x=by_hour["window_start"], y=by_hour["failed"], name="failed",
                         marker_color="#d62728",
                         customdata=by_hour["expectations"],
                         hovertemplate="%{y} of %{customdata} failed<extra></extra>"),
                  row=1, col=1)
    if not failures.empty:
        label = failures["expectation_type"] + failures["column"].map(
            lambda c: f" ({c})", na_action="ignore").fillna("")
        for severity, part in failures.assign(label=label).groupby("severity", dropna=False):
            fig.add_trace(go.Scatter(
                x=part["window_start"], y=part["label"], mode="markers", name=str(severity),
                marker={"color": SEVERITY_COLORS.get(severity, "#7f7f7f"), "size": 9,
                        "symbol": "x"},
                text=part["message"].fillna(part["exception"]).fillna(""),
                hovertemplate="%{y}<br>%{x}<br>%{text}<extra></extra>"), row=2, col=1)
    fig = _layout(fig, "Data quality", 2)
    kinds = 0 if failures.empty else len(failures[["expectation_type", "column"]]
                                         .drop_duplicates())
    fig.update_layout(height=480 + 24 * kinds)
    return fig


def alerts(frame: pd.DataFrame | None) -> go.Figure | None:
    """Alerts over time, one marker per alert at its first window, by kind."""
    if frame is None or frame.empty:
        return None
    fig = go.Figure(go.Scatter(
        x=frame["first_window"], y=frame["kind"], mode="markers",
        marker={"size": 10, "color": "#d62728"},
        text=frame["message"] if "message" in frame else None,
        hovertemplate="%{y}<br>%{x}<br>%{text}<extra></extra>"))
    return _layout(fig, "Alerts")
