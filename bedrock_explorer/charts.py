"""The Explorer's Plotly figures, built from graph objects.

Why not ``plotly.express``: ``px.bar`` spends ~120 ms per chart on this page's small frames
(it re-derives its own grouping and validates every property again), and the page draws six.
Why NumPy arrays, not pandas columns, in the traces: Plotly converts each pandas column it is
given through narwhals, a third of the time a figure took. Why one trace for a bar chart of one
dimension: Plotly validates each trace property by property. Together: a bar chart 24 -> 6 ms,
the stacked chart 28 -> 19 ms (nine categories). The stacked chart keeps one trace per category
(its legend), in legend order, "Other" grey and last.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from bedrock_explorer.display import OTHER, OTHER_GREY, colours, legend_order, tick_format

#: The single colour of a one-dimension bar chart (its categories are already on the axis).
BAR_BLUE = "#1f6fd1"


def _hover(
    frame: pd.DataFrame, by: str, value: str, name: str = "%{fullData.name}"
) -> tuple[np.ndarray, str]:
    """Per-point extra data and the hover text: the cost, invocations, unpriced tokens and, for
    a model shown by its display name, the raw model id."""
    extra = ["invocations", "unpriced_tokens"] + (["model id"] if "model id" in frame else [])
    lines = [
        f"{by}: {name}",
        f"cost: %{{{value}:$,.4f}}",
        "invocations: %{customdata[0]:,}",
        "unpriced tokens: %{customdata[1]:,}",
    ]
    if "model id" in frame:
        lines.append("model id: %{customdata[2]}")
    return frame[extra].to_numpy(), "<br>".join(lines) + "<extra></extra>"


def _traces(frame: pd.DataFrame, by: str, order: list[str], colour: dict[str, str]) -> list[go.Bar]:
    """One column trace per category, in legend order: the time bucket along x, cost up."""
    traces = []
    for name in order:
        rows = frame[frame[by] == name]
        data, template = _hover(rows, by, "y")
        traces.append(
            go.Bar(
                x=rows["bucket"].to_numpy(),
                y=rows["cost"].to_numpy(),
                name=name,
                marker_color=colour[name],
                customdata=data,
                hovertemplate=template,
            )
        )
    return traces


def bar_figure(top: pd.DataFrame, by: str, title: str) -> go.Figure:
    """Cost by one dimension, horizontal, the most expensive on top and "Other" at the bottom."""
    order = legend_order(top, by)
    rows = top.set_index(by).loc[order].reset_index()  # one bar per category, in legend order
    data, template = _hover(rows, by, "x", name="%{y}")
    bars = go.Bar(
        x=rows["cost"].to_numpy(),
        y=rows[by].to_numpy(),
        orientation="h",
        marker_color=[OTHER_GREY if name == OTHER else BAR_BLUE for name in order],
        customdata=data,
        hovertemplate=template,
    )
    fig = go.Figure(bars)
    fig.update_layout(
        title=title,
        height=360,
        margin={"t": 40},
        showlegend=False,
        barmode="relative",
        xaxis_title="Cost (USD)",
        yaxis={"categoryorder": "array", "categoryarray": order[::-1], "title": ""},
    )
    return fig


def stacked_figure(shown: pd.DataFrame, by: str, granularity: str, tz: str) -> go.Figure:
    """Cost per time bucket stacked by ``by``: the largest first in the legend, "Other" grey
    and last, date-only ticks for a day and coarser."""
    order = legend_order(shown, by)
    traces = _traces(shown, by, order, colours(order))
    what = "week starting" if granularity == "week" else granularity
    fig = go.Figure(traces)
    fig.update_layout(
        barmode="relative",
        legend={"orientation": "h", "y": -0.2, "title": by},
        height=440,
        margin={"t": 30},
        xaxis_title=f"{what.capitalize()} ({tz})",
        yaxis_title="Cost (USD)",
    )
    fig.update_xaxes(
        tickformat=tick_format(granularity), **bucket_ticks(shown["bucket"], granularity)
    )
    return fig


#: A tick every n buckets keeps at most this many labels on the axis.
_MAX_TICKS = 12
_DAY_MS = 86_400_000


def bucket_ticks(buckets: pd.Series, granularity: str) -> dict[str, object]:
    """Ticks on bucket starts only: Plotly's own date ticks fall every 12 hours on a few days of
    daily bars, and a date-only label then reads "28 Nov, 28 Nov, 29 Nov…". One tick per bucket
    (or every n-th, at most 12 labels), from the first bucket; hours keep Plotly's ticks."""
    if granularity == "hour" or buckets.empty:
        return {}
    count = buckets.nunique()
    step = max(1, -(-count // _MAX_TICKS))
    first = pd.Timestamp(buckets.min())
    if granularity == "month":
        return {"tick0": first, "dtick": f"M{step}"}
    days = 7 if granularity == "week" else 1
    return {"tick0": first, "dtick": days * step * _DAY_MS}


def usage_type_figure(meters: pd.DataFrame) -> go.Figure:
    """Cost by usage type (input, output, cache read/write, images)."""
    fig = go.Figure(
        go.Bar(
            x=meters["usage type"],
            y=meters["cost"],
            marker_color=BAR_BLUE,
            hovertemplate="%{x}: %{y:$,.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Cost by usage type",
        height=360,
        margin={"t": 40},
        showlegend=False,
        yaxis_title="Cost (USD)",
    )
    return fig
