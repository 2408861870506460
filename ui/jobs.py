"""Following a job (core.jobs) from a page: its place in the queue or its progress, a Stop button, a live view.

Any page that launches a job shows it with ``job_ui(run_dir, key)``: it reads the run store only, so the job keeps
going when the tab closes, and a reload (which finds the job again in the store) shows it as before.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import streamlit as st

from core.jobs import queue_position
from core.train.store import ACTIVE, RunStore

POLL_SECONDS = 1.0  # how often an active job is re-read


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
            _stop(store, info, key)
            if live is not None:
                live(store)

        _poll()
    elif status == "failed":
        st.error(f"The job failed: {store.info().error}")
    elif status in ("stopped", "interrupted"):
        notes = [n for n in store.notes().message]
        why = f" ({notes[-1]})" if notes else ""
        st.warning(f"The job was {status} before it finished{why}. Start it again to get a result.")
    return status


def _progress(info, run_dir) -> None:
    if info.status == "queued":
        position = queue_position(run_dir)
        where = f"number {position} in the queue" if position else "about to start"
        st.info(f"⏳ Waiting for a free worker: {where}. It starts by itself; you may leave this page.")
        return
    done, total = info.progress_done or 0, info.progress_total or 0
    st.progress(min(1.0, done / total) if total else 0.0, text=info.progress_text or "starting…")


def _stop(store: RunStore, info, key: str) -> None:
    if info.stop_requested:
        st.caption("Stop requested; the job stops within a step.")
    elif st.button("Stop", key=f"{key}-stop", help="cancel this job (a queued one never starts)"):
        store.request_stop()
        st.caption("Stop requested; the job stops within a step.")
