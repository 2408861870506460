"""The list of runs a session may see: a readable table, the overlay of several runs, and deleting one.

What a session may see and delete is core.access's rule (served mode: its own runs and runs on shared data; the
teacher sees all; only the owner deletes); this module only asks it, with the session's user (ui.session).
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import streamlit as st

from core.access import can_delete, source_label, visible_runs
from core.settings import load_settings
from core.train.pace import duration_text
from core.train.store import ACTIVE, RunInfo, RunStore, list_runs
from ui import train_figures as tf
from ui.jobs import POLL_SECONDS
from ui.runs import STATUS_ICONS, _one_based
from ui.session import current_user, is_teacher, may_control, my_runs, owner_label  # noqa: F401 - my_runs: pages import it here

# the table's columns and their widths in pixels: together they fit the page's width beside the sidebar
COLUMNS = {"run": 215, "status": 110, "data": 115, "model": 90, "epochs": 65, "best val acc": 95, "duration": 90,
           "started": 110}
OWNER_WIDTH = 100  # the owner column: only on a served lab, where runs belong to people
MISSING = "—"  # shown for a value a run does not have (yet): never "None"


def runs_table(runs: list[RunInfo], me: str | None = None) -> pd.DataFrame:
    """The runs as text for st.dataframe: accuracy in percent, durations in words, a dash where a value is missing.

    >>> runs_table([]).columns.tolist()
    ['run', 'status', 'data', 'model', 'epochs', 'best val acc', 'duration', 'started', 'owner']
    """
    return pd.DataFrame({
        "run": [r.name for r in runs],
        "status": [f"{STATUS_ICONS.get(r.status, '')} {r.status}" for r in runs],
        "data": [source_label(r.data) or MISSING for r in runs],  # an upload by its name, not the server's path
        "model": [r.model or MISSING for r in runs],
        "epochs": [f"{r.epochs_done}/{r.epochs}" if r.epochs else MISSING for r in runs],
        "best val acc": [MISSING if r.best_val_acc is None else f"{r.best_val_acc:.1%}" for r in runs],
        "duration": [MISSING if r.duration is None else duration_text(r.duration) for r in runs],
        "started": [MISSING if r.started is None else time.strftime("%d %b %H:%M", time.localtime(r.started))
                    for r in runs],
        "owner": [owner_label(r.owner, me) for r in runs],
    }, columns=[*COLUMNS, "owner"])


def runs_dataframe(runs: list[RunInfo], key: str, select: bool = False, columns=tuple(COLUMNS)):
    """``st.dataframe`` of ``runs_table(runs)`` (only ``columns``, e.g. fewer in a narrow place, plus whose each run
    is on a served lab) with column widths that fit; returns the selection event."""
    columns = list(columns) + (["owner"] if load_settings().served else [])
    widths = dict(COLUMNS, owner=OWNER_WIDTH)
    config = {name: st.column_config.TextColumn(name, width=widths[name]) for name in columns}
    options = dict(on_select="rerun", selection_mode="multi-row") if select else {}
    return st.dataframe(runs_table(runs, current_user())[columns], hide_index=True, key=key, width="stretch",
                        column_config=config, **options)


def overlay_view(runs: list[RunInfo], key: str = "overlay") -> None:
    """Curves of several runs on one chart, metric chosen by the user."""
    metric = st.radio("Compare", ("val_acc", "val_loss", "train_loss", "loss", "lr"), horizontal=True,
                      key=f"{key}-metric", help="loss / lr: per step; the others per epoch",
                      format_func=lambda m: tf.METRIC_NAMES.get(m, m))
    stores = {f"{r.name}": RunStore.open(r.run_dir) for r in runs}
    curves = {label: (s.steps() if metric in ("loss", "lr") else _one_based(s.epochs()))
              for label, s in stores.items()}
    st.plotly_chart(tf.overlay_figure(curves, metric), key=f"{key}-fig", width="stretch")


def runs_browser(runs_dir=None, key: str = "runs") -> None:
    """The runs table of this session's visible training runs (re-read every few seconds while one is active),
    with multi-row selection; two or more selected runs are overlaid."""
    active = any(r.status in ACTIVE for r in my_runs(runs_dir=runs_dir))

    @st.fragment(run_every=POLL_SECONDS * 2 if active else None)
    def _browser() -> None:
        runs = my_runs(runs_dir=runs_dir)
        if not runs:
            st.info("No runs yet: start one above.")
            return
        event = runs_dataframe(runs, f"{key}-table", select=True)
        chosen = [runs[i] for i in event.selection.rows if i < len(runs)] if event is not None else []
        if len(chosen) >= 2:
            overlay_view(chosen, key=f"{key}-overlay")
        else:
            st.caption("Select two or more rows to overlay their curves.")

    _browser()


def delete_ui(info: RunInfo, key: str = "delete") -> bool:
    """'Delete this run' with a confirmation; only for the run's owner and the teacher (core.access.can_control),
    never while it
    is queued or running. Returns True once the run has been deleted (the caller reruns the page)."""
    from core.train.store import delete_run

    pending = f"{key}-confirm"
    if not may_control(info):
        st.caption("Only the person who started this run (or the teacher) can delete it.")
        return False
    if info.status in ACTIVE:
        st.button("Delete this run", key=f"{key}-ask", disabled=True, help="stop it first")
        return False
    if st.session_state.get(pending) != info.name:
        if st.button("Delete this run", key=f"{key}-ask", help="removes its metrics, checkpoints and logs"):
            st.session_state[pending] = info.name
            st.rerun()
        return False
    st.warning(f"Delete **{info.name}** ({info.model} on {info.data})? Its metrics, checkpoints and logs are "
               "removed for good.")
    yes, no = st.columns([1, 6])
    if no.button("Cancel", key=f"{key}-no"):
        st.session_state.pop(pending, None)
        st.rerun()
    if not yes.button("Yes, delete", key=f"{key}-yes", type="primary"):
        return False
    st.session_state.pop(pending, None)
    if not may_control(info):  # asked again at the click: the rule decides, not the button
        return False
    try:
        delete_run(Path(info.run_dir))
    except (ValueError, OSError) as err:  # it was restarted meanwhile, or the files are not ours to remove
        st.error(f"Not deleted: {err}")
        return False
    return True
