"""Figures and display images for the Inspect page: results in, a plotly Figure or an RGB array out."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from PIL import Image

from core.inspect import overlay, spectrogram_image
from core.inspect.cam import to_rgb, upsample

DISPLAY_SIDE = 224  # small inputs (8x8 digits) are enlarged to about this many pixels for display
_LAYOUT = dict(margin=dict(l=50, r=20, t=40, b=40), height=340)


def layer_frame(rows, depth: int | None = None) -> pd.DataFrame:
    """The layer table as a DataFrame (numbers stay numbers, so every column sorts), down to ``depth`` levels."""
    shown = [r for r in rows if depth is None or r.depth < depth]
    return pd.DataFrame({
        "#": [rows.index(r) for r in shown],
        "layer": ["· " * r.depth + r.name for r in shown],
        "type": [r.type for r in shown],
        "output shape": [" × ".join(map(str, r.output_shape[1:])) for r in shown],
        "params": [r.params for r in shown],
        "trainable": [r.trainable for r in shown],
        "mult-adds": [r.mult_adds for r in shown],
        "receptive field": [r.field_text for r in shown],
        "jump": ["" if r.jump is None else "×".join(f"{j:g}" for j in dict.fromkeys(r.jump)) for r in shown],
    })


def _powers_of_two(top: float) -> list[int]:
    return [2 ** i for i in range(0, max(1, int(np.ceil(np.log2(max(top, 1))))) + 1)]


MAX_FIELD_TICKS = 40  # x labels of the receptive-field chart: more overlap at the page's width


def field_growth_figure(rows) -> go.Figure:
    """Receptive field and jump after each layer (in call order), log scale; where it becomes global is marked."""
    leaves = [r for r in rows if r.leaf and (r.receptive_field is not None or r.global_field)]
    names = [f"{i}. {r.name}" for i, r in enumerate(leaves)]  # numbered: a layer called twice appears twice
    local = [(n, r) for n, r in zip(names, leaves) if r.receptive_field is not None]
    fig = go.Figure()
    if local:
        x = [n for n, _ in local]
        fig.add_trace(go.Scatter(x=x, y=[max(r.receptive_field) for _, r in local], name="receptive field (px)",
                                 mode="lines+markers", hovertemplate="%{x}: field %{y}<extra></extra>"))
        fig.add_trace(go.Scatter(x=x, y=[max(r.jump) for _, r in local], name="jump (px between units)",
                                 mode="lines", line=dict(dash="dot"), hovertemplate="%{x}: jump %{y}<extra></extra>"))
        top = max(max(r.receptive_field) for _, r in local)
        fig.update_yaxes(type="log", tickvals=_powers_of_two(top), title="input pixels")
    first_global = next((i for i, r in enumerate(leaves) if r.global_field), None)
    if first_global is not None:
        fig.add_trace(go.Scatter(x=names[first_global:], y=[None] * (len(names) - first_global), showlegend=False))
        fig.add_vline(x=first_global - 0.5, line_dash="dash", line_color="grey")
        fig.add_annotation(x=first_global - 0.5, y=0, yref="paper", text="global from here", showarrow=False,
                           xanchor="right", yanchor="bottom", font=dict(color="grey"))
    fig.update_layout(title="Receptive field growth, layer by layer", legend=dict(orientation="h", y=1.12, x=1,
                      xanchor="right"), margin=dict(l=50, r=20, t=60, b=140), height=440)
    step = max(1, -(-len(names) // MAX_FIELD_TICKS))  # EfficientNet has ~150 layers: label every step-th one
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=names, tickangle=-50,
                     tickfont=dict(size=10), tickvals=names[::step])
    return fig


def to_display(x: torch.Tensor, input_kind: str) -> np.ndarray:
    """One input as an RGB uint8 image: images as they are, spectrograms grey with low frequencies at the bottom."""
    if input_kind == "spectrogram":
        grey = spectrogram_image(x)[::-1]  # row 0 = highest band, as a picture of a spectrogram is read
        return (np.repeat(grey[..., None], 3, axis=2) * 255).round().astype(np.uint8)
    return (to_rgb(x) * 255).round().astype(np.uint8)


def enlarge(rgb: np.ndarray, side: int = DISPLAY_SIDE, min_height: int = 0) -> np.ndarray:
    """Nearest-neighbour enlargement of a small image (pixels stay visible), longer side about ``side``; rows are
    repeated further until it is ``min_height`` tall (a 64-band spectrogram over 200 frames)."""
    h, w = rgb.shape[:2]
    k = max(1, side // max(h, w))
    rows = max(k, -(-min_height // h))
    if k == 1 and rows == 1:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((w * k, h * rows), Image.Resampling.NEAREST))


def display_input(x: torch.Tensor, input_kind: str) -> np.ndarray:
    """One input ready to show: enlarged when small, spectrograms at least 192 pixels tall."""
    return enlarge(to_display(x, input_kind), min_height=192 if input_kind == "spectrogram" else 0)


def cam_display(x: torch.Tensor, cam: torch.Tensor, input_kind: str, opacity: float) -> np.ndarray:
    """The map over the (enlarged) input: RGB uint8. Spectrograms are flipped so low frequencies are at the bottom."""
    cam = torch.as_tensor(cam)
    return overlay(display_input(x, input_kind), cam.flip(0) if input_kind == "spectrogram" else cam, opacity)


def image_with_box(rgb: np.ndarray, box: tuple, title: str, flip_rows: bool = False) -> go.Figure:
    """The input with the receptive field of one unit outlined; ``box`` = ((first row, last row), (first col, last
    col)) in input pixels (``flip_rows``: rows counted from the bottom, as for spectrograms)."""
    (r0, r1), (c0, c1) = box
    if flip_rows:
        h = rgb.shape[0]
        r0, r1 = h - 1 - r1, h - 1 - r0
    fig = go.Figure(go.Image(z=rgb))
    fig.add_shape(type="rect", x0=c0 - 0.5, x1=c1 + 0.5, y0=r0 - 0.5, y1=r1 + 0.5,
                  line=dict(color="#ff2b2b", width=3))
    fig.update_layout(title=title, margin=dict(l=10, r=10, t=40, b=10), height=360)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return fig


def waveform_figure(wave: torch.Tensor, cam: torch.Tensor | None = None, span: tuple | None = None,
                    title: str = "") -> go.Figure:
    """A waveform with its Grad-CAM (resized to the samples) below it, or one unit's field as a shaded span."""
    w = torch.as_tensor(wave, dtype=torch.float32).flatten()
    step = max(1, len(w) // 4000)
    x = np.arange(0, len(w), step)
    fig = go.Figure(go.Scatter(x=x, y=w[::step].numpy(), name="waveform", line=dict(width=1)))
    if cam is not None:
        c = torch.as_tensor(cam, dtype=torch.float32).flatten()
        c = upsample(c[None], (1, len(w)))[0] / max(float(c.max()), 1e-12)
        fig.add_trace(go.Scatter(x=x, y=(c[::step] * float(w.abs().max() or 1)).numpy(), name="Grad-CAM",
                                 fill="tozeroy", line=dict(width=0), opacity=0.5))
    if span is not None:
        fig.add_vrect(x0=span[0], x1=span[1] + 1, fillcolor="red", opacity=0.2, line_width=0)
    fig.update_layout(title=title, xaxis_title="sample", **_LAYOUT)
    return fig


def logit_bars(names: list[str], start: list[float], end: list[float]) -> go.Figure:
    """Each visualised class's logit at the grey start and at the end of the ascent."""
    fig = go.Figure([go.Bar(x=names, y=start, name="grey start"), go.Bar(x=names, y=end, name="after the ascent")])
    fig.update_layout(title="Target logit before and after", barmode="group", yaxis_title="logit", **_LAYOUT)
    return fig
