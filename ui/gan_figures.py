"""Plotly figures for GAN runs: the run store's series, snapshots and collapse reports in, a Figure out."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.gan.config import IDEAL_D, ideal_lines
from core.gan.data import PATTERN, RING_RADIUS, RING_STD, ring_modes
from ui.train_figures import COLOURS, ema, thin

_LAYOUT = dict(margin=dict(l=50, r=20, t=40, b=40), height=320, legend=dict(orientation="h", y=-0.25))
LOSS_NAMES = {"d_loss_real": "D loss on real", "d_loss_fake": "D loss on fake", "d_loss": "D loss (real + fake)",
              "g_loss": "G loss", "d_real": "mean D(x)", "d_fake": "mean D(G(z))"}
SPAN = [-1.6 * RING_RADIUS, 1.6 * RING_RADIUS]  # the plane shown around the ring
LEVEL_COLOURS = {"ok": "#2ca02c", "warning": "#ff9f1c", "error": "#d62728"}


def _line(fig, x, y, name: str, colour: str, smooth: bool) -> None:
    y = pd.Series(np.asarray(y, dtype=float))
    if smooth and len(y) > 1:
        y = ema(y, 0.95)
    fig.add_trace(go.Scatter(x=thin(pd.Series(np.asarray(x))), y=thin(y), name=name, line=dict(color=colour, width=2)))


def _ideal(fig, value: float, text: str) -> None:
    fig.add_hline(y=value, line=dict(dash="dash", color="grey", width=1), annotation_text=text,
                  annotation_position="top left", annotation_font_color="grey")


def loss_figure(series: pd.DataFrame, loss: str, summed: bool = False, smooth: bool = True) -> go.Figure:
    """D losses (on real and fake, or their sum) and the G loss per generator step, with the ideal of a balanced
    game as dashed lines: 0.25 per loss for MSE, ln 2 = 0.693 for BCE (2 ln 2 = 1.386 for the summed D loss)."""
    fig = go.Figure()
    ideal = ideal_lines(loss, summed)
    names = ["d_loss", "g_loss"] if summed else ["d_loss_real", "d_loss_fake", "g_loss"]
    if not series.empty:
        data = series.assign(d_loss=series["d_loss_real"] + series["d_loss_fake"]) if summed else series
        for i, name in enumerate(names):
            _line(fig, data["step"], data[name], LOSS_NAMES[name], COLOURS[i], smooth)
    each = ideal["g_loss"]
    label = "0.25 = (1 - 0.5)²" if loss == "mse" else "ln 2 = 0.693"
    _ideal(fig, each, f"balanced game, each loss ({loss.upper()}): {label}")
    if summed:
        text = "0.5 = 2 x 0.25" if loss == "mse" else "2 ln 2 = 1.386"
        _ideal(fig, ideal["d_loss"], f"balanced game, D real + fake: {text}")
    fig.update_layout(title=f"Losses ({loss.upper()})" + (" — smoothed" if smooth else ""),
                      xaxis_title="generator step", yaxis_title="loss", **_LAYOUT)
    return fig


def d_output_figure(series: pd.DataFrame, smooth: bool = True) -> go.Figure:
    """Mean D(x) on real data and mean D(G(z)) on generated data per step; both 0.5 at the balance."""
    fig = go.Figure()
    if not series.empty:
        _line(fig, series["step"], series["d_real"], LOSS_NAMES["d_real"], COLOURS[3], smooth)
        _line(fig, series["step"], series["d_fake"], LOSS_NAMES["d_fake"], COLOURS[4], smooth)
    _ideal(fig, IDEAL_D, "balanced game: 0.5 (D cannot tell)")
    fig.update_layout(title="What the discriminator says", xaxis_title="generator step",
                      yaxis=dict(title="probability 'real'", range=[0, 1]), **_LAYOUT)
    return fig


def ring_figure(frames: list[tuple[int, list]], real: np.ndarray | None = None, cols: int = 3) -> go.Figure:
    """Small multiples: the generated points of each (step, points) snapshot against the 8 modes of the ring."""
    n = max(1, len(frames))
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"step {s}" for s, _ in frames],
                        horizontal_spacing=0.04, vertical_spacing=0.08)
    modes = ring_modes().numpy()
    for i, (_, points) in enumerate(frames):
        r, c = i // cols + 1, i % cols + 1
        if real is not None:
            fig.add_trace(go.Scattergl(x=real[:, 0], y=real[:, 1], mode="markers", name="real",
                                       marker=dict(size=3, color="lightgrey"), showlegend=i == 0), row=r, col=c)
        p = np.asarray(points, dtype=float)
        fig.add_trace(go.Scattergl(x=p[:, 0], y=p[:, 1], mode="markers", name="generated",
                                   marker=dict(size=3, color=COLOURS[0], opacity=0.6), showlegend=i == 0),
                      row=r, col=c)
        fig.add_trace(go.Scatter(x=modes[:, 0], y=modes[:, 1], mode="markers", name="mode centre",
                                 marker=dict(symbol="x", size=8, color="black"), showlegend=i == 0), row=r, col=c)
    fig.update_xaxes(range=SPAN, showticklabels=False, constrain="domain")
    fig.update_yaxes(range=SPAN, showticklabels=False, scaleanchor="x")
    fig.update_layout(title="Generated points against the ring (fixed seeds)", height=300 * rows,
                      margin=dict(l=20, r=20, t=60, b=20), legend=dict(orientation="h", y=-0.05))
    return fig


def pattern_strip(frames: list[tuple[int, list]]) -> go.Figure:
    """The 1010 heat-strip: one row per snapshot (the generator's 4 values for the first preview seed), with the
    target pattern on top; 1 is bright, 0 is dark."""
    rows = [list(PATTERN)] + [values[0] for _, values in frames]
    labels = ["target 1 0 1 0"] + [f"step {s}" for s, _ in frames]
    fig = go.Figure(go.Heatmap(z=rows, y=labels, x=["1st", "2nd", "3rd", "4th"], zmin=0, zmax=1,
                               colorscale="Viridis", text=np.round(np.asarray(rows, dtype=float), 2),
                               texttemplate="%{text}", colorbar=dict(title="value")))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(title="The generator's output over training", height=120 + 28 * len(rows),
                      margin=dict(l=90, r=20, t=40, b=30))
    return fig


def meter_figure(score: float, level: str, label: str) -> go.Figure:
    """The collapse meter: a gauge from 0 (collapsed) to 1 (every mode / class / the real variety)."""
    fig = go.Figure(go.Indicator(
        mode="gauge+number", value=round(100 * score), number=dict(suffix="%"), title=dict(text=label),
        gauge=dict(axis=dict(range=[0, 100]), bar=dict(color=LEVEL_COLOURS.get(level, "grey")),
                   steps=[dict(range=[0, 25], color="#fde0dd"), dict(range=[25, 75], color="#fff3cd"),
                          dict(range=[75, 100], color="#e2f0d9")])))
    fig.update_layout(height=230, margin=dict(l=30, r=30, t=50, b=10))
    return fig


def coverage_figure(series: pd.DataFrame, column: str, total: int | None, title: str) -> go.Figure:
    """A collapse figure over training (modes covered, classes covered, diversity ratio)."""
    fig = go.Figure()
    if column in series:
        s = series.dropna(subset=[column])
        fig.add_trace(go.Scatter(x=s["step"], y=s[column], mode="lines+markers", name=title,
                                 line=dict(color=COLOURS[2])))
    if total:
        fig.add_hline(y=total, line=dict(dash="dash", color="grey", width=1), annotation_text=f"all {total}")
    fig.update_layout(title=title, xaxis_title="generator step", height=230, margin=dict(l=50, r=20, t=40, b=40))
    return fig


def class_histogram_figure(classes: list[str], counts: list[int]) -> go.Figure:
    """Generated images per class, as the judge classifies them; the dashed line is an even share."""
    fig = go.Figure(go.Bar(x=[str(c) for c in classes], y=counts, marker_color=COLOURS[0]))
    fig.add_hline(y=sum(counts) / max(1, len(counts)), line=dict(dash="dash", color="grey"),
                  annotation_text="even share")
    fig.update_layout(title="Generated images per class (the judge's view)", xaxis=dict(type="category"),
                      height=260, margin=dict(l=50, r=20, t=40, b=40))
    return fig


def walk_figure(path: np.ndarray, current: int, real: np.ndarray | None = None) -> go.Figure:
    """toy:ring latent walk: the generated points along A -> B, the current one highlighted, against the modes."""
    modes = ring_modes().numpy()
    fig = go.Figure()
    if real is not None:
        fig.add_trace(go.Scattergl(x=real[:, 0], y=real[:, 1], mode="markers", name="real",
                                   marker=dict(size=3, color="lightgrey")))
    fig.add_trace(go.Scatter(x=path[:, 0], y=path[:, 1], mode="lines+markers", name="A -> B",
                             line=dict(color=COLOURS[0]), marker=dict(size=5)))
    fig.add_trace(go.Scatter(x=[path[current, 0]], y=[path[current, 1]], mode="markers", name="now",
                             marker=dict(size=14, color=COLOURS[1], symbol="star")))
    fig.add_trace(go.Scatter(x=modes[:, 0], y=modes[:, 1], mode="markers", name="mode centre",
                             marker=dict(symbol="x", size=8, color="black")))
    for k, (x, y) in enumerate(modes):
        fig.add_shape(type="circle", x0=x - 3 * RING_STD, y0=y - 3 * RING_STD, x1=x + 3 * RING_STD,
                      y1=y + 3 * RING_STD, line=dict(color="lightgrey"))
    fig.update_xaxes(range=SPAN, constrain="domain")
    fig.update_yaxes(range=SPAN, scaleanchor="x")
    fig.update_layout(title="Walking from A to B", height=420, margin=dict(l=30, r=20, t=40, b=30))
    return fig


def points_figure(points: np.ndarray, labels: list[str], title: str) -> go.Figure:
    """Labelled generated points (the gallery of a ring GAN) against the ring's modes."""
    modes = ring_modes().numpy()
    fig = go.Figure(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers+text", text=labels,
                               textposition="top center", marker=dict(size=8, color=COLOURS[0]), name="seeds"))
    fig.add_trace(go.Scatter(x=modes[:, 0], y=modes[:, 1], mode="markers", name="mode centre",
                             marker=dict(symbol="x", size=8, color="black")))
    fig.update_xaxes(range=SPAN, constrain="domain")
    fig.update_yaxes(range=SPAN, scaleanchor="x")
    fig.update_layout(title=title, height=380, margin=dict(l=30, r=20, t=40, b=30))
    return fig


def values_figure(values: np.ndarray, labels: list[str], title: str) -> go.Figure:
    """toy:1010 outputs of several seeds as a heat strip (one row per seed)."""
    fig = go.Figure(go.Heatmap(z=values, y=labels, x=["1st", "2nd", "3rd", "4th"], zmin=0, zmax=1,
                               colorscale="Viridis", text=np.round(values, 2), texttemplate="%{text}"))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(title=title, height=100 + 28 * len(labels), margin=dict(l=90, r=20, t=40, b=30))
    return fig
