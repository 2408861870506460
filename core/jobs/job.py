"""What a job function gets (``Job``) and how it stops (``JobStopped``)."""
from __future__ import annotations

import json
import os
from pathlib import Path

RESULT_NAME = "result.json"


class JobStopped(Exception):
    """Raised by ``Job.progress`` / ``Job.check_stop`` when a stop was requested (the Stop button, SIGTERM, the
    time limit); the worker records status 'stopped' with the reason. Job functions let it pass through."""

    def __init__(self, reason: str = "stopped on request"):
        super().__init__(reason)
        self.reason = reason


class Job:
    """One job as its function sees it: the config it was launched with and the run store it writes into.

    >>> def run_sleep(job):                     # a job function (see core.jobs.kinds)
    ...     for i in range(10):
    ...         job.progress(i, 10, f"step {i}")   # records progress; raises JobStopped on a stop request
    ...     job.write_result({"slept": 10})
    """

    def __init__(self, store, config: dict, kind: str):
        self.store = store  # the run's RunStore: log_step, log_scalars, log_epoch, note, checkpoint_dir, ...
        self.config = config  # the dict given to launch (config.json)
        self.kind = kind  # the job kind (core.jobs.kinds)
        self.stop_reason = "stopped on request"  # what JobStopped says (the worker changes it for the time limit)

    @property
    def run_dir(self) -> Path:
        return self.store.run_dir

    def progress(self, done: int, total: int, text: str = "") -> None:
        """Record progress (``done`` of ``total``, and what is happening) and stop here if asked to."""
        self.store.set_progress(done, total, text)
        self.check_stop()

    def check_stop(self) -> None:
        """Raise ``JobStopped`` when a stop was requested (cheap: call it every batch)."""
        if self.store.stop_requested():
            raise JobStopped(self.stop_reason)

    def write_result(self, result: dict, name: str = RESULT_NAME) -> Path:
        """Write the job's answer as JSON into the run directory, atomically (readers never see half a file)."""
        return write_json(self.run_dir / name, result)

    def note(self, message: str, level: str = "info") -> None:
        """A message shown with the run (see ``RunStore.note``)."""
        self.store.note(message, level)


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as JSON to ``path`` through a temporary file and a rename."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, default=str))
    os.replace(tmp, path)
    return path


def read_result(run_dir: str | os.PathLike, name: str = RESULT_NAME) -> dict | None:
    """The dict a job wrote with ``write_result`` (None while it has not written one)."""
    path = Path(run_dir) / name
    return json.loads(path.read_text()) if path.is_file() else None
