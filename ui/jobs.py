"""Following a job (core.jobs) from a page: its place in the queue or its progress, a Stop button, a live view.

Any page that launches a job shows it with ``job_ui(run_dir, key)``: it reads the run store only, so the job keeps
going when the tab closes, and a reload (which finds the job again in the store) shows it as before.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import streamlit as st

from core.jobs import log_tail, queue_position
from core.train.store import ACTIVE, RunStore

POLL_SECONDS = 2.0  # how often a page re-reads an active job (every live view: one rule, light on a full room)


def job_ui(run_dir: str | Path, key: str, live: Callable[[RunStore], None] | None = None) -> str:
    """Show the job in ``run_dir``; returns its status ('finished', 'failed', ... or 'queued' / 'running').

    While active, a fragment re-reads it every ``POLL_SECONDS``: queue position or progress bar, Stop, and
    ``live(store)`` (e.g. the curve so far); when the job ends the whole page reruns, so the caller shows the
    result. Failed, stopped and interrupted jobs get their reason here.
    """
    store = RunStore.open(run_dir)
    status = store.info().status
    if status in ACTIVE:
        @st.fragment(run_every=POLL_SECONDS)
        def _poll() -> None:
            info = store.info()
            if info.status not in ACTIVE:
                st.rerun()  # the job ended: the page draws its result
            _progress(info, run_dir)
            stop_button(store, info, key)
            if live is not None:
                live(store)

        _poll()
    elif status == "failed":
        st.error(f"The job failed: {store.info().error}")
        worker_log(run_dir)
    elif status in ("stopped", "interrupted"):
        notes = [n for n in store.notes().message]
        why = f" ({notes[-1]})" if notes else ""
        st.warning(f"The job was {status} before it finished{why}. Start it again to get a result.")
    return status


def _progress(info, run_dir) -> None:
    if info.status == "queued":
        queue_line(run_dir)
        return
    done, total = info.progress_done or 0, info.progress_total or 0
    st.progress(min(1.0, done / total) if total else 0.0, text=info.progress_text or "starting…")


def queue_line(run_dir) -> None:
    """Where a queued job stands: its place in the queue (1 = next), and that it starts by itself."""
    position = queue_position(run_dir)
    where = f"number {position} in the queue" if position else "about to start"
    st.info(f"⏳ Waiting for a free worker: {where}. It starts by itself when a job before it ends; you may leave "
            "this page.")


def stop_button(store: RunStore, info, key: str, unit: str = "step") -> None:
    """Stop for an active job (a queued one never starts); says so once a stop was asked for."""
    if info.status not in ACTIVE:
        return
    said = f"Stop requested; it stops after the current {unit}."
    if info.stop_requested:
        st.caption(said)
    elif st.button("Stop", key=f"{key}-stop", help=f"stops after the current {unit}; what it wrote is kept"):
        store.request_stop()
        st.caption(said)


def outcome(store: RunStore, info) -> None:
    """How a job that is no longer running ended, when that is not 'finished': the error of a failed one, what an
    interrupted one means, the worker's last lines; then the job's own notes."""
    if info.status == "failed":
        st.error(f"The run failed: {info.error}")
    elif info.status == "interrupted":
        st.warning("The worker stopped without saying so (killed, out of memory, or the machine restarted). "
                   "Everything it recorded up to then is shown.")
    if info.status in ("failed", "interrupted"):
        worker_log(info.run_dir)
    for _, note in store.notes().iterrows():
        (st.warning if note.level == "warning" else st.info)(note.message)


def worker_log(run_dir) -> None:
    """The last lines the worker printed (a traceback), folded away."""
    tail = log_tail(run_dir)
    if tail.strip():
        with st.expander("Worker log (last lines)"):
            st.code(tail, language=None)
