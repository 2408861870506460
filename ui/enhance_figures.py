"""Plotly figures for the Enhance page: a run's series, the checkerboard spectrum, the PSNR-vs-perception chart."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ui.train_figures import COLOURS, ema, thin

_LAYOUT = dict(margin=dict(l=50, r=20, t=40, b=40), height=300, legend=dict(orientation="h", y=-0.3))
LOSS_NAMES = {"loss": "total loss", "pixel_loss": "pixel loss", "perceptual_loss": "perceptual (Lite0)",
              "adversarial_loss": "adversarial (upsampler)", "critic_loss": "critic"}


def loss_figure(series: pd.DataFrame) -> go.Figure:
    """The training losses per step (smoothed: each step sees fresh random crops)."""
    fig = go.Figure()
    for i, (name, label) in enumerate(LOSS_NAMES.items()):
        if name in series and series[name].notna().any():
            s = series[["step", name]].dropna()
            y = ema(pd.Series(s[name].to_numpy(dtype=float)), 0.9) if len(s) > 1 else s[name]
            fig.add_trace(go.Scatter(x=thin(s["step"].reset_index(drop=True)), y=thin(pd.Series(np.asarray(y))),
                                     name=label, line=dict(color=COLOURS[i % len(COLOURS)], width=2)))
    fig.update_layout(title="Losses (smoothed)", xaxis_title="step", yaxis_type="log", **_LAYOUT)
    return fig


def psnr_figure(series: pd.DataFrame) -> go.Figure:
    """PSNR on the held-out crops: the model against bicubic (the line to beat)."""
    fig = go.Figure()
    if "psnr" in series:
        s = series[["step", "psnr", "psnr_bicubic"]].dropna()
        fig.add_trace(go.Scatter(x=s["step"], y=s["psnr"], name="model", mode="lines+markers",
                                 line=dict(color=COLOURS[0], width=2)))
        fig.add_trace(go.Scatter(x=s["step"], y=s["psnr_bicubic"], name="bicubic", mode="lines",
                                 line=dict(color="grey", dash="dash")))
    fig.update_layout(title="PSNR on held-out crops (Y, dB; higher is better)", xaxis_title="step", **_LAYOUT)
    return fig


def spectrum_figure(spectrum: np.ndarray) -> go.Figure:
    """log10 |FFT| of the model's residual over bicubic, centred: a regular artefact (checkerboard) shows as bright
    dots on a grid; a clean upsampler's residual has a smooth, dotless spectrum."""
    lo, hi = np.percentile(spectrum, [50, 99.95])  # the median is the background; the brightest dots saturate
    fig = go.Figure(go.Heatmap(z=spectrum, colorscale="Magma", showscale=False, zmin=lo, zmax=hi))
    fig.update_layout(title="Spectrum of (model − bicubic)", height=360, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(visible=False), yaxis=dict(visible=False, autorange="reversed", scaleanchor="x"))
    return fig


def tradeoff_figure(points) -> go.Figure:
    """PSNR (x: higher = closer pixel by pixel) against the Lite0 feature distance (y: lower = perceptually closer)
    of finished runs, with and without a critic, and bicubic."""
    fig = go.Figure()
    groups = {"without critic": [p for p in points if p.critic == "none"],
              "with critic": [p for p in points if p.critic != "none"]}
    for i, (label, pts) in enumerate(groups.items()):
        if pts:
            fig.add_trace(go.Scatter(x=[p.psnr for p in pts], y=[p.perceptual for p in pts], mode="markers",
                                     name=label, marker=dict(size=12, color=COLOURS[i], symbol=["circle", "star"][i]),
                                     text=[f"{p.run}<br>{p.model}, critic {p.critic}" for p in pts],
                                     hovertemplate="%{text}<br>PSNR %{x:.2f} dB<br>distance %{y:.3f}<extra></extra>"))
    if points:
        fig.add_trace(go.Scatter(x=[points[0].psnr_bicubic], y=[points[0].perceptual_bicubic], mode="markers",
                                 name="bicubic", marker=dict(size=12, color="grey", symbol="x")))
    fig.update_layout(title="The trade-off: PSNR against a perceptual distance (held-out images)",
                      xaxis_title="PSNR on Y (dB) → better pixels", yaxis_title="Lite0 feature distance ↓",
                      **{**_LAYOUT, "height": 360})
    return fig
