"""The queue: at most ``max_concurrent_runs`` jobs run at once per runs root; the others wait, first come first served.

A running job holds one of N slots, each an exclusive ``flock`` on ``RUNS_ROOT/.slots/<i>.lock``. The operating system
releases the lock when the worker exits however it exits (finished, crashed, killed), so a slot can never leak. A
queued worker waits (sleeping, without torch imported) until it is among the first in line and a slot is free.
"""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

POLL_SECONDS = 0.5  # how often a queued worker first looks for a free slot; it backs off while it waits...
MAX_POLL_SECONDS = 5.0  # ...up to this (a room's queue of 30 workers reads the index 6 times a second, not 60)
HEARTBEAT_SECONDS = 10.0  # a waiting worker says it is alive this often (well inside run_info.STALE_AFTER)


def queued(runs_dir: str | os.PathLike) -> list:
    """The queued jobs of a runs root (RunInfo), first in line first."""
    from core.train.store import list_runs

    return sorted((r for r in list_runs(runs_dir) if r.status == "queued"), key=lambda r: (r.created or 0, r.name))


def queue_position(run_dir: str | os.PathLike) -> int | None:
    """1 for the next job to start, 2 for the one after...; None when the job is not waiting (any more)."""
    run_dir = Path(run_dir)
    names = [r.name for r in queued(run_dir.parent)]
    return names.index(run_dir.name) + 1 if run_dir.name in names else None


def running_count(runs_dir: str | os.PathLike) -> int:
    """Jobs running now under a runs root."""
    from core.train.store import list_runs

    return sum(r.status == "running" for r in list_runs(runs_dir))


def try_slot(runs_dir: str | os.PathLike, cap: int):
    """An open file holding one of ``cap`` slot locks, or None when all are taken. Keep it open while running."""
    slots = Path(runs_dir) / ".slots"
    slots.mkdir(parents=True, exist_ok=True)
    for i in range(max(1, cap)):
        f = open(slots / f"{i}.lock", "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except BlockingIOError:
            f.close()
    return None


def wait_for_slot(store, cap: int, poll: float = POLL_SECONDS):
    """Block until this run may start; returns the slot (an open file) or None when a stop came while waiting.

    Only the jobs first in line try for a slot (as many as are free), so the queue is served in order.
    """
    runs_dir = store.run_dir.parent
    wait, last_position, last_beat = poll, None, 0.0
    while True:
        if store.stop_requested():
            return None
        position = queue_position(store.run_dir) or 1
        if position <= max(1, cap - running_count(runs_dir)):
            slot = try_slot(runs_dir, cap)
            if slot is not None:
                return slot
        if position != last_position:  # the line moved: look again soon
            wait, last_position = poll, position
        if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
            store.heartbeat()
            last_beat = time.monotonic()
        time.sleep(wait)
        wait = min(MAX_POLL_SECONDS, wait * 1.5)


def starting(run_dir: str | os.PathLike, cap: int) -> bool:
    """True when a queued job is not really waiting: it is next in line and a slot is free, so its worker is only
    starting up (Python and the job's imports take a few seconds); pages say "starting", not "in the queue"."""
    run_dir = Path(run_dir)
    position = queue_position(run_dir)
    return position is not None and position <= max(1, cap - running_count(run_dir.parent))
