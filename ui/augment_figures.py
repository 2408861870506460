"""Figures and small renderings for the Augment page: results in, plotly figures / HTML / captions out."""
from __future__ import annotations

import html
import re

import plotly.colors
import plotly.graph_objects as go
import torch

from core.augment import StepDraw, describe

# explicit rgb() stops: in the served app the first stop of the named scale ("#000004") came out pink, not black
MAGMA = [[i / (len(plotly.colors.sequential.Magma) - 1), "rgb(%d, %d, %d)" % plotly.colors.hex_to_rgb(c)]
         for i, c in enumerate(plotly.colors.sequential.Magma)]
TAG_COLOURS = {"synonym": "#fde68a", "inserted": "#bbf7d0", "swapped": "#bfdbfe"}  # yellow, green, blue


def spectrogram_figure(spec: torch.Tensor, title: str, bands: dict | None = None, height: int = 260,
                       zrange: tuple[float, float] | None = None) -> go.Figure:
    """A (1, n_mels, T) log-mel in dB as a heatmap (frames x mel bins); ``bands`` outlines masked rows/columns.
    ``zrange`` (dB) fixes the colour scale, so panels shown side by side compare (default: this one's range)."""
    z = spec[0].double().numpy().round(2).tolist()  # plain lists: float32 typed arrays decode wrongly in the browser
    limits = {"zmin": zrange[0], "zmax": zrange[1]} if zrange else {}
    fig = go.Figure(go.Heatmap(z=z, colorscale=MAGMA, colorbar={"title": "dB", "thickness": 10}, **limits))
    for axis, spans in (bands or {}).items():
        for start, end in spans:
            if end <= start:
                continue
            box = dict(x0=start - 0.5, x1=end - 0.5, yref="paper", y0=0, y1=1) if axis == "time" else \
                dict(y0=start - 0.5, y1=end - 0.5, xref="paper", x0=0, x1=1)
            fig.add_shape(type="rect", line={"color": "cyan", "width": 1}, **box)
    fig.update_layout(title=title, height=height, margin=dict(l=40, r=10, t=40, b=30),
                      xaxis_title="frame (10 ms)", yaxis_title="mel bin")
    return fig


def db_range(spec: torch.Tensor, top_db: float = 80.0, headroom: float = 12.0) -> tuple[float, float]:
    """One colour scale (dB) for a spectrogram and its augmented versions: its loudest bin plus ``headroom``
    (a gain may make it louder) down to ``top_db`` below its loudest bin."""
    top = float(spec.max())
    return round(top - top_db, 1), round(top + headroom, 1)


def step_label(index: int, name: str, applied: bool = True) -> str:
    """A caption for step ``index``: '1\\.' so it is not a Markdown list, and zero-width spaces between the words of
    the name, so a long one (RandomResizedCrop) wraps between its words, not inside them."""
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", "\u200b", name)
    return f"{index}\\. {words}" + ("" if applied else " (skipped)")


def beta_figure(lam_grid: torch.Tensor, density: torch.Tensor, alpha: float, lam: float) -> go.Figure:
    """Beta(alpha, alpha) density with the lambda in use marked."""
    fig = go.Figure(go.Scatter(x=lam_grid.numpy(), y=density.numpy(), mode="lines", name="density"))
    fig.add_vline(x=lam, line_color="crimson", annotation_text=f"λ = {lam:.2f}")
    fig.update_layout(title=f"λ ~ Beta({alpha:g}, {alpha:g})", height=260, margin=dict(l=40, r=10, t=40, b=30),
                      xaxis_title="λ", yaxis_title="density", yaxis_range=[0, min(float(density.max()) * 1.05, 6)])
    return fig


def soft_label_figure(classes: list[str], probs: torch.Tensor) -> go.Figure:
    """The mixed sample's soft label as bars."""
    fig = go.Figure(go.Bar(x=classes, y=probs.tolist(), text=[f"{p:.2f}" for p in probs.tolist()]))
    fig.update_layout(title="soft label", height=260, yaxis_range=[0, 1], margin=dict(l=40, r=10, t=40, b=30))
    fig.update_xaxes(type="category")  # class names like "0".."9" are labels, not numbers
    return fig


# drawn values that are internal bookkeeping or too bulky for a caption
_HIDDEN = {"fn_idx", "needs_crop", "needs_pad", "padding", "noise", "v", "coefficients", "num_input_channels"}


def draw_caption(records: list[StepDraw], max_items: int = 4) -> str:
    """What each step drew, one markdown line per step, e.g. 'Rotation: angle -7.2' / 'HorizontalFlip: skipped'."""
    lines = []
    for r in records:
        name = r.name.removeprefix("Random") or r.name
        if not r.applied:
            lines.append(f"{name}: skipped")
            continue
        values = [f"{k.removesuffix('_factor')} {_short(v)}" for k, v in describe(r.params).items()
                  if k not in _HIDDEN and not _is_bulky(v)][:max_items]
        lines.append(f"{name}: {', '.join(values)}" if values else name)
    return "  \n".join(lines)


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, list):
        return "(" + ", ".join(_short(i) for i in v) + ")"
    return str(v)


def _is_bulky(v) -> bool:
    return isinstance(v, str) and v.startswith("tensor") or isinstance(v, list) and len(v) > 4


def highlight_html(tokens) -> str:
    """Augmented text (core.augment.text.Tokens) as HTML with changed words coloured and deleted words listed."""
    words = []
    for w in tokens.words:
        text = html.escape(w.text)
        if w.tag:
            title = f"{w.tag}" + (f" (was {html.escape(w.was)})" if w.was else "")
            text = f'<span title="{title}" style="background:{TAG_COLOURS[w.tag]};border-radius:3px;' \
                   f'padding:0 2px">{text}</span>'
        words.append(text)
    deleted = ""
    if tokens.deleted:
        deleted = ' <span style="color:#b91c1c">deleted: ' + \
                  ", ".join(f"<s>{html.escape(d)}</s>" for d in tokens.deleted) + "</span>"
    return " ".join(words) + deleted


def legend_html() -> str:
    """Colour key for highlight_html."""
    return " ".join(f'<span style="background:{c};border-radius:3px;padding:0 4px">{t}</span>'
                    for t, c in TAG_COLOURS.items()) + ' <span style="color:#b91c1c"><s>deleted</s></span>'
