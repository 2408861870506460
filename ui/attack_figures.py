"""Plotly figures and display images for the Adversarial page: core results in, figures out (no computing here)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.colors import qualitative

from core.attacks.methods import METHODS

COLOURS = qualitative.Plotly


def method_name(name: str) -> str:
    """An attack method's label ("PGD"), from the registry (core.attacks.methods)."""
    return METHODS[name].label if name in METHODS else name


def method_dash(name: str) -> str:
    """An attack method's line style on charts (the registry's convention: FGSM solid, PGD dashed)."""
    return METHODS[name].dash if name in METHODS else "solid"
_LAYOUT = dict(margin=dict(l=50, r=20, t=50, b=40), legend=dict(orientation="h", y=-0.25))


def to_pil(x: np.ndarray, min_size: int = 160) -> Image.Image:
    """An image (C, H, W) in [0, 1] as PIL, enlarged with visible pixels to at least ``min_size`` across."""
    arr = np.clip(np.rint(np.asarray(x, dtype=np.float32) * 255), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0))
    scale = max(1, -(-min_size // max(img.size)))
    return img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST) if scale > 1 else img


def eps_text(eps: float, kind: str = "image") -> str:
    """Epsilon as a fraction and, for images, in /255 steps to one decimal: '0.03137 (8/255)'."""
    if kind != "image":
        return f"{eps:.4g}"
    steps = f"{eps * 255:.1f}".rstrip("0").rstrip(".")  # 8/255, 76.5/255
    return f"{eps:.4g} ({steps}/255)"


def top_k_figure(pairs: list[tuple[str, float]], title: str, highlight: str | None = None) -> go.Figure:
    """Horizontal bars of the top classes, most probable on top; ``highlight`` (e.g. the true class) in orange."""
    colours = [COLOURS[1] if name == highlight else COLOURS[0] for name, _ in pairs]
    fig = go.Figure(go.Bar(x=[p for _, p in pairs], y=[n for n, _ in pairs], orientation="h", marker_color=colours,
                           text=[f"{p:.1%}" for _, p in pairs], textposition="auto"))
    fig.update_layout(title=title, xaxis_range=[0, 1.05], yaxis_autorange="reversed", yaxis_type="category",
                      height=110 + 32 * len(pairs), margin=dict(l=10, r=10, t=40, b=20))
    return fig


def waveform_figure(x: np.ndarray, x_adv: np.ndarray, sample_rate: int) -> go.Figure:
    """The clean waveform and the perturbation (x_adv - x) on the same time axis."""
    x, delta = np.asarray(x).reshape(-1), (np.asarray(x_adv) - np.asarray(x)).reshape(-1)
    step = max(1, len(x) // 4000)  # at most ~4000 points per trace
    t = np.arange(0, len(x), step) / sample_rate
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=t, y=x[::step], name="original", line=dict(color=COLOURS[0], width=1)))
    fig.add_trace(go.Scatter(x=t, y=delta[::step], name="perturbation", line=dict(color=COLOURS[1], width=1)))
    fig.update_layout(title="Waveform and perturbation", xaxis_title="time (s)", yaxis_title="amplitude",
                      height=300, **_LAYOUT)
    return fig


def sweep_figure(results: dict, title: str = "Accuracy versus epsilon", kind: str = "image") -> go.Figure:
    """Accuracy against epsilon, one line per attack method (FGSM solid, PGD dashed)."""
    return compare_figure({"": results}, title, kind)


def compare_figure(curves: dict[str, dict], title: str = "Robustness of several runs",
                   kind: str = "image") -> go.Figure:
    """``curves``: run label -> {method: SweepResult}. One colour per run, one dash style per method."""
    fig = go.Figure()
    for i, (label, results) in enumerate(curves.items()):
        for method, r in results.items():
            name = f"{label} · {method_name(method)}" if label else method_name(method)
            hover = [f"eps {eps_text(e, kind)}<br>accuracy {a:.1%}" for e, a in zip(r.epsilons, r.accuracy)]
            fig.add_trace(go.Scatter(x=r.epsilons, y=r.accuracy, name=name, mode="lines+markers", hovertext=hover,
                                     hoverinfo="text", line=dict(color=COLOURS[i % len(COLOURS)],
                                                                 dash=method_dash(method))))
    axis = {"image": "epsilon (pixel units: 8/255 = 0.031)", "audio": "epsilon (waveform units)"}.get(kind, "epsilon")
    rows = len(fig.data) if len(curves) > 1 else 1  # several runs: one legend line per curve, under the chart
    # the plot area stays 240 px high; the margin under it grows with the legend (y: paper units of that area)
    fig.update_layout(title=title, xaxis_title=axis, yaxis_title="accuracy", yaxis_range=[0, 1.02],
                      height=360 + 22 * rows, margin=dict(l=50, r=20, t=50, b=70 + 22 * rows),
                      legend=dict(orientation="v" if rows > 1 else "h", yanchor="top", y=-0.25, x=0))
    return fig


def per_class_figure(result, kind: str = "image") -> go.Figure:
    """Accuracy per class (rows) at each epsilon (columns) of one sweep, as a heatmap."""
    z = np.array([[np.nan if v is None else v for v in row] for row in result.per_class], dtype=float).T
    classes = result.classes or [str(i) for i in range(z.shape[0])]
    fig = go.Figure(go.Heatmap(z=z, x=[eps_text(e, kind) for e in result.epsilons], y=classes, zmin=0, zmax=1,
                               colorscale="Viridis", colorbar=dict(title="accuracy"),
                               hovertemplate="class %{y}<br>eps %{x}<br>accuracy %{z:.1%}<extra></extra>"))
    fig.update_layout(title=f"Accuracy per class under {method_name(result.method)}",
                      xaxis_title="epsilon", yaxis_type="category", height=140 + 22 * len(classes),
                      margin=dict(l=10, r=10, t=50, b=40))
    return fig
