"""Plotly figures for debugging a run: gradient norms per layer, the profiler's views, the checkpointing trade-off.
The run store's DataFrames and core.debug's result objects in, a Figure out; nothing is computed here but scales."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from core.debug.grads import RULE_OF_THUMB

_LAYOUT = dict(margin=dict(l=50, r=20, t=40, b=40), height=320, legend=dict(orientation="h", y=-0.25))
GRAD_STATS = {"grad_norm": "gradient norm", "update_ratio": "update / weight"}


def _log10(values: pd.Series) -> np.ndarray:
    """log10 for a colour scale; zeros and non-finite values become gaps (NaN)."""
    v = values.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)


def grad_heatmap(grads: pd.DataFrame, stat: str = "grad_norm", highlight: str | None = None) -> go.Figure:
    """Layer x step heatmap of log10 ``stat`` (input-side layers on top); ``highlight`` frames one layer's row."""
    layers = list(dict.fromkeys(grads["layer"]))
    logged = grads.assign(z=_log10(grads[stat]))
    grid = logged.pivot_table(index="layer", columns="step", values="z", aggfunc="last", dropna=False)
    grid = grid.reindex(layers)
    fig = go.Figure(go.Heatmap(z=grid.values, x=grid.columns, y=layers, colorscale="Viridis",
                               colorbar=dict(title=f"log10 {GRAD_STATS[stat]}"),
                               hovertemplate="layer %{y}<br>step %{x}<br>log10 = %{z:.2f}<extra></extra>"))
    if highlight in layers:
        fig.add_hrect(y0=layers.index(highlight) - 0.5, y1=layers.index(highlight) + 0.5, line_color="red",
                      line_width=2)
    fig.update_layout(title=f"{GRAD_STATS[stat]} per layer over steps (log10)", xaxis_title="step",
                      yaxis_autorange="reversed", yaxis_type="category",
                      **{**_LAYOUT, "height": max(260, 60 + 22 * len(layers))})
    return fig


def grad_lines(grads: pd.DataFrame, layers: list[str], stat: str = "grad_norm") -> go.Figure:
    """``stat`` over steps for the chosen layers, log scale; update/weight gets the 1e-3 rule of thumb as a line."""
    fig = go.Figure()
    for i, layer in enumerate(layers):
        rows = grads[grads["layer"] == layer]
        fig.add_trace(go.Scatter(x=rows["step"], y=rows[stat], mode="lines+markers", name=layer,
                                 line=dict(color=qualitative.Plotly[i % len(qualitative.Plotly)])))
    if stat == "update_ratio":
        fig.add_hline(y=RULE_OF_THUMB, line_dash="dash", line_color="grey", annotation_text="1e-3 rule of thumb")
    fig.update_layout(title=f"{GRAD_STATS[stat]} of chosen layers", xaxis_title="step", yaxis_type="log",
                      yaxis_title=GRAD_STATS[stat], **_LAYOUT)
    return fig


def device_figure(scalars: pd.DataFrame) -> go.Figure:
    """GPU memory used (GiB) and utilisation (%) over steps, from a run's device samples."""
    fig = go.Figure(go.Scatter(x=scalars["step"], y=scalars["gpu_mem_used_gib"], name="memory used (GiB)"))
    if "gpu_mem_total_gib" in scalars:
        fig.add_hline(y=float(scalars["gpu_mem_total_gib"].max()), line_dash="dash", annotation_text="total")
    if "gpu_util" in scalars:
        fig.add_trace(go.Scatter(x=scalars["step"], y=scalars["gpu_util"], name="utilisation (%)", yaxis="y2"))
    fig.update_layout(title="GPU over the run", xaxis_title="step", yaxis_title="GiB",
                      yaxis2=dict(overlaying="y", side="right", range=[0, 100], title="%"), **_LAYOUT)
    return fig


def layer_time_figure(result) -> go.Figure:
    """Forward and backward time per layer (ms per step), slowest on top, stacked."""
    layers = list(reversed(result.layers))
    names = [lp.layer for lp in layers]
    fig = go.Figure([go.Bar(y=names, x=[lp.forward_ms for lp in layers], name="forward", orientation="h"),
                     go.Bar(y=names, x=[lp.backward_ms for lp in layers], name="backward", orientation="h")])
    fig.update_layout(barmode="stack", title="Time per layer (ms per step)", xaxis_title="ms",
                      yaxis_type="category", **{**_LAYOUT, "height": max(260, 80 + 26 * len(names))})
    return fig


def flame_figure(result) -> go.Figure:
    """The profiled step as an icicle (a flame graph upside down): each box's width is its time per step."""
    ids, parents, labels, values = zip(*result.flame) if result.flame else ((), (), (), ())
    fig = go.Figure(go.Icicle(ids=ids, parents=parents, labels=labels, values=values, branchvalues="remainder",
                              hovertemplate="%{label}<br>%{value:.3f} ms per step<extra></extra>",
                              tiling=dict(orientation="v"), maxdepth=5))
    fig.update_layout(title="Flame graph of a step (click a box to zoom in)",
                      **{**_LAYOUT, "height": 480, "margin": dict(l=10, r=10, t=40, b=10)})
    return fig


def memory_figure(result) -> go.Figure:
    """Activation memory and step time against the number of checkpointed segments."""
    segs = [str(p.segments) for p in result.points]
    fig = go.Figure([go.Bar(x=segs, y=[p.activation_bytes / 2**20 for p in result.points], name="memory (MiB)"),
                     go.Scatter(x=segs, y=[p.step_ms for p in result.points], name="step time (ms)", yaxis="y2",
                                mode="lines+markers")])
    fig.update_layout(title="Gradient checkpointing: memory against time", xaxis_title="segments (0 = off)",
                      xaxis_type="category",
                      yaxis_title="MiB", yaxis2=dict(overlaying="y", side="right", title="ms", rangemode="tozero"),
                      **_LAYOUT)
    return fig
