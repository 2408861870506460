"""Debugging views of a run on the Train page: gradient norms per layer with their flags, and the device.
(The profiler and the checkpointing memory panel are in ui.debug_jobs_ui.)"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.debug.device import device_status
from core.debug.grads import parse_flag
from core.train.store import RunStore
from ui import debug_figures as df

HEATMAP_COLUMNS = 300  # at most this many recorded steps in the heatmap (evenly spread)


def _show_layer(key: str, layer: str) -> None:
    """The flag's link: pick ``layer`` in the lines and frame it in the heatmap."""
    st.session_state[f"{key}-layers"] = [layer]
    st.session_state[f"{key}-focus"] = layer


def _flags(store: RunStore, key: str) -> str | None:
    """The run's vanishing / exploding flags, each with a button that shows its layer; the flagged layer, if any."""
    focus = None
    for message in store.notes()["message"]:
        flag = parse_flag(message)
        if flag is None:
            continue
        kind, layer = flag
        left, right = st.columns([5, 1])
        left.warning(message, icon="🧨" if kind == "exploding" else "🪫")
        right.button(f"Show {layer}", key=f"{key}-show-{kind}", on_click=_show_layer, args=(key, layer),
                     help="pick this layer in the lines below and frame it in the heatmap")
        focus = focus or layer
    return st.session_state.get(f"{key}-focus", focus)


def gradients_view(store: RunStore, key: str) -> None:
    """Heatmap (layer x step) and lines of the recorded gradient norms or update/weight ratios, flags, clipping."""
    grads = store.grads()
    if grads.empty:
        return
    st.subheader("Gradients", anchor="gradients")
    focus = _flags(store, key)
    clipped = store.scalars().get("grad_clipped_frac", pd.Series(dtype=float)).dropna()
    if not clipped.empty:
        st.caption(f"Gradient clipping is on: {clipped.iloc[-1]:.0%} of the steps so far were clipped.")
    stat = st.radio("Show", list(df.GRAD_STATS), format_func=df.GRAD_STATS.get, horizontal=True,
                    key=f"{key}-gstat", help="update / weight: how far one optimizer step moves a layer's weights, "
                                             "relative to their size; about 1e-3 is healthy")
    steps = grads["step"].drop_duplicates()
    shown = grads[grads["step"].isin(steps.iloc[:: max(1, -(-len(steps) // HEATMAP_COLUMNS))])]
    st.plotly_chart(df.grad_heatmap(shown, stat, highlight=focus), key=f"{key}-gheat", width="stretch")
    layers = list(dict.fromkeys(grads["layer"]))
    if f"{key}-layers" not in st.session_state:
        st.session_state[f"{key}-layers"] = list(dict.fromkeys([layers[0], focus or layers[-1], layers[-1]]))
    chosen = st.multiselect("Layers", layers, key=f"{key}-layers")
    if chosen:
        st.plotly_chart(df.grad_lines(grads, chosen, stat), key=f"{key}-glines", width="stretch")


def device_panel(key: str, store: RunStore | None = None) -> None:
    """The device in use; with a GPU its memory (used / free / total) and utilisation, a warning near the limit,
    and (for a run) the samples its worker recorded over time."""
    status = device_status()
    st.write(f"Computing on **{status.text()}**.")
    if status.total_bytes:
        st.progress(min(1.0, status.used_fraction), text=f"GPU memory {status.used_fraction:.0%} used")
    warning = status.warning()
    if warning:
        st.warning(warning)
    scalars = store.scalars() if store is not None else pd.DataFrame()
    if "gpu_mem_used_gib" in scalars:
        st.plotly_chart(df.device_figure(scalars.dropna(subset=["gpu_mem_used_gib"])), key=f"{key}-dev",
                        width="stretch")


@st.cache_data(max_entries=64, show_spinner=False)
def _checkpoint_problem(source: str, name: str, _bundle) -> str | None:
    from core.debug.checkpointing import checkpointing_problem_for

    return checkpointing_problem_for(_bundle, name)


def checkpointing_ui(source: str, bundle, model: str, key: str) -> int:
    """The gradient checkpointing switch of the Train form: segments (0 = off), offered only where it applies."""
    from core.debug.checkpointing import KEEP_OUT_REASON

    problem = _checkpoint_problem(source, model, bundle)
    if problem:
        st.caption(f"Gradient checkpointing: not available ({problem}).")
        return 0
    on = st.toggle("Gradient checkpointing", key=f"{key}-on", help="keep fewer activations during the forward "
                   "pass and recompute them in the backward pass: less memory, more time (measure it with Memory "
                   "under Debug once a run has finished). " + KEEP_OUT_REASON)
    if not on:
        return 0
    return int(st.select_slider("Segments", options=(2, 4, 8), value=4, key=f"{key}-segments"))
