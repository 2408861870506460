"""Plotly figures for the Datasets page, built from ``DataBundle.summary()`` and core results (no computing here)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from PIL import Image

SPLIT_COLOURS = {"train": "#4C78A8", "val": "#F58518", "test": "#54A24B"}
# explicit rgb() stops, not the name "Viridis": the served app's chart theme redrew a named scale's low end wrongly
VIRIDIS = [[i / (len(px.colors.sequential.Viridis) - 1), "rgb(%d, %d, %d)" % px.colors.hex_to_rgb(c)]
           for i, c in enumerate(px.colors.sequential.Viridis)]


def _layout(fig: go.Figure, title: str, height: int = 360) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50, b=10), legend_title_text="")
    return fig


def class_balance(summary: dict) -> go.Figure:
    """Samples per class, one bar group per split."""
    fig = go.Figure()
    for split, counts in summary["counts"].items():
        fig.add_bar(name=split, x=list(counts), y=list(counts.values()), marker_color=SPLIT_COLOURS.get(split))
    fig.update_layout(barmode="group", xaxis_title="class", yaxis_title="samples")
    fig.update_xaxes(type="category")  # class names like "0".."9" are labels, not numbers
    return _layout(fig, "Class balance per split")


def image_sizes(summary: dict) -> go.Figure:
    """Original width x height of the images, per class (marker area grows with how many share a size)."""
    rows = [(c, w, h, n) for c, d in summary["images"].items() for w, h, n in d["sizes"]]
    fig = px.scatter(x=[r[1] for r in rows], y=[r[2] for r in rows], color=[r[0] for r in rows],
                     size=[np.sqrt(r[3]) for r in rows], size_max=18, opacity=0.7,
                     hover_data={"images": [r[3] for r in rows]}, labels={"x": "width (px)", "y": "height (px)"})
    fig.update_xaxes(rangemode="tozero")
    fig.update_yaxes(rangemode="tozero")
    return _layout(fig, "Original image sizes per class (width × height)", 420)


def size_table(summary: dict) -> list[dict]:
    """One row per class: images, median original width/height, colour modes (for ``st.dataframe``)."""
    return [{"class": c, "images": d["n"], "median width": d["width"]["median"], "median height": d["height"]["median"],
             "modes": ", ".join(f"{m} ×{n}" for m, n in d["modes"].items())} for c, d in summary["images"].items()]


def durations(summary: dict) -> go.Figure:
    """Clip durations, stacked per class when the summary carries them, else the overall histogram."""
    fig = go.Figure()
    if "durations_by_class" in summary:
        edges = _duration_edges(summary["durations"]["min"], summary["durations"]["max"])
        for c, values in summary["durations_by_class"].items():  # binned here: plotly.js draws nothing for
            counts, _ = np.histogram(values, bins=edges)          # xbins narrower than 1e-3 (all clips equally long)
            fig.add_bar(x=(edges[:-1] + edges[1:]) / 2, y=counts.tolist(), width=np.diff(edges).tolist(), name=c)
        fig.update_layout(barmode="stack", bargap=0)
    else:
        h = summary["duration_histogram"]
        fig.add_bar(x=[(a + b) / 2 for a, b in zip(h["edges"], h["edges"][1:])], y=h["counts"], name="clips")
    fig.add_vline(x=summary["clip_seconds"], line_dash="dash", annotation_text="training clip length")
    fig.update_layout(xaxis_title="seconds", yaxis_title="clips")
    return _layout(fig, "Clip durations")


def _duration_edges(lo: float, hi: float, bins: int = 30) -> np.ndarray:
    """Shared bin edges for every class; at least 10 ms wide, so equally long clips still make one visible bar."""
    size = max((hi - lo) / bins, 0.01)
    return np.arange(lo - size / 2, hi + size, size)


def sample_rates(summary: dict) -> go.Figure:
    """How many clips came at each original sample rate and channel count."""
    fig = make_subplots(1, 2, subplot_titles=("original sample rate (Hz)", "original channels"))
    rates, channels = summary["original_sample_rates"], summary["original_channels"]
    fig.add_bar(x=list(rates), y=list(rates.values()), row=1, col=1, showlegend=False)
    fig.add_bar(x=list(channels), y=list(channels.values()), row=1, col=2, showlegend=False)
    fig.update_xaxes(type="category")
    return _layout(fig, f"Formats (all resampled to {summary['sample_rate']} Hz mono)", 300)


def waveform(wave: np.ndarray, sample_rate: int, max_points: int = 4000) -> go.Figure:
    """Amplitude over time (decimated to at most ``max_points`` points for the browser)."""
    step = max(1, len(wave) // max_points)
    t = np.arange(0, len(wave), step) / sample_rate
    fig = go.Figure(go.Scatter(x=t, y=wave[::step], mode="lines", line=dict(width=1)))
    fig.update_layout(xaxis_title="seconds", yaxis_title="amplitude")
    return _layout(fig, "Waveform", 260)


def spectrogram(values: np.ndarray, hop_seconds: float, mel_hz: np.ndarray, title: str, unit: str) -> go.Figure:
    """A (n_mels, frames) spectrogram as a heatmap: time across, mel band (labelled in Hz) up."""
    t = np.arange(values.shape[1]) * hop_seconds
    fig = go.Figure(go.Heatmap(z=values, x=t, y=np.round(mel_hz).astype(int), colorscale=VIRIDIS,
                               colorbar=dict(title=unit)))
    fig.update_yaxes(type="category", nticks=8, title="mel band centre (Hz)")
    fig.update_xaxes(title="seconds")
    return _layout(fig, title, 300)


def token_lengths(summary: dict) -> go.Figure:
    """Histogram of tokens per text (train and val)."""
    h = summary["token_length_histogram"]
    centres = [(a + b) / 2 for a, b in zip(h["edges"], h["edges"][1:])]
    fig = go.Figure(go.Bar(x=centres, y=h["counts"]))
    fig.update_layout(xaxis_title="tokens per text", yaxis_title="texts", bargap=0.05)
    return _layout(fig, "Token lengths")


def vocab_curve(summary: dict) -> go.Figure:
    """Vocabulary size, share of training tokens covered, and validation OOV rate as the max size grows."""
    curve = summary["vocab_curve"]
    x = [p["max_size"] for p in curve]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(x=x, y=[p["vocab_size"] for p in curve], name="vocabulary size", mode="lines+markers")
    fig.add_scatter(x=x, y=[p["train_coverage"] for p in curve], name="train tokens covered", mode="lines+markers",
                    secondary_y=True)
    fig.add_scatter(x=x, y=[p["val_oov_rate"] for p in curve], name="val OOV rate", mode="lines+markers",
                    secondary_y=True)
    fig.update_xaxes(type="log", title="max vocabulary size", tickvals=x, ticktext=[f"{v:,}" for v in x])
    fig.update_yaxes(title="tokens kept", secondary_y=False)
    fig.update_yaxes(title="share", tickformat=".0%", range=[0, 1.02], secondary_y=True)
    fig = _layout(fig, f"Vocabulary size vs max size (in use: {summary['vocab_size']} of max {summary['max_vocab']})")
    return fig.update_layout(legend=dict(orientation="h", y=-0.25))


def top_tokens(summary: dict, n: int = 10) -> go.Figure:
    """The most frequent content words (no stop words, no punctuation) in each class."""
    classes = list(summary["top_tokens"])
    fig = make_subplots(1, len(classes), subplot_titles=classes, horizontal_spacing=0.08)
    for i, c in enumerate(classes, 1):
        pairs = summary["top_tokens"][c][:n][::-1]
        fig.add_bar(x=[p[1] for p in pairs], y=[p[0] for p in pairs], orientation="h", row=1, col=i, showlegend=False)
    return _layout(fig, "Top tokens per class (stop words removed)", 60 + 28 * n)


def thumbnail(path: str | Path, size: int = 96) -> Image.Image:
    """An image file for display: small images enlarged with visible pixels, large ones shrunk."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        scale = size / max(im.size)
        resample = Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS
        return im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), resample)
