"""Jobs: everything heavier than a preview (training, LR sweeps, GAN training, attack sweeps, benchmarks) runs in a
worker process, as a run in the run store, so the Streamlit server thread only draws and one session's long or
crashing job never stalls another's.

>>> from core.jobs import launch, read_result
>>> run_dir = launch("lr_find", config, owner="ann")   # doctest: +SKIP   returns at once; the job may queue
>>> read_result(run_dir)                               # doctest: +SKIP   the job's answer once it has finished

- ``launch(kind, config, owner=...)``: refused with the reasons when the kind's checks fail; otherwise a run
  directory (status 'queued') and a worker process. ``run_inline`` does the same in this process (command line).
- The worker waits in a first-come-first-served queue while ``max_concurrent_runs`` jobs run (``queue_position``),
  has a time limit (``max_job_minutes``), and stops on the run's stop flag (``RunStore.request_stop``) or SIGTERM.
- A job function (core.jobs.kinds) gets a ``Job``: ``job.progress(done, total, text)``, ``job.write_result(dict)``.
"""
from core.jobs.job import Job, JobStopped, read_result, write_json
from core.jobs.kinds import KINDS, JobKind, kind, register
from core.jobs.queue import queue_position
from core.jobs.worker import launch, log_tail, run_inline, run_worker, store_failure, worker_threads

__all__ = ["Job", "JobStopped", "read_result", "write_json", "KINDS", "JobKind", "kind", "register",
           "queue_position", "launch", "log_tail", "run_inline", "run_worker", "store_failure",
           "worker_threads"]
