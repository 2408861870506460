"""Plotly figures for training runs: the run store's DataFrames in, a Figure out. No computing of results here."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from core.train.suggest import smooth

SMOOTHINGS = ("EMA", "none")
COLOURS = qualitative.Plotly
MAX_POINTS = 1200  # per curve: more points than pixels only slow the browser's redraw while a run is polled
_LAYOUT = dict(margin=dict(l=50, r=20, t=40, b=40), height=320, legend=dict(orientation="h", y=-0.25))


def ema(values: pd.Series, beta: float = 0.9) -> pd.Series:
    """Debiased exponential moving average (core.train.suggest.smooth, as the LR finder's): weight ``beta`` on the
    past."""
    return pd.Series(smooth(values.tolist(), beta), index=values.index)


def _faint(colour: str) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},0.25)"


def thin(values, max_points: int = MAX_POINTS):
    """Every k-th element so that at most about ``max_points`` remain (the last one always kept)."""
    k = max(1, -(-len(values) // max_points))
    if k == 1:
        return values
    idx = np.r_[np.arange(0, len(values) - 1, k), len(values) - 1]
    return values.iloc[idx] if hasattr(values, "iloc") else np.asarray(values)[idx]


def _curve(fig, x, y, name, colour, smoothing, beta, **where) -> None:
    """Raw curve faintly behind, the smoothed one in front (or only the raw one when smoothing is 'none').

    The EMA is computed on every point, then both curves are thinned for drawing.
    """
    x, y = pd.Series(np.asarray(x)), pd.Series(np.asarray(y, dtype=float))
    if smoothing == "EMA" and len(y) > 1:
        raw = dict(color=_faint(colour), width=1)
        fig.add_trace(go.Scatter(x=thin(x), y=thin(y), name=f"{name} (raw)", line=raw, showlegend=False,
                                 hoverinfo="skip"), **where)
        y = ema(y, beta)
    fig.add_trace(go.Scatter(x=thin(x), y=thin(y), name=name, line=dict(color=colour, width=2),
                             mode="lines+markers" if len(y) == 1 else "lines"), **where)  # a lone point: a dot


def _frame_single_point(fig: go.Figure, y_from_zero: bool = True) -> go.Figure:
    """Plotly puts a lone point in a window of +-1 around it: after the first step the loss chart spans steps -1..1
    and an LR of 3e-3 spans -1..1. Give such a chart a window around the point that reads right: one tick at its
    step (or epoch) and, for positive values, a y axis from 0 to twice the value."""
    xs = {x for t in fig.data for x in (t.x if t.x is not None else ())}
    ys = {float(y) for t in fig.data for y in (t.y if t.y is not None else ()) if y is not None and np.isfinite(y)}
    if len(xs) == 1:
        x = float(next(iter(xs)))
        fig.update_xaxes(range=[x - 0.5, x + 0.5], tickvals=[x])
    if len(xs) == 1 and y_from_zero and len(ys) == 1 and next(iter(ys)) > 0:
        fig.update_yaxes(range=[0, 2 * next(iter(ys))])
    return fig


def _whole_numbers(last: float) -> dict:
    """Axis settings for epochs: ticks on whole numbers only (no 'epoch 1.5'), at most about ten of them."""
    return dict(tick0=0, dtick=max(1, int(np.ceil(last / 10))), tickformat="d")


def epoch_end_steps(steps: pd.DataFrame, epochs: pd.DataFrame) -> pd.Series:
    """The step at which each recorded epoch ended (its last logged step), to put epoch metrics on the step axis."""
    last = steps.groupby("epoch")["step"].max() if not steps.empty else pd.Series(dtype=float)
    return epochs["epoch"].map(last).fillna(epochs["epoch"] + 1)


def loss_figure(steps: pd.DataFrame, epochs: pd.DataFrame, smoothing: str = "EMA", beta: float = 0.9) -> go.Figure:
    """Training loss per step (smoothed, raw faint behind) with per-epoch train/val loss as markers."""
    fig = go.Figure()
    if not steps.empty:
        _curve(fig, steps["step"], steps["loss"], "train loss (step)", COLOURS[0], smoothing, beta)
    if not epochs.empty:
        x = epoch_end_steps(steps, epochs)
        for col, colour in (("train_loss", COLOURS[2]), ("val_loss", COLOURS[1])):
            if col in epochs:
                fig.add_trace(go.Scatter(x=x, y=epochs[col], name=col.replace("_", " ") + " (epoch)",
                                         mode="lines+markers", line=dict(color=colour, dash="dot")))
    fig.update_layout(title="Loss", xaxis_title="step", yaxis_title="loss", **_LAYOUT)
    if not epochs.empty:
        size_marks(fig, epochs, epoch_end_steps(steps, epochs).shift(1).fillna(0))  # an epoch starts where one ended
    return _frame_single_point(fig)


def accuracy_figure(epochs: pd.DataFrame) -> go.Figure:
    """Train / validation accuracy per epoch."""
    fig = go.Figure()
    for col, colour in (("train_acc", COLOURS[2]), ("val_acc", COLOURS[1]), ("val_robust_acc", COLOURS[3])):
        if col in epochs:
            fig.add_trace(go.Scatter(x=epochs["epoch"], y=epochs[col], name=col.replace("_", " "),
                                     mode="lines+markers", line=dict(color=colour)))
    fig.update_layout(title="Accuracy", xaxis_title="epoch", yaxis_title="accuracy", yaxis_range=[0, 1.02],
                      xaxis=_whole_numbers(epochs["epoch"].max() if not epochs.empty else 1), **_LAYOUT)
    size_marks(fig, epochs, epochs["epoch"] - 0.5 if "epoch" in epochs else None)
    return _frame_single_point(fig, y_from_zero=False)


def size_marks(fig: go.Figure, epochs: pd.DataFrame, starts) -> None:
    """Progressive resizing (core.train.resize): a dotted line and 'N px' where each input size starts; ``starts``
    gives each epoch's start on the figure's x axis. Nothing when the run kept one size."""
    if "input_size" not in epochs or epochs["input_size"].dropna().empty:
        return
    sizes = epochs["input_size"].ffill()
    for i in range(len(epochs)):
        if i == 0 or sizes.iloc[i] != sizes.iloc[i - 1]:
            fig.add_vline(x=float(starts.iloc[i]), line=dict(dash="dot", width=1, color="grey"),
                          annotation_text=f"{sizes.iloc[i]:.0f} px", annotation_position="top right")


def lr_figure(steps: pd.DataFrame) -> go.Figure:
    """Learning rate per step (shows the schedule, and the unfreeze step for transfer runs)."""
    fig = go.Figure(go.Scatter(x=thin(steps["step"]), y=thin(steps["lr"]), name="lr", line=dict(color=COLOURS[4]),
                               mode="lines+markers" if len(steps) == 1 else "lines"))
    fig.update_layout(title="Learning rate", xaxis_title="step", yaxis_title="lr", yaxis_exponentformat="e",
                      **_LAYOUT)  # 1e+08, not plotly's SI '100M'; small LRs still read 0.001
    return _frame_single_point(fig)


def activation_figure(acts: pd.DataFrame) -> go.Figure:
    """Mean (left) and standard deviation (right) of each layer's output over steps, one line per layer."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("activation mean", "activation std"))
    for i, (layer, g) in enumerate(acts.groupby("layer", sort=False)):
        colour = COLOURS[i % len(COLOURS)]
        for col, stat in enumerate(("mean", "std"), start=1):
            fig.add_trace(go.Scatter(x=thin(g["step"], 600), y=thin(g[stat], 600), name=layer, legendgroup=layer,
                                     showlegend=col == 1, mode="lines+markers" if len(g) == 1 else "lines",
                                     line=dict(color=colour)), row=1, col=col)
    fig.update_xaxes(title_text="step")
    fig.update_layout(title="Activations per layer", **{**_LAYOUT, "height": 360})
    return _frame_single_point(fig, y_from_zero=False)


def activation_heatmap(acts: pd.DataFrame, stat: str = "std") -> go.Figure:
    """Layer x step heatmap of ``stat`` ('std', 'frac_zero', 'mean' or 'grad_norm'); layers input-first, top down."""
    layers = list(dict.fromkeys(acts["layer"]))
    grid = acts.pivot_table(index="layer", columns="step", values=stat, aggfunc="last").reindex(layers)
    scale = "Viridis" if stat != "frac_zero" else "Reds"
    fig = go.Figure(go.Heatmap(z=grid.values, x=grid.columns, y=layers, colorscale=scale,
                               colorbar=dict(title=stat), zmin=0 if stat == "frac_zero" else None,
                               zmax=1 if stat == "frac_zero" else None))
    if len(grid.columns) <= 10:  # a few recorded steps: label exactly those (not -0.4 ... 0.4 around one)
        fig.update_xaxes(tickvals=list(grid.columns))
    fig.update_layout(title=f"{stat} per layer over steps", xaxis_title="step", yaxis_autorange="reversed",
                      yaxis_type="category",
                      **{**_LAYOUT, "height": max(260, 60 + 28 * len(layers))})
    return fig


def confusion_figure(matrix: np.ndarray, classes: list[str], normalise: bool = True) -> go.Figure:
    """Confusion matrix (rows: true class, columns: predicted); normalised per true class by default."""
    m = np.asarray(matrix, dtype=float)
    shown = m / np.maximum(m.sum(axis=1, keepdims=True), 1) if normalise else m
    text = [[f"{int(c)}" for c in row] for row in m]
    fig = go.Figure(go.Heatmap(z=shown, x=classes, y=classes, colorscale="Blues", text=text,
                               texttemplate="%{text}", zmin=0, zmax=1 if normalise else None,
                               colorbar=dict(title=dict(text="share of<br>true class" if normalise else "count",
                                                        side="right")),
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>"))
    side = min(700, 160 + 36 * len(classes))
    fig.update_layout(title="Confusion matrix (validation)", xaxis_title="predicted", yaxis_title="true",
                      xaxis_type="category", yaxis_type="category", yaxis_autorange="reversed", height=side,
                      margin=dict(l=60, r=20, t=40, b=40))
    return fig


def per_class_figure(accuracy: np.ndarray, classes: list[str]) -> go.Figure:
    """Validation accuracy of each class as bars."""
    fig = go.Figure(go.Bar(x=classes, y=accuracy, marker_color=COLOURS[0],
                           text=[f"{a:.0%}" for a in accuracy], textposition="outside"))
    fig.update_layout(title="Accuracy per class (validation)", yaxis_range=[0, 1.1], yaxis_title="accuracy",
                      xaxis_type="category", **_LAYOUT)
    return fig


def probabilities_figure(probs, classes: list[str]) -> go.Figure:
    """Class probabilities of one prediction, most likely first."""
    order = np.argsort(probs)[::-1]
    fig = go.Figure(go.Bar(x=[probs[i] for i in order], y=[classes[i] for i in order], orientation="h",
                           marker_color=COLOURS[0], text=[f"{probs[i]:.1%}" for i in order]))
    fig.update_layout(title="Class probabilities", xaxis_range=[0, 1.05], yaxis_autorange="reversed",
                      yaxis_type="category",
                      **{**_LAYOUT, "height": min(500, 120 + 26 * len(classes))})
    return fig


METRIC_NAMES = {"val_acc": "validation accuracy", "val_loss": "validation loss", "train_loss": "training loss",
                "train_acc": "training accuracy", "loss": "training loss (per step)", "lr": "learning rate",
                "val_robust_acc": "robust accuracy (PGD, validation subset)"}


def overlay_figure(curves: dict[str, pd.DataFrame], metric: str, smoothing: str = "EMA",
                   beta: float = 0.9) -> go.Figure:
    """One curve per run for ``metric``: 'loss' / 'lr' from the steps table, an epoch metric (val_acc...) otherwise.

    ``curves`` maps a run label to its steps DataFrame (for 'loss', 'lr') or epochs DataFrame (other metrics).
    """
    fig = go.Figure()
    x_col = "step" if metric in ("loss", "lr") else "epoch"
    for i, (label, df) in enumerate(curves.items()):
        if metric in df and not df.empty:
            colour = COLOURS[i % len(COLOURS)]
            if x_col == "step":
                _curve(fig, df[x_col], df[metric], label, colour, smoothing, beta)
            else:
                fig.add_trace(go.Scatter(x=df[x_col], y=df[metric], name=label, mode="lines+markers",
                                         line=dict(color=colour)))
    name = METRIC_NAMES.get(metric, metric)
    fig.update_layout(title=f"{name[0].upper()}{name[1:]} by run", xaxis_title=x_col, yaxis_title=name, **_LAYOUT)
    if x_col == "epoch":  # whole epochs, not 1.5
        last = max((df[x_col].max() for df in curves.values() if not df.empty and x_col in df), default=1)
        fig.update_xaxes(**_whole_numbers(last))
    return fig
