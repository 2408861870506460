"""Run training in a separate process, so a crash or out-of-memory in training cannot take the UI down.

``launch(config)`` creates the run directory (status 'queued') and starts
``python -m core.train.worker RUN_DIR`` in a new session (it survives the Streamlit script rerun that launched it,
and the app being restarted). The worker reads config.json and calls ``core.train.fit(config, run=store)``; all it
has to say goes into the run store, its stdout/stderr into ``RUN_DIR/worker.log``.

- an exception in training -> status 'failed' with the message (fit's own message when fit recorded it);
- the worker killed (SIGKILL, out of memory) -> readers show 'interrupted' (dead pid / stale heartbeat), with every
  metric it had flushed intact;
- stop -> ``RunStore.open(run_dir).request_stop()``; the trainer checks the flag every batch. SIGTERM to the
  worker stops it the same way (a second SIGTERM kills it).

Example::

    run_dir = launch(TrainConfig(data="builtin:digits", model="cnn", epochs=2))
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

from core.train.store import ACTIVE, RunStore

ROOT = Path(__file__).resolve().parents[2]  # the project root: on the worker's PYTHONPATH for `-m core.train.worker`
LOG_NAME = "worker.log"


def _config_dict(config) -> dict:
    return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def launch_problems(config, kind: str | None = None, limits=None) -> list[str]:
    """Why ``config`` cannot be launched here (empty list when it can): everything the worker would refuse for data
    ``kind`` (``core.train.checks.train_problems``) and this server's limits (``load_settings().limits``: max
    epochs, batch size)."""
    from core.settings import load_settings
    from core.train import TrainConfig
    from core.train.checks import train_problems

    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
    limits = limits or load_settings().limits
    out = train_problems(cfg, kind)
    if cfg.epochs > limits.max_epochs:
        out.append(f"{cfg.epochs} epochs is over this server's limit of {limits.max_epochs} (max_epochs in lab.toml)")
    if cfg.batch_size > limits.max_batch_size:
        out.append(f"batch size {cfg.batch_size} is over this server's limit of {limits.max_batch_size} "
                   "(max_batch_size in lab.toml)")
    return out


MAX_SENSIBLE_LR = 10.0  # the LR Finder's default end: above it no optimizer here trains (the loss blows up)


def launch_warnings(config, train_size: int | None = None) -> list[str]:
    """Settings that can run but are probably a mistake (the page shows them; nothing is refused):
    a learning rate above ``MAX_SENSIBLE_LR``, a batch larger than the ``train_size`` training examples."""
    from core.train.checks import batch_warning

    out = []
    if config.lr > MAX_SENSIBLE_LR:
        out.append(f"a learning rate of {config.lr:.3g} is far above anything that trains (the LR Finder sweeps up "
                   f"to {MAX_SENSIBLE_LR:g}): expect the loss to become NaN within a few steps")
    batch = batch_warning(config.batch_size, train_size)
    return out + ([batch] if batch else [])


def launch(config, runs_dir: str | os.PathLike | None = None, kind: str | None = None) -> Path:
    """Create a run for ``config`` (a TrainConfig or its dict) and train it in a new process; return the run dir.

    ``runs_dir`` defaults to ``config.runs_dir``, then the configured runs root (``load_settings().runs_dir``).
    An impossible config (see ``launch_problems``; ``kind`` is the data kind when known) raises ``ValueError``
    with every reason, and no run is created. Returns at once; follow the run with ``RunStore.open(run_dir)``.
    """
    problems = launch_problems(config, kind)
    if problems:
        raise ValueError("; ".join(problems))
    cfg = _config_dict(config)
    if runs_dir is None:
        from core.settings import load_settings
        runs_dir = cfg.get("runs_dir") or load_settings().runs_dir
    cfg["runs_dir"] = str(runs_dir)
    _refuse_when_busy(runs_dir)
    store = RunStore.create(runs_dir, cfg)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    # the caller's cwd: the worker reads the same lab.toml and resolves relative data paths the same way
    with open(store.run_dir / LOG_NAME, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "core.train.worker", str(store.run_dir.resolve())],
                                cwd=os.getcwd(), env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    store.set_pid(proc.pid)
    store.close()
    # reap the child when it ends, so a killed worker does not linger as a zombie that looks alive
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    return store.run_dir


def _refuse_when_busy(runs_dir) -> None:
    """``ValueError`` when this runs root already has ``limits.max_concurrent_runs`` runs queued or running."""
    from core.settings import load_settings
    from core.train.store import list_runs

    cap = load_settings().limits.max_concurrent_runs
    active = [r.name for r in list_runs(runs_dir) if r.status in ACTIVE]
    if len(active) >= cap:
        raise ValueError(f"{len(active)} run(s) already training ({', '.join(active)}); this server allows "
                           f"{cap} at once (max_concurrent_runs in lab.toml). Stop one or wait for it to finish.")


def worker_threads() -> int:
    """CPU threads for a worker's torch ops: ``$DLLAB_WORKER_THREADS``, else all cores but one.

    One core stays free for the dashboard polling the run; and on a small, busy machine fewer threads are much
    faster (2 threads fighting for 2 loaded cores made a small MLP step ~10x slower than 1 thread here).
    """
    env = os.environ.get("DLLAB_WORKER_THREADS")
    return max(1, int(env)) if env else max(1, (os.cpu_count() or 1) - 1)


def _stop_on_sigterm(store: RunStore):
    """SIGTERM (shutdown, ``kill``) stops the run like the Stop button: status 'stopped', checkpoints kept.
    A second SIGTERM kills at once. Returns the previous handler (None off the main thread: nothing changed)."""
    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        store.stop_here()

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def run_worker(run_dir: str | os.PathLike) -> int:
    """The worker's body: train the run in ``run_dir`` and record the outcome; returns the exit code."""
    store = RunStore.open(run_dir)
    previous = _stop_on_sigterm(store)
    try:
        import torch

        from core.train import TrainConfig, fit

        torch.set_num_threads(worker_threads())
        fit(TrainConfig.from_dict(store.config()), run=store)
        return 0
    except BaseException as err:  # noqa: BLE001 - whatever happened, the run must not stay 'running'
        traceback.print_exc()
        if store.info().status in ACTIVE + ("interrupted",):
            store.set_status("failed", error=f"{type(err).__name__}: {err}")
        return 1
    finally:
        store.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def log_tail(run_dir: str | os.PathLike, max_chars: int = 4000) -> str:
    """The last ``max_chars`` characters of the worker's log (what it printed, tracebacks)."""
    path = Path(run_dir) / LOG_NAME
    if not path.is_file():
        return ""
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - max_chars))
        return f.read().decode("utf-8", "replace")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m core.train.worker RUN_DIR")
    sys.exit(run_worker(sys.argv[1]))
