"""Launching jobs and the worker process that runs them.

``launch(kind, config)`` creates the run directory (status 'queued') and starts ``python -m core.jobs RUN_DIR``
in a new session: it survives the Streamlit rerun that launched it, the browser tab closing and the app restarting.
The worker waits for a slot (core.jobs.queue), sets 'running', calls the kind's function, and records the outcome;
its stdout/stderr go to ``RUN_DIR/worker.log``.

- the function returns -> 'finished' (unless it recorded another end itself, as ``core.train.fit`` does);
- ``JobStopped`` (Stop button, SIGTERM, the time limit) -> 'stopped', with the reason as a note;
- any other exception -> 'failed' with the message;
- the worker killed (SIGKILL, out of memory) -> readers show 'interrupted', with everything it had written.

Example::

    run_dir = launch("train", TrainConfig(data="builtin:digits", model="cnn", epochs=2).to_dict(), owner="ann")
    RunStore.open(run_dir).info().status      # 'queued' -> 'running' -> 'finished'
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path

from core.jobs import kinds
from core.jobs.job import Job, JobStopped
from core.jobs.limits import launch_refusals
from core.jobs.queue import wait_for_slot
from core.train.run_info import ACTIVE

ROOT = Path(__file__).resolve().parents[2]  # the project root: on the worker's PYTHONPATH for `-m core.jobs`
LOG_NAME = "worker.log"


def launch(kind: str, config: dict, *, owner: str | None = None, runs_dir: str | os.PathLike | None = None) -> Path:
    """Create a job of ``kind`` for ``config`` (a JSON-able dict) and start its worker; returns the run directory.

    ``runs_dir`` defaults to ``config["runs_dir"]``, then the configured runs root. A config the kind refuses
    (``kinds.problems``) or this server refuses (``core.jobs.limits``: sizes, a full queue, the owner's quota)
    raises ``ValueError`` with every reason, and nothing is created.
    Returns at once; the job waits in the queue when ``max_concurrent_runs`` jobs are running.
    """
    from core.settings import load_settings
    from core.train.store import RunStore

    problems = kinds.problems(kind, config)
    if problems:
        raise ValueError("; ".join(problems))
    settings = load_settings()
    runs_dir = Path(runs_dir or config.get("runs_dir") or settings.runs_dir)
    refusals = launch_refusals(config, owner, runs_dir, settings)  # sizes, a full queue, the owner's quota
    if refusals:
        raise ValueError("; ".join(refusals))
    store = RunStore.create(runs_dir, config, kind=kind, owner=owner, target=kinds.kind(kind).run)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    # the caller's cwd: the worker reads the same lab.toml and resolves relative data paths the same way
    with open(store.run_dir / LOG_NAME, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "core.jobs", str(store.run_dir.resolve())],
                                cwd=os.getcwd(), env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    store.set_pid(proc.pid)
    store.close()
    # reap the child when it ends, so a killed worker does not linger as a zombie that looks alive
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    return store.run_dir


def run_inline(kind: str, config: dict, *, owner: str | None = None,
               runs_dir: str | os.PathLike | None = None) -> Path:
    """Run a job of ``kind`` in this process, start to end (the command line); returns the run directory.

    Same checks, store and statuses as ``launch``, but no queue: the command line is the operator's own process.
    The job's exception (other than a stop) is raised after it has been recorded as 'failed'.
    """
    from core.settings import load_settings
    from core.train.store import RunStore

    problems = kinds.problems(kind, config)
    if problems:
        raise ValueError("; ".join(problems))
    runs_dir = Path(runs_dir or config.get("runs_dir") or load_settings().runs_dir)
    store = RunStore.create(runs_dir, config, kind=kind, owner=owner, target=kinds.kind(kind).run)
    _execute(store, wait=False, reraise=True)
    return store.run_dir


def run_worker(run_dir: str | os.PathLike) -> int:
    """The worker's body: wait for a slot, run the job in ``run_dir``, record the outcome; returns the exit code."""
    from core.train.store import RunStore

    return _execute(RunStore.open(run_dir), wait=True, reraise=False)


def _execute(store, wait: bool, reraise: bool) -> int:
    from core.settings import load_settings

    limits = load_settings().limits
    previous = _stop_on_sigterm(store)
    slot = timer = None
    try:
        meta = store.summary_row()
        job = Job(store, store.config(), meta.get("kind") or "train")
        if wait:
            slot = wait_for_slot(store, limits.max_concurrent_runs)
            if slot is None:  # the note first: a reader that sees 'stopped' sees why
                store.note("stopped while waiting in the queue; it never started")
                store.set_status("stopped")
                return 0
        function = kinds.resolve(meta.get("target") or kinds.kind(job.kind).run)
        if wait:  # a worker process (not the command line's own): background priority
            _lower_priority(limits.worker_nice)
        _set_threads(_jobs_at_once(store.run_dir.parent, limits.max_concurrent_runs) if wait else 1)
        store.set_status("running")
        timer = _time_limit(store, job, limits.max_job_minutes)  # counts from the start, not the time queued
        function(job)
        if store.info().status in ACTIVE:
            store.set_status("finished")
        return 0
    except JobStopped as stop:
        if timer is None or not timer.fired:  # (the time limit wrote its own note when it fired)
            store.note(stop.reason)
        store.set_status("stopped")
        return 0
    except BaseException as err:  # noqa: BLE001 - whatever happened, the run must not stay 'running'
        traceback.print_exc()
        try:
            if store.info().status in ACTIVE + ("interrupted",):
                store.set_status("failed", error=f"{type(err).__name__}: {err}")
        except Exception as store_err:  # noqa: BLE001 - the store itself cannot be written (disk full, locked):
            print(f"could not record the outcome: {type(store_err).__name__}: {store_err}",  # the log says why,
                  file=sys.stderr, flush=True)  # and readers find it there (store_failure)
        if reraise:
            raise
        return 1
    finally:
        if timer is not None:
            timer.cancel()
        if slot is not None:
            slot.close()
        store.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class _Timer(threading.Timer):
    fired = False
    reason = ""


def _time_limit(store, job: Job, minutes: float) -> _Timer | None:
    """Stop the job after ``minutes`` (0 = never), exactly as the Stop button would, and say why."""
    if not minutes or minutes <= 0:
        return None

    def fire():
        timer.fired = True
        job.stop_reason = timer.reason
        store.note(timer.reason, "warning")  # before the stop: whoever sees the run stopped sees why
        store.stop_here()

    timer = _Timer(minutes * 60, fire)
    timer.reason = (f"stopped at this server's time limit of {minutes:g} minutes (max_job_minutes in lab.toml); "
                    "what it had done is kept")
    timer.daemon = True
    timer.start()
    return timer


def worker_threads(jobs: int = 1) -> int:
    """CPU threads for a worker's torch ops: ``$DLLAB_WORKER_THREADS``, else all cores but one shared among the
    ``jobs`` jobs that run at once (at least one thread each).

    One core stays free for the dashboard polling the run; and on a small, busy machine fewer threads are much
    faster (2 threads fighting for 2 loaded cores made a small MLP step ~10x slower than 1 thread here), so four
    workers of cores-1 threads each would only fight.
    """
    env = os.environ.get("DLLAB_WORKER_THREADS")
    return max(1, int(env)) if env else max(1, ((os.cpu_count() or 1) - 1) // max(1, jobs))


def _jobs_at_once(runs_dir: Path, cap: int) -> int:
    """How many jobs will share the cores with this one: those running, plus this one, plus those waiting for a
    free slot (they start soon), never more than the ``cap`` that may run at once."""
    from core.jobs.queue import queued, running_count

    try:
        return max(1, min(cap, running_count(runs_dir) + 1 + len(queued(runs_dir))))
    except Exception:  # noqa: BLE001 - an unreadable index must not stop the job: assume it runs alone
        return 1


def _lower_priority(nice: int) -> None:
    """Run this worker at niceness ``nice`` (0 = unchanged): with the server on the same cores, a page's rerun must
    not wait behind training steps; the jobs take whatever CPU the pages leave."""
    if nice > 0 and hasattr(os, "nice"):
        os.nice(nice)


def _set_threads(jobs: int = 1) -> None:
    import torch  # imported only once the job may run: a queued worker stays small

    torch.set_num_threads(worker_threads(jobs))


def _stop_on_sigterm(store):
    """SIGTERM (shutdown, ``kill``) stops the job like the Stop button: status 'stopped', checkpoints kept.
    A second SIGTERM kills at once. Returns the previous handler (None off the main thread: nothing changed)."""
    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        store.stop_here()

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


STORE_FAILURES = (  # what the worker's log says when the run store could not be written, and what that means
    (("No space left on device", "database or disk is full", "Disk quota exceeded"),
     "the disk is full, so the worker could not write its results"),
    (("database is locked",), "the run's database was locked by another process for too long"),
    (("Read-only file system", "attempt to write a readonly database"), "the run folder is read-only"),
    (("disk I/O error",), "the disk reported an input/output error while the worker wrote its results"),
)
LOW_DISK_BYTES = 16 * 2**20  # less free space than this where the run lives: say the disk is full


def store_failure(run_dir: str | os.PathLike) -> str | None:
    """Why a job that ended without saying so could not write its run store, when that can be told: its log names a
    full disk, a locked database, a read-only folder; or the disk holding the run is (nearly) full now. None when
    nothing points to the store (killed, out of memory, or the machine restarted)."""
    import shutil

    tail = log_tail(run_dir, 20000)
    for needles, why in STORE_FAILURES:
        if any(n in tail for n in needles):
            return why
    try:
        if shutil.disk_usage(run_dir).free < LOW_DISK_BYTES:
            return STORE_FAILURES[0][1]
    except OSError:
        pass
    return None


def log_tail(run_dir: str | os.PathLike, max_chars: int = 4000) -> str:
    """The last ``max_chars`` characters of the worker's log (what it printed, tracebacks)."""
    path = Path(run_dir) / LOG_NAME
    if not path.is_file():
        return ""
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - max_chars))
        return f.read().decode("utf-8", "replace")
