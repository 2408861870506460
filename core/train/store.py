"""The run store: one directory per training run, readable by other processes while the run is being written.

A run directory holds ``config.json`` (the TrainConfig as a dict), ``metrics.sqlite`` (SQLite in WAL mode, so a
reader in another process -- the dashboard, ``python -m core runs`` -- never blocks the writer), ``checkpoints/``
and TensorBoard event files. The trainer (or the worker around it) is the only writer; anyone may read.

Writes are buffered in memory and committed at most about once a second (or every ``max_buffer`` rows), so logging
every step costs a list append, not a disk write. Status changes, epoch metrics and ``flush()`` commit at once.

Example::

    run = RunStore.create("runs", {"data": "builtin:digits", "model": "cnn"})
    run.set_status("running")
    run.log_step(0, 0, loss=2.3, lr=1e-3)
    run.log_epoch(0, {"train_loss": 1.1, "val_loss": 0.9, "val_acc": 0.71})
    run.set_status("finished")
    RunStore.open(run.run_dir).epochs()      # a DataFrame, from any process

Metric names in ``log_epoch`` are free-form; the readers understand ``train_loss``, ``val_loss``, ``val_acc`` and
``train_acc`` (best validation accuracy is the maximum of ``val_acc``).
"""
from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pandas as pd

from core.train.run_info import ACTIVE, STALE_AFTER, RunInfo, run_info

STATUSES = ("queued", "running", "finished", "stopped", "failed", "interrupted")
TERMINAL = ("finished", "stopped", "failed")
HEARTBEAT_EVERY = 5.0  # the writer's background thread refreshes the heartbeat this often while a run is active
STOP_CHECK_EVERY = 0.2  # stop_requested() looks at the database at most this often (seconds); cheap per batch
DB_NAME, CONFIG_NAME = "metrics.sqlite", "config.json"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS steps (step INTEGER, epoch INTEGER, loss REAL, lr REAL, time REAL);
CREATE TABLE IF NOT EXISTS epochs (epoch INTEGER, name TEXT, value REAL, time REAL);
CREATE TABLE IF NOT EXISTS activations (step INTEGER, layer TEXT, mean REAL, std REAL, frac_zero REAL,
                                        grad_norm REAL);
CREATE TABLE IF NOT EXISTS notes (time REAL, level TEXT, message TEXT);
CREATE TABLE IF NOT EXISTS scalars (step INTEGER, name TEXT, value REAL, time REAL);
CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 0), status TEXT, error TEXT, heartbeat REAL,
                                 stop_requested INTEGER DEFAULT 0, started REAL, ended REAL, created REAL,
                                 pid INTEGER, host TEXT, steps_per_epoch INTEGER, total_steps INTEGER);
CREATE INDEX IF NOT EXISTS steps_step ON steps(step);
CREATE INDEX IF NOT EXISTS act_step ON activations(step);
"""


def _slug(text: str, limit: int = 24) -> str:
    """'builtin:digits' -> 'digits'; '/data/My Photos/' -> 'my-photos' (safe in a directory name)."""
    text = str(text or "").rstrip("/\\").split(":")[-1]
    text = re.split(r"[/\\]", text)[-1]
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit] or "run"


def _connect(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(db, timeout=10.0, check_same_thread=False, isolation_level=None)
    con.execute("PRAGMA busy_timeout=10000")
    return con


class RunStore:
    """Writer and reader of one run directory (see the module docstring)."""

    def __init__(self, run_dir: str | os.PathLike, *, flush_every: float = 1.0, max_buffer: int = 2000):
        """Open an existing run directory; prefer ``RunStore.create`` / ``RunStore.open``."""
        self.run_dir = Path(run_dir)
        self.db_path = self.run_dir / DB_NAME
        if not self.db_path.is_file():
            raise FileNotFoundError(f"{self.run_dir} is not a run directory (no {DB_NAME})")
        self.flush_every = flush_every  # seconds between commits of buffered rows
        self.max_buffer = max_buffer  # commit early when this many rows are waiting
        self._con: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._steps: list[tuple] = []
        self._acts: list[tuple] = []
        self._scalars: list[tuple] = []
        self._last_flush = time.monotonic()
        self._stop_cache, self._stop_checked = False, 0.0
        self._beat_thread: threading.Thread | None = None
        self._beat_stop = threading.Event()

    # ---- creating / opening -------------------------------------------------------------------------------
    @classmethod
    def create(cls, runs_dir: str | os.PathLike, config: dict, **kw) -> "RunStore":
        """Make a new run directory under ``runs_dir`` (status 'queued') and return its store.

        The name is ``YYYYmmdd-HHMMSS-<model>-<data>`` (``-2``, ``-3``... when taken). ``config`` is written to
        config.json as given (it should be ``TrainConfig.to_dict()``).
        """
        runs_dir = Path(runs_dir)
        runs_dir.mkdir(parents=True, exist_ok=True)
        base = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(config.get('model'))}-{_slug(config.get('data'))}"
        for n in range(1, 10_000):
            run_dir = runs_dir / (base if n == 1 else f"{base}-{n}")
            try:
                run_dir.mkdir()
                break
            except FileExistsError:
                continue
        (run_dir / "checkpoints").mkdir()
        tmp = run_dir / (CONFIG_NAME + ".tmp")
        tmp.write_text(json.dumps(config, indent=2, default=str))
        tmp.replace(run_dir / CONFIG_NAME)
        con = _connect(run_dir / DB_NAME)
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(_SCHEMA)
        now = time.time()
        con.execute("INSERT INTO meta (id, status, heartbeat, created, host) VALUES (0, 'queued', ?, ?, ?)",
                    (now, now, socket.gethostname()))
        con.close()
        return cls(run_dir, **kw)

    @classmethod
    def open(cls, run_dir: str | os.PathLike, **kw) -> "RunStore":
        """The store of an existing run directory (for reading, or for the worker to write into)."""
        return cls(run_dir, **kw)

    @property
    def checkpoint_dir(self) -> Path:
        """``run_dir/checkpoints`` (created with the run): best.pt, last.pt as plain state_dicts."""
        return self.run_dir / "checkpoints"

    def _db(self) -> sqlite3.Connection:
        if self._con is None:
            self._con = _connect(self.db_path)
            self._con.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable enough, no fsync per commit
        return self._con

    # ---- writing (the trainer) ------------------------------------------------------------------------------
    def log_step(self, step: int, epoch: int, loss: float, lr: float) -> None:
        """Record one training step (buffered; committed within ~``flush_every`` seconds).

        ``loss`` may be a 0-d tensor: it is converted only when the buffer is flushed, so the caller does not
        force a device sync each step (pass a detached tensor; ``float()`` runs once per flush).
        """
        self._steps.append((int(step), int(epoch), loss, lr, time.time()))
        self._maybe_flush()

    def log_activations(self, step: int, rows) -> None:
        """Record activation statistics of one step: rows of (layer, mean, std, frac_zero, grad_norm)."""
        step = int(step)
        self._acts.extend((step, str(r[0]), *r[1:5]) for r in rows)
        self._maybe_flush()

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        """Record named per-step numbers (jobs with several series, e.g. a GAN's D and G losses); buffered."""
        now = time.time()
        self._scalars.extend((int(step), str(k), _num(v), now) for k, v in values.items())
        self._maybe_flush()

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        """Record the metrics of one finished epoch (e.g. train_loss, val_loss, val_acc) and commit at once."""
        now = time.time()
        rows = [(int(epoch), str(k), _num(v), now) for k, v in metrics.items()]
        with self._lock:
            self._db().executemany("INSERT INTO epochs VALUES (?, ?, ?, ?)", rows)
        self.flush()

    def note(self, message: str, level: str = "info") -> None:
        """A message for the user shown with the run (e.g. 'no pretrained weights: random initialisation')."""
        with self._lock:
            self._db().execute("INSERT INTO notes VALUES (?, ?, ?)", (time.time(), level, str(message)))

    def set_plan(self, steps_per_epoch: int | None = None, total_steps: int | None = None) -> None:
        """Announce batches per epoch and total steps, so readers can show progress within an epoch."""
        self._update(steps_per_epoch=steps_per_epoch, total_steps=total_steps)

    def set_status(self, status: str, error: str | None = None) -> None:
        """Change the status ('queued', 'running', 'finished', 'stopped', 'failed'); flushes buffered rows.

        'running' records the start time and this process id and starts a background heartbeat; a terminal
        status records the end time and stops it.
        """
        if status not in STATUSES or status == "interrupted":
            raise ValueError(f"unknown status {status!r}; use one of {', '.join(STATUSES[:-1])}")
        self.flush()
        now = time.time()
        fields = {"status": status, "heartbeat": now}
        if error is not None:
            fields["error"] = str(error)
        if status == "running":
            fields.update(pid=os.getpid(), host=socket.gethostname())
            self._update(**fields)
            with self._lock:
                self._db().execute("UPDATE meta SET started = ? WHERE id = 0 AND started IS NULL", (now,))
            self._start_heartbeat()
        else:
            if status in TERMINAL:
                fields["ended"] = now
                self._stop_heartbeat()
            self._update(**fields)

    def set_pid(self, pid: int) -> None:
        """Record the worker's process id (launch does this while the run is still queued)."""
        self._update(pid=int(pid), host=socket.gethostname(), heartbeat=time.time())

    def heartbeat(self) -> None:
        """Say 'still alive' (also done by a background thread every few seconds while running)."""
        self._update(heartbeat=time.time())

    def request_stop(self) -> None:
        """Ask the worker to stop (from any process); the trainer sees it within a batch via stop_requested()."""
        self._update(stop_requested=1)

    def stop_here(self) -> None:
        """Make ``stop_requested()`` true in this process without touching the database (signal-handler safe)."""
        self._stop_cache = True

    def stop_requested(self) -> bool:
        """True once a stop was requested. Cheap enough to call every batch (reads the database every 0.2 s)."""
        now = time.monotonic()
        if not self._stop_cache and now - self._stop_checked >= STOP_CHECK_EVERY:
            self._stop_checked = now
            with self._lock:
                row = self._db().execute("SELECT stop_requested FROM meta WHERE id = 0").fetchone()
            self._stop_cache = bool(row and row[0])
        return self._stop_cache

    def flush(self) -> None:
        """Commit buffered step and activation rows now (one transaction)."""
        with self._lock:
            steps, self._steps = self._steps, []
            acts, self._acts = self._acts, []
            scalars, self._scalars = self._scalars, []
            self._last_flush = time.monotonic()
            if not steps and not acts and not scalars:
                return
            steps = _plain_steps(steps)
            acts = [(s, layer, *(_num(v) for v in vals)) for s, layer, *vals in acts]
            con = self._db()
            con.execute("BEGIN IMMEDIATE")
            try:
                con.executemany("INSERT INTO steps VALUES (?, ?, ?, ?, ?)", steps)
                con.executemany("INSERT INTO activations VALUES (?, ?, ?, ?, ?, ?)", acts)
                con.executemany("INSERT INTO scalars VALUES (?, ?, ?, ?)", scalars)
                con.execute("UPDATE meta SET heartbeat = ? WHERE id = 0", (time.time(),))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Flush, stop the heartbeat thread and close the connection (the store can still be read afterwards)."""
        self.flush()
        self._stop_heartbeat()
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _maybe_flush(self) -> None:
        if (time.monotonic() - self._last_flush >= self.flush_every
                or len(self._steps) + len(self._acts) + len(self._scalars) >= self.max_buffer):
            self.flush()

    def _update(self, **fields) -> None:
        fields = {k: v for k, v in fields.items() if v is not None}
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db().execute(f"UPDATE meta SET {sets} WHERE id = 0", tuple(fields.values()))

    def _start_heartbeat(self) -> None:
        if self._beat_thread is not None and self._beat_thread.is_alive():
            return
        self._beat_stop.clear()
        self._beat_thread = threading.Thread(target=self._beat_loop, name="runstore-heartbeat", daemon=True)
        self._beat_thread.start()

    def _beat_loop(self) -> None:
        con = _connect(self.db_path)  # its own connection: never waits on the trainer's lock
        try:
            while not self._beat_stop.wait(HEARTBEAT_EVERY):
                con.execute("UPDATE meta SET heartbeat = ? WHERE id = 0", (time.time(),))
        except sqlite3.Error:
            pass  # the run directory went away; nothing left to keep alive
        finally:
            con.close()

    def _stop_heartbeat(self) -> None:
        self._beat_stop.set()
        if self._beat_thread is not None and self._beat_thread is not threading.current_thread():
            self._beat_thread.join(timeout=2)
        self._beat_thread = None

    # ---- reading (any process) -------------------------------------------------------------------------------
    def _read(self, sql: str, params: tuple = ()) -> pd.DataFrame:
        con = _connect(self.db_path)
        try:
            return pd.read_sql_query(sql, con, params=params)
        finally:
            con.close()

    def config(self) -> dict:
        """The run's config.json as a dict."""
        return json.loads((self.run_dir / CONFIG_NAME).read_text())

    def steps(self, since_step: int = -1) -> pd.DataFrame:
        """Training steps after ``since_step``: columns step, epoch, loss, lr, time (ordered by step)."""
        return self._read("SELECT step, epoch, loss, lr, time FROM steps WHERE step > ? ORDER BY step, rowid",
                          (int(since_step),))

    def epochs(self) -> pd.DataFrame:
        """One row per epoch, one column per metric (epoch, train_loss, val_loss, val_acc, ...)."""
        long = self._read("SELECT epoch, name, value FROM epochs ORDER BY epoch, rowid")
        if long.empty:
            return pd.DataFrame({"epoch": pd.Series(dtype="int64")})
        wide = long.pivot_table(index="epoch", columns="name", values="value", aggfunc="last")
        wide.columns.name = None
        return wide.reset_index()

    def activations(self, since_step: int = -1) -> pd.DataFrame:
        """Activation statistics: columns step, layer, mean, std, frac_zero, grad_norm (ordered by step)."""
        return self._read("SELECT step, layer, mean, std, frac_zero, grad_norm FROM activations WHERE step > ? "
                          "ORDER BY step, rowid", (int(since_step),))

    def scalars(self, since_step: int = -1) -> pd.DataFrame:
        """Named per-step numbers after ``since_step``, wide: a step column and one column per name."""
        long = self._read("SELECT step, name, value FROM scalars WHERE step > ? ORDER BY step, rowid",
                          (int(since_step),))
        if long.empty:
            return pd.DataFrame({"step": pd.Series(dtype="int64")})
        wide = long.pivot_table(index="step", columns="name", values="value", aggfunc="last", dropna=False)
        wide.columns.name = None
        return wide.reset_index()

    def notes(self) -> pd.DataFrame:
        """Messages the trainer left for the user: columns time, level, message."""
        return self._read("SELECT time, level, message FROM notes ORDER BY rowid")

    def info(self, stale_after: float = STALE_AFTER) -> RunInfo:
        """The run's summary (status with 'interrupted' derived from a stale heartbeat or a dead worker)."""
        con = _connect(self.db_path)
        try:
            con.row_factory = sqlite3.Row
            meta = dict(con.execute("SELECT * FROM meta WHERE id = 0").fetchone())
            agg = con.execute("SELECT MAX(step), COUNT(*) FROM steps").fetchone()
            last_loss = con.execute("SELECT loss FROM steps ORDER BY step DESC, rowid DESC LIMIT 1").fetchone()
            ep = con.execute("SELECT COUNT(DISTINCT epoch) FROM epochs").fetchone()[0]
            best = con.execute("SELECT MAX(value) FROM epochs WHERE name = 'val_acc'").fetchone()[0]
        finally:
            con.close()
        try:
            config = self.config()
        except (OSError, ValueError):
            config = {}
        return run_info(self.run_dir, meta, config, agg, last_loss, ep, best, stale_after)


def _plain_steps(rows: list[tuple]) -> list[tuple]:
    """Step rows with plain floats; tensor losses are fetched in one stacked transfer (one device sync)."""
    losses = [r[2] for r in rows]
    if losses and all(hasattr(x, "detach") for x in losses):  # torch tensors (torch imported only when used)
        import torch

        try:
            losses = torch.stack(losses).detach().float().reshape(-1).cpu().tolist()  # one op, one transfer
        except RuntimeError:  # mixed shapes / devices: one at a time
            losses = [float(x) for x in losses]
    return [(s, e, _num(loss), _num(lr), t) for (s, e, _, lr, t), loss in zip(rows, losses)]


def _num(value) -> float | None:
    """A Python float from a number or a 0-d tensor (None stays None)."""
    return None if value is None else float(value)


def list_runs(runs_dir: str | os.PathLike | None = None, stale_after: float = STALE_AFTER) -> list[RunInfo]:
    """All runs under ``runs_dir`` (default: the configured runs root), newest first.

    Directories that are not runs, or whose database cannot be read, are skipped.
    """
    if runs_dir is None:
        from core.settings import load_settings
        runs_dir = load_settings().runs_dir
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    infos = []
    for d in runs_dir.iterdir():
        if (d / DB_NAME).is_file():
            try:
                infos.append(RunStore(d).info(stale_after))
            except (sqlite3.Error, TypeError):
                continue  # half-created or foreign database: not a run we can show
    return sorted(infos, key=lambda i: i.name, reverse=True)  # names start with the creation time
