"""Watching a job (core.jobs) from a page: ONE way, used by every page that follows a job.

``watch(run_dir, key, view=...)`` draws a fragment that is registered on every run of the page:

- while the job is queued or running it re-reads the run store every ``POLL_SECONDS`` (``run_every``) and draws
  its place in the queue or its progress, Stop (for the owner and the teacher only) and ``view(store, info)``;
- once the job has ended it draws how it ended and ``view(store, info)`` (the result) INSIDE the fragment, and only
  then asks for one full rerun (so the page stops polling and draws what depends on the result). If that rerun is
  lost, nothing is: the outcome is already on the page, and the fragment, still registered, asks again next tick.

It reads the run store only, so the job keeps going when the tab closes, and a reload shows it as before. Which job
a page watches is the page's business: the one its session started, by run id (``bound_job``), never "a job with
the same settings".
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable

import streamlit as st

from core.jobs import log_tail, queue_position, store_failure
from core.train.store import ACTIVE, RunInfo, RunStore

POLL_SECONDS = 2.0  # how often a page re-reads an active job (every live view: one rule, light on a full room)
LAUNCH_ERRORS = (ValueError, OSError, sqlite3.Error)  # what a launch can raise: refused, disk, the runs index


def watch(run_dir: str | Path, key: str, view: Callable[[RunStore, RunInfo], None] | None = None, *,
          status: bool = True, unit: str = "step") -> str:
    """Follow the job in ``run_dir``; returns its status when the page was drawn.

    ``view(store, info)`` draws the page's part of the job: a live view while it runs, its result once it has
    ended (check ``info.status``). ``status=False`` leaves the status lines to ``view`` (which then calls
    ``job_status`` itself, e.g. inside a richer header).
    """
    store = RunStore.open(run_dir)
    drawn = store.info().status
    active = drawn in ACTIVE

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def _watch() -> None:
        info = store.info()
        if status:
            job_status(store, info, key, unit)
        if view is not None:
            view(store, info)
        if active and info.status not in ACTIVE:
            st.rerun()  # the outcome is drawn: now redraw the page once, without polling

    _watch()
    return drawn


def job_status(store: RunStore, info: RunInfo, key: str, unit: str = "step") -> None:
    """Where the job stands: its place in the queue (or 'starting'), its progress bar and Stop while active; the
    reason a failed, stopped or interrupted job ended, with the worker's last lines."""
    if info.status == "queued":
        queue_line(info.run_dir)
    elif info.status == "running":
        done, total = info.progress_done or 0, info.progress_total or 0
        st.progress(min(1.0, done / total) if total else 0.0, text=info.progress_text or "starting…")
    stop_button(store, info, key, unit)
    outcome(store, info)


def queue_line(run_dir) -> None:
    """Where a queued job stands: starting (next, and a worker slot is free), or its place in the queue."""
    from core.jobs.queue import starting
    from core.settings import load_settings

    if starting(run_dir, load_settings().limits.max_concurrent_runs):
        st.info("⏳ Starting: the worker is loading (a few seconds).")
        return
    position = queue_position(run_dir)
    where = f"number {position} in the queue" if position else "about to start"
    st.info(f"⏳ Waiting for a free worker: {where}. It starts by itself when a job before it ends; you may leave "
            "this page.")


def stop_button(store: RunStore, info, key: str, unit: str = "step") -> None:
    """Stop for an active job (a queued one never starts), for its owner and the teacher only (core.access);
    says so once a stop was asked for."""
    from ui.session import may_control

    if info.status not in ACTIVE:
        return
    said = f"Stop requested; it stops after the current {unit}."
    if info.stop_requested:
        st.caption(said)
    elif not may_control(info):
        st.caption("Someone else started this job: you can watch it, but only they (or the teacher) can stop it.")
    elif st.button("Stop", key=f"{key}-stop", help=f"stops after the current {unit}; what it wrote is kept"):
        if may_control(store.info()):  # asked again at the click: the rule, not the button, decides
            store.request_stop()
            st.caption(said)


def outcome(store: RunStore, info) -> None:
    """How a job that is no longer running ended, when that is not 'finished': the error of a failed one, what an
    interrupted one means (a store it could not write, when the log or the disk says so), the worker's last
    lines; then the job's own notes."""
    if info.status == "failed":
        st.error(f"The job failed: {info.error}")
    elif info.status == "interrupted":
        why = store_failure(info.run_dir)
        st.warning(f"The worker stopped without finishing: {why}. Everything it recorded up to then is shown."
                   if why else "The worker stopped without saying so (killed, out of memory, or the machine "
                   "restarted). Everything it recorded up to then is shown.")
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


def launch_ui(start: Callable[[], Path], what: str = "Cannot start") -> Path | None:
    """Run ``start()`` (a launch) and return the new run directory; any launch failure (refused settings, a full
    queue or quota, a disk or database error) becomes one sentence on the page instead, and None."""
    try:
        return start()
    except ValueError as err:  # refused: the reasons, already in words
        st.error(f"{what}: {err}")
    except sqlite3.Error as err:  # the runs index: locked by another process, or its disk is full
        st.error(f"{what}: the run store could not be written ({err}); try again in a moment, or tell whoever "
                 "runs this server.")
    except OSError as err:  # the runs folder: disk full, read-only, permissions, too many processes
        reason = err.strerror or str(err)
        st.error(f"{what}: the server could not create the job ({reason}); try again in a moment, or tell whoever "
                 "runs this server.")
    return None


def bound_job(key: str, runs: list[RunInfo], matches: Callable[[RunInfo], bool] | None = None) -> RunInfo | None:
    """The job this page is bound to: the run id kept in session state under ``key`` (else, on a reload or a
    shared link, in the URL as ``?key=``) when it is among ``runs`` (what this session may see, newest first) and
    ``matches`` (e.g. was made with the settings on the form); else this user's own newest job that matches
    (core.access.is_own: on a served lab never a classmate's, whatever its settings). The page is bound to it."""
    from core.access import is_own
    from ui.session import current_user

    name = st.session_state.get(key) or st.query_params.get(key)
    job = next((r for r in runs if r.name == name), None)
    if job is None or (matches is not None and not matches(job)):
        user = current_user()
        job = next((r for r in runs if is_own(r, user) and (matches is None or matches(r))), None)
    if job is not None:
        bind_job(key, job.name)
    return job


def bind_job(key: str, name: str | None) -> None:
    """Bind the page to the job ``name`` (the one just launched): in session state and the URL (``?key=name``)."""
    if name is None:
        st.session_state.pop(key, None)
        if key in st.query_params:
            del st.query_params[key]
        return
    st.session_state[key] = name
    if st.query_params.get(key) != name:
        st.query_params[key] = name
