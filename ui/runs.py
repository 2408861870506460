"""Showing runs from the run store: the live view (a polling fragment), the runs table, the overlay of runs.

Everything here reads the store, so what it shows survives a browser refresh, a second tab or an app restart.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import streamlit as st

from core.train.store import ACTIVE, RunInfo, RunStore, list_runs
from ui import train_figures as tf

POLL_SECONDS = 1.5  # how often the live view re-reads an active run
MAX_POINTS = 4000  # curves are thinned to about this many points so long runs stay quick to draw
STATUS_ICONS = {"queued": "⏳", "running": "🏃", "finished": "✅", "stopped": "⏹️", "failed": "❌", "interrupted": "⚠️"}


def _thin(df: pd.DataFrame) -> pd.DataFrame:
    step = max(1, len(df) // MAX_POINTS)
    return df.iloc[::step] if step > 1 else df


def runs_table(runs: list[RunInfo]) -> pd.DataFrame:
    """The runs as a DataFrame for st.dataframe: status, data, model, epochs, best val acc, duration, started."""
    return pd.DataFrame({
        "run": [r.name for r in runs],
        "status": [f"{STATUS_ICONS.get(r.status, '')} {r.status}" for r in runs],
        "data": [r.data for r in runs],
        "model": [r.model for r in runs],
        "epochs": [f"{r.epochs_done}/{r.epochs}" for r in runs],
        "best val acc": [r.best_val_acc for r in runs],
        "duration (s)": [None if r.duration is None else round(r.duration, 1) for r in runs],
        "started": [None if r.started is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started))
                    for r in runs],
    })


def progress(info: RunInfo) -> tuple[float, str]:
    """Fraction done within the current epoch (0..1) and a one-line description."""
    step = info.last_step + 1
    if info.steps_per_epoch:
        within = step % info.steps_per_epoch if info.status in ACTIVE else info.steps_per_epoch
        epoch = min(info.epochs_done + 1, max(info.epochs, 1))
        text = f"epoch {epoch}/{info.epochs}, batch {within}/{info.steps_per_epoch} (step {step})"
        return min(1.0, within / info.steps_per_epoch), text
    frac = info.epochs_done / info.epochs if info.epochs else 0.0
    return min(1.0, frac), f"epoch {info.epochs_done}/{info.epochs} done, step {step}"


def _status_line(store: RunStore, info: RunInfo) -> None:
    icon = STATUS_ICONS.get(info.status, "")
    acc = "" if info.best_val_acc is None else f" · best val acc **{info.best_val_acc:.1%}**"
    st.markdown(f"{icon} **{info.status}** · `{info.name}` · {info.model} on {info.data}{acc}")
    frac, text = progress(info)
    st.progress(frac, text=text)
    if info.status == "failed":
        st.error(f"The run failed: {info.error}")
    elif info.status == "interrupted":
        st.warning("The worker stopped without saying so (killed, out of memory, or the machine restarted). "
                   "Everything it recorded up to then is shown.")
    for _, note in store.notes().iterrows():
        (st.warning if note.level == "warning" else st.info)(note.message)


def _stop_button(store: RunStore, info: RunInfo, key: str) -> None:
    if info.status not in ACTIVE:
        return
    if info.stop_requested:
        st.caption("Stop requested; the run stops after the current batch.")
    elif st.button("Stop", key=f"{key}-stop", type="secondary", help="stops after the current batch"):
        store.request_stop()
        st.caption("Stop requested; the run stops after the current batch.")


def _curves(store: RunStore, key: str) -> None:
    steps, epochs = _thin(store.steps()), store.epochs()
    smoothing = st.radio("Smoothing", tf.SMOOTHINGS, horizontal=True, key=f"{key}-smooth")
    if steps.empty and epochs.empty:
        st.info("Waiting for the first training steps...")
        return
    c1, c2 = st.columns(2)
    c1.plotly_chart(tf.loss_figure(steps, epochs, smoothing), key=f"{key}-loss", width="stretch")
    c2.plotly_chart(tf.accuracy_figure(epochs), key=f"{key}-acc", width="stretch")
    c1.plotly_chart(tf.lr_figure(steps), key=f"{key}-lr", width="stretch")
    c2.dataframe(epochs, hide_index=True, key=f"{key}-epochs")


def _activations(store: RunStore, key: str) -> None:
    acts = store.activations()
    if acts.empty:
        return
    st.subheader("Inside the network")
    st.plotly_chart(tf.activation_figure(_thin(acts)), key=f"{key}-actfig", width="stretch")
    stat = st.radio("Heatmap of", ("std", "frac_zero", "mean", "grad_norm"), horizontal=True, key=f"{key}-stat",
                    help="frac_zero: share of outputs near zero; a layer near 1 has mostly dead units")
    st.plotly_chart(tf.activation_heatmap(acts, stat), key=f"{key}-heat", width="stretch")


def live_view(run_dir: str | Path, key: str = "live") -> None:
    """Status, progress, Stop, curves and activation statistics of one run; polls while the run is active."""
    store = RunStore.open(run_dir)
    active = store.info().status in ACTIVE

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def _view() -> None:
        info = store.info()
        _status_line(store, info)
        _stop_button(store, info, key)
        _curves(store, key)
        _activations(store, key)
        if active and info.status not in ACTIVE:
            st.rerun()  # the run just ended: rerun the page once, which stops the polling and shows results

    _view()


def overlay_view(runs: list[RunInfo], key: str = "overlay") -> None:
    """Curves of several runs on one chart, metric chosen by the user."""
    metric = st.radio("Compare", ("val_acc", "val_loss", "train_loss", "loss", "lr"), horizontal=True,
                      key=f"{key}-metric", help="loss / lr: per step; the others per epoch")
    stores = {f"{r.name}": RunStore.open(r.run_dir) for r in runs}
    curves = {label: (_thin(s.steps()) if metric in ("loss", "lr") else s.epochs()) for label, s in stores.items()}
    st.plotly_chart(tf.overlay_figure(curves, metric), key=f"{key}-fig", width="stretch")


def runs_browser(runs_dir=None, key: str = "runs") -> list[RunInfo]:
    """The runs table with multi-row selection; returns the selected runs (overlaid when two or more)."""
    runs = list_runs(runs_dir)
    if not runs:
        st.info("No runs yet: start one above.")
        return []
    event = st.dataframe(runs_table(runs), hide_index=True, key=f"{key}-table", on_select="rerun",
                         selection_mode="multi-row", width="stretch",
                         column_config={"best val acc": st.column_config.NumberColumn(format="percent")})
    chosen = [runs[i] for i in event.selection.rows] if event is not None else []
    if len(chosen) >= 2:
        overlay_view(chosen, key=f"{key}-overlay")
    else:
        st.caption("Select two or more rows to overlay their curves.")
    return chosen
