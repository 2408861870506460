"""What a run looks like to its readers (runs table, CLI): ``RunInfo``, with the status derived from whether its
worker is still alive -- a run stored as queued/running whose worker is gone reads as 'interrupted'."""
from __future__ import annotations

import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ACTIVE = ("queued", "running")  # statuses that mean "a worker should be alive"; stale ones read as 'interrupted'
STALE_AFTER = 30.0  # seconds without a heartbeat after which a running/queued run is shown as 'interrupted'
TRUST_ALIVE_FOR = 600.0  # a live worker process that has been silent this long is taken for gone (pid reuse)


def pid_state(pid: int | None, host: str | None) -> str:
    """'alive', 'dead' (gone, or a zombie nobody reaped) or 'unknown' (no pid, another host, no permission)."""
    if not pid or host != socket.gethostname():
        return "unknown"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "dead"
    except PermissionError:
        return "unknown"
    try:
        zombie = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        zombie = False
    return "dead" if zombie else "alive"



def derive_status(meta: dict, stale_after: float) -> str:
    """The stored status, or 'interrupted' for an active run whose worker is gone.

    Gone = its process is dead (same host), or -- when the process cannot be checked (another host) -- no
    heartbeat for ``stale_after`` seconds. A live worker process is trusted (a slow start, importing torch on a
    busy machine, is not an interruption) unless silent for ``TRUST_ALIVE_FOR`` (its pid may have been reused).
    """
    status = meta.get("status") or "queued"
    if status not in ACTIVE:
        return status
    silent = time.time() - (meta.get("heartbeat") or 0)
    state = pid_state(meta.get("pid"), meta.get("host"))
    if state == "dead" or silent > (TRUST_ALIVE_FOR if state == "alive" else stale_after):
        return "interrupted"
    return status


@dataclass
class RunInfo:
    """One run as the runs table shows it (what ``list_runs`` returns)."""

    run_dir: Path  # the run's directory
    name: str  # directory name: timestamp + model + data
    status: str  # queued | running | finished | stopped | failed | interrupted (derived: stale heartbeat / dead pid)
    data: str  # data source of the run
    model: str  # model name
    epochs: int  # epochs asked for in the config
    epochs_done: int  # epochs with recorded metrics
    last_step: int  # last recorded training step (-1 when none)
    best_val_acc: float | None  # highest validation accuracy over the epochs (None before the first epoch ends)
    last_loss: float | None  # last recorded training loss
    started: float | None  # wall-clock time (time.time()) the run started, None while queued
    ended: float | None  # wall-clock time it ended (finished / stopped / failed)
    duration: float | None  # seconds from start to end (or to the last heartbeat for running/interrupted runs)
    error: str | None  # the error message of a failed run
    steps_per_epoch: int | None  # batches per epoch, when the trainer announced it (progress within the epoch)
    total_steps: int | None  # planned training steps in all, when announced
    stop_requested: bool  # a stop was asked for (the worker stops within a batch)
    pid: int | None = None  # the worker's process id (on the machine that runs it)
    kind: str = "train"  # job kind (core.jobs): train | lr_find | gan | attack_sweep | ...
    owner: str | None = None  # who started it (served mode: the session's user); None from the command line
    created: float | None = None  # wall-clock time the run was created (queued)
    progress_done: int | None = None  # jobs without epochs: units done (e.g. sweep steps), see progress_total
    progress_total: int | None = None  # ... out of this many
    progress_text: str | None = None  # ... and what the job is doing, in words

    def to_dict(self) -> dict:
        """JSON-serialisable dict (run_dir as a string)."""
        d = asdict(self)
        d["run_dir"] = str(self.run_dir)
        return d


def summary_row(name: str, meta: dict, config: dict, last, epochs_done, best) -> dict:
    """A run's row of the runs index (core.train.run_index) from its meta row, config and aggregates:
    ``last`` = (step, loss) of the last recorded step or None, ``epochs_done`` and ``best`` validation accuracy."""
    row = {k: v for k, v in meta.items() if k != "id"}
    row.update(name=name, data=str(config.get("data", "")), model=str(config.get("model", "")),
               epochs=int(config.get("epochs") or 0), epochs_done=int(epochs_done or 0), best_val_acc=best,
               last_step=int(last[0]) if last else -1, last_loss=last[1] if last else None,
               kind=meta.get("kind") or "train")
    return row


def info_from_row(run_dir: Path, row: dict, stale_after: float) -> RunInfo:
    """A RunInfo from an index row (or ``summary_row``), the status derived from whether the worker lives."""
    started, ended = row.get("started"), row.get("ended")
    end = ended if ended else (row.get("heartbeat") if started else None)
    last_step = row.get("last_step")
    return RunInfo(
        run_dir=Path(run_dir), name=Path(run_dir).name, status=derive_status(row, stale_after),
        data=str(row.get("data") or ""), model=str(row.get("model") or ""), epochs=int(row.get("epochs") or 0),
        epochs_done=int(row.get("epochs_done") or 0), last_step=int(last_step) if last_step is not None else -1,
        best_val_acc=row.get("best_val_acc"), last_loss=row.get("last_loss"), started=started, ended=ended,
        duration=(end - started) if (started and end) else None, error=row.get("error"),
        steps_per_epoch=row.get("steps_per_epoch"), total_steps=row.get("total_steps"),
        stop_requested=bool(row.get("stop_requested")), pid=row.get("pid"), kind=row.get("kind") or "train",
        owner=row.get("owner"), created=row.get("created"), progress_done=row.get("progress_done"),
        progress_total=row.get("progress_total"), progress_text=row.get("progress_text"))
