"""LR Finder page helpers: the widget groups (settings in, configs out) and the range-test figure (result in,
plotly Figure out). Nothing here computes a suggestion: they come with the result (core.train.suggest)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.models import default_model
from core.train import recommended, TrainConfig
from core.train.lr_finder import LRFinderReport, SweepSettings
from core.train.suggest import EXPLANATIONS, MIN_DROP, smoothing_hides_drop
from ui.page_state import index_of, recall
from ui.train_ui import model_ui, optimizer_ui, transfer_ui

COLOURS = {"curve": "#1f77b4", "steepest": "#d62728", "valley": "#2ca02c", "minimum/10": "#9467bd"}
SYMBOLS = {"steepest": "triangle-down", "valley": "diamond", "minimum/10": "square"}
TYPED = "type a value"
DECADES = [10.0 ** k for k in range(-9, 3)]  # choices for the ends of the sweep (1e-9 .. 100)


# -- widgets ---------------------------------------------------------------------------------------------------------

def lr_config_ui(data: str, kind: str, key: str = "lr", bundle=None) -> TrainConfig:
    """Model, batch size, optimizer and transfer settings, as on the Train page (its widgets), as a TrainConfig,
    pre-filled with the registry's defaults for the data (its default model when ``bundle`` is given)."""
    choice = model_ui(kind, key, data, default_model(bundle) if bundle is not None else None)
    defaults = recommended(choice.model, data, model_opts=choice.model_opts)
    k = f"{key}-bs-{choice.model}-{data}"
    batch = st.number_input("Batch size", min_value=1, key=k, help="the same batch size as training: the best LR "
                                                                   "depends on it",
                            value=recall(k, defaults.batch_size, "batch_size", allowed=lambda v: v >= 1))
    optim = optimizer_ui(key, choice.model, show_lr=False, data=data)
    st.caption("No learning rate to set here: the sweep tries every LR between its start and end. The optimizer, "
               "weight decay, momentum and batch size are what shape the curve.")
    transfer = transfer_ui(key, choice.model, defaults.epochs, data)
    return defaults.replace(model_opts=choice.model_opts, batch_size=int(batch), optimizer=optim.optimizer,
                            weight_decay=optim.weight_decay, momentum=optim.momentum,
                            freeze_epochs=transfer.freeze_epochs, train_bn=transfer.train_bn,
                            lr_decay=transfer.lr_decay)


def sweep_ui(key: str = "lr") -> tuple[SweepSettings, int]:
    """Range of the sweep, its length and how many seeds; returns (settings, number of seeds)."""
    d = SweepSettings()
    c1, c2, c3 = st.columns([2, 1, 1])
    in_menu = lambda v: all(x in DECADES for x in v) and v[0] <= v[1]  # noqa: E731
    start, end = c1.select_slider("LR range", DECADES, key=f"{key}-range",
                                  value=recall(f"{key}-range", (d.start_lr, d.end_lr), "lr_range", allowed=in_menu),
                                  format_func=lambda v: f"{v:.0e}",
                                  help="the sweep starts where nothing happens and ends where training blows up")
    num_iter = c2.number_input("Steps", min_value=2, step=10, key=f"{key}-iters",
                               value=recall(f"{key}-iters", d.num_iter, "steps", allowed=lambda v: v >= 2),
                               help="one batch per step; the sweep stops early when the loss blows up")
    seeds = c3.number_input("Repeat with N seeds", min_value=1, max_value=10, key=f"{key}-seeds",
                            value=recall(f"{key}-seeds", 1, "seeds", allowed=lambda v: 1 <= v <= 10),
                            help="several sweeps show how much the curve and the suggestions vary by chance")
    with st.expander("Advanced"):
        c1, c2, c3 = st.columns(3)
        mode = c1.radio("LR steps", ("exp", "linear"), key=f"{key}-mode",
                        index=index_of(("exp", "linear"), f"{key}-mode", d.step_mode, "step_mode"),
                        format_func=lambda m: {"exp": "exponential (same number per decade)", "linear": "linear"}[m])
        beta = c2.slider("Smoothing β", 0.0, 0.99, recall(f"{key}-beta", d.beta, "beta",
                                                          allowed=lambda v: 0 <= v <= 0.99), 0.01, key=f"{key}-beta",
                         help="weight of the past in the smoothed curve; it lags about 1/(1-β) steps behind the "
                              "raw loss, so lower it for short sweeps")
        diverge = c3.number_input("Stop at × best loss", min_value=1.1, step=0.5, key=f"{key}-diverge",
                                  value=recall(f"{key}-diverge", d.diverge, "diverge", allowed=lambda v: v >= 1.1),
                                  help="the sweep stops once the smoothed loss exceeds this multiple of its lowest "
                                       "value")
    sweep = SweepSettings(start_lr=float(start), end_lr=float(end), num_iter=int(num_iter), step_mode=mode,
                          beta=float(beta), diverge=float(diverge))
    return sweep, int(seeds)


def suggestions_table(report: LRFinderReport) -> pd.DataFrame:
    """One row per offered suggestion: its LR (the median over seeds with several), its spread and what it means."""
    rows, several = [], len(report.results) > 1
    for name, lr in report.suggestions.items():
        row = {"suggestion": name, "learning rate": f"{lr:.2e}"}
        spread = report.spread.suggestions.get(name)
        if several and spread:
            missing = report.missing(name)
            row["over seeds"] = (f"median of {len(spread.values)}/{len(report.results)} sweeps; {spread.low:.1e} … "
                                 f"{spread.high:.1e} ({spread.decades:.1f} decades)"
                                 + (f"; no suggestion from {missing}" if missing else ""))
        row["what it means"] = EXPLANATIONS[name]
        rows.append(row)
    return pd.DataFrame(rows)


def pick_lr_ui(report: LRFinderReport, key: str = "lr") -> float | None:
    """Choose a suggestion (with several seeds, the median over them comes preselected) or type a value."""
    suggestions = report.suggestions
    options = list(suggestions) + [TYPED]
    median = " (median over seeds)" if len(report.results) > 1 else ""
    choice = st.radio("Learning rate for training", options, horizontal=True, key=f"{key}-pick",
                      format_func=lambda o: o if o == TYPED else f"{o}: {suggestions[o]:.2e}{median}")
    if choice != TYPED:
        return suggestions[choice]
    default = float(st.session_state.get("lr_for_training") or next(iter(suggestions.values()), 1e-3))
    return float(st.number_input("Learning rate", min_value=1e-12, value=default, format="%.2e", key=f"{key}-typed"))


def no_clear_drop_text(report: LRFinderReport) -> str:
    """Why there is no suggestion: the smoothed loss never fell meaningfully (``core.train.suggest.clear_drop``),
    with the likely cause: smoothing that lags behind a short sweep, or a model that learnt nothing."""
    text = (f"No clear drop: the smoothed loss fell only {report.drop:.0%} below where it started (a suggestion "
            f"needs {MIN_DROP:.0%}), so any LR picked from this curve would be noise. ")
    first = report.results[0]
    beta = first.settings.get("beta", 0.98)
    if smoothing_hides_drop(first.losses, beta):
        return text + (f"The raw loss does fall, but the smoothing (β {beta:g}) lags about {1 / (1 - beta):.0f} steps "
                       f"behind it, longer than these {len(first.lrs)} steps: use more steps, or lower β under "
                       "Advanced.")
    return text + ("The model did not learn at any LR of the sweep: widen the range (a larger end LR), use more "
                   "steps, or check the model and the data.")


# -- figure ----------------------------------------------------------------------------------------------------------

def _faint(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _y_range(report: LRFinderReport) -> list[float] | None:
    """A y-range that shows the descent rather than the blow-up (zoom out with the toolbar to see it all)."""
    results = [r for r in report.results if r.smoothed]
    if not results:
        return None
    # lowest: the smoothed curves and the raw losses up to each curve's minimum (later raw points are the blow-up)
    lo = min(min(r.smoothed + r.losses[:int(np.argmin(r.smoothed)) + 1]) for r in results)
    hi = max(max(r.smoothed[:max(1, len(r.smoothed) // 2)]) for r in results)
    pad = 0.1 * (hi - lo or abs(hi) or 1.0)
    return [lo - pad, hi + 3 * pad]


def lr_figure(report: LRFinderReport, chosen: float | None = None) -> go.Figure:
    """Loss against LR (log x): raw losses faint, the smoothed curve bold, the band of several seeds, each
    suggestion marked (with its spread over seeds as a horizontal bar), the chosen LR as a dotted line."""
    first, fig = report.results[0], go.Figure()
    several = len(report.results) > 1
    if several:
        s = report.spread
        fig.add_trace(go.Scatter(x=s.grid + s.grid[::-1], y=s.high + s.low[::-1], fill="toself", hoverinfo="skip",
                                 fillcolor=_faint(COLOURS["curve"], 0.15), line=dict(width=0),
                                 name=f"range over {len(report.results)} seeds"))
    fig.add_trace(go.Scatter(x=first.lrs, y=first.losses, mode="lines", name="loss (raw)",
                             line=dict(color=_faint(COLOURS["curve"], 0.35), width=1)))
    fig.add_trace(go.Scatter(x=first.lrs, y=first.smoothed, mode="lines", name="loss (smoothed)",
                             line=dict(color=COLOURS["curve"], width=3)))
    for name, lr in report.suggestions.items():
        _mark(fig, report, name, lr, several)
    if chosen is not None and chosen > 0:
        fig.add_vline(x=chosen, line=dict(color="black", dash="dot", width=1))
        # the annotation is placed by hand: on a log axis its x is log10(x) (add_vline's own label lands elsewhere)
        fig.add_annotation(x=math.log10(chosen), xref="x", y=1, yref="paper", yanchor="bottom", showarrow=False,
                           text=f"chosen {chosen:.1e}")
    fig.update_layout(xaxis=dict(type="log", title="learning rate (log scale)", exponentformat="power"),
                      yaxis=dict(title="training loss", range=_y_range(report)), height=460,
                      margin=dict(l=60, r=20, t=40, b=50), legend=dict(orientation="h", y=-0.18),
                      title=_title(first))
    return fig


def _mark(fig: go.Figure, report: LRFinderReport, name: str, lr: float, several: bool) -> None:
    first = report.results[0]
    xs, ys = (report.spread.grid, report.spread.median) if several else (first.lrs, first.smoothed)
    y = float(np.interp(math.log10(lr), np.log10(xs), ys)) if xs else 0.0
    error = None
    spread = report.spread.suggestions.get(name)
    if several and spread:
        error = dict(type="data", symmetric=False, array=[max(spread.high - lr, 0)],
                     arrayminus=[max(lr - spread.low, 0)], color=COLOURS[name], thickness=2, width=6)
    fig.add_trace(go.Scatter(x=[lr], y=[y], mode="markers", error_x=error, name=f"{name} {lr:.1e}",
                             marker=dict(color=COLOURS[name], size=13, symbol=SYMBOLS[name],
                                         line=dict(color="white", width=1)),
                             hovertemplate=f"<b>{name}</b> %{{x:.2e}}<br>{EXPLANATIONS[name]}<extra></extra>"))


def sweep_view(store, info, config: TrainConfig, source: str) -> None:
    """The sweep job's part of the page (drawn inside its watcher, ui.jobs.watch): the curve so far while it runs;
    once finished the result: notices, suggestions, the chart, the LR to pick and "Use for training"."""
    from core.train.lr_job import read_report
    from ui.session import owner_caption

    owner_caption(info)
    if info.status != "finished":
        if info.status in ("queued", "running"):
            live_sweep_ui(store)
        return
    report = read_report(info.run_dir)
    if report is None:
        return
    for notice in report.notices:
        st.caption(f"ℹ️ {notice}")
    if not report.suggestions:
        st.warning(no_clear_drop_text(report))
    chart = st.container()
    if report.suggestions:
        st.table(suggestions_table(report).set_index("suggestion").rename_axis(None))  # static: long texts wrap
    chosen = pick_lr_ui(report, key=f"lr-{info.name}") if report.suggestions else None
    with chart:
        st.plotly_chart(lr_figure(report, chosen), key="lr-chart")
    _hand_over_ui(chosen, config, source, info.name)


def _hand_over_ui(chosen: float | None, config: TrainConfig, source: str, job: str) -> None:
    """'Use for training': the chosen LR goes to the Train page (for this model, optimizer, batch and data)."""
    from ui.nav import page

    if chosen is not None and st.button("Use for training", type="primary", key="lr-use"):
        st.session_state["lr_for_training"] = float(chosen)
        st.session_state["lr_for_training_from"] = {"model": config.model, "optimizer": config.optimizer,
                                                    "batch_size": config.batch_size, "data": source, "job": job}
    handed = st.session_state.get("lr_for_training")
    if handed and (st.session_state.get("lr_for_training_from") or {}).get("job") == job:  # from this result
        st.success(f"Learning rate {handed:.2e} will be pre-filled on the Train page for {config.model} on "
                   f"{source}.")
        if st.button("Go to Train →", key="lr-go-train"):
            st.switch_page(page("4_Train.py"))


def live_sweep_ui(store) -> None:
    """While a sweep job runs: its smoothed loss so far (what the job logged), redrawn on every poll."""
    steps = store.steps()
    if not steps.empty:
        st.plotly_chart(live_sweep_figure(steps), key="lr-live")


def live_sweep_figure(steps: pd.DataFrame) -> go.Figure:
    """The smoothed loss of a running sweep so far (one line per seed), on the same axes as the result."""
    fig = go.Figure()
    for seed_index, part in steps.groupby("epoch"):
        fig.add_trace(go.Scatter(x=part["lr"], y=part["loss"], mode="lines", name=f"sweep {int(seed_index) + 1}",
                                 line=dict(color=COLOURS["curve"], width=2)))
    fig.update_layout(xaxis=dict(type="log", title="learning rate (log scale)", exponentformat="power"),
                      yaxis=dict(title="training loss (smoothed)"), height=320, showlegend=False,
                      margin=dict(l=60, r=20, t=30, b=50), title="the sweep so far")
    return fig


def _title(result) -> str:
    how = {"completed": "reached the end LR", "diverged": f"stopped: loss diverged at {result.stop_lr or 0:.1e}",
           "non-finite loss": f"stopped: non-finite loss at {result.stop_lr or 0:.1e}"}[result.stopped_because]
    return f"LR range test: {len(result.lrs)} steps, {how}"
