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


from core.train.run_index import RunIndex, delete_run, list_runs  # noqa: F401 - the runs list lives beside the index
from core.train.run_info import ACTIVE, STALE_AFTER, RunInfo  # noqa: F401 - readers import them from here
from core.train.run_reader import CONFIG_NAME, DB_NAME, RunReader, _connect

STATUSES = ("queued", "running", "finished", "stopped", "failed", "interrupted")
TERMINAL = ("finished", "stopped", "failed")
HEARTBEAT_EVERY = 5.0  # the writer's background thread refreshes the heartbeat this often while a run is active
STOP_CHECK_EVERY = 0.2  # stop_requested() looks at the database at most this often (seconds); cheap per batch

_SCHEMA = """
CREATE TABLE IF NOT EXISTS steps (step INTEGER, epoch INTEGER, loss REAL, lr REAL, time REAL);
CREATE TABLE IF NOT EXISTS epochs (epoch INTEGER, name TEXT, value REAL, time REAL);
CREATE TABLE IF NOT EXISTS activations (step INTEGER, layer TEXT, mean REAL, std REAL, frac_zero REAL,
                                        grad_norm REAL);
CREATE TABLE IF NOT EXISTS notes (time REAL, level TEXT, message TEXT);
CREATE TABLE IF NOT EXISTS grads (step INTEGER, layer TEXT, grad_norm REAL, weight_norm REAL, update_ratio REAL);
CREATE TABLE IF NOT EXISTS scalars (step INTEGER, name TEXT, value REAL, time REAL);
CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 0), status TEXT, error TEXT, heartbeat REAL,
                                 stop_requested INTEGER DEFAULT 0, started REAL, ended REAL, created REAL,
                                 pid INTEGER, host TEXT, steps_per_epoch INTEGER, total_steps INTEGER);
CREATE INDEX IF NOT EXISTS steps_step ON steps(step);
CREATE INDEX IF NOT EXISTS act_step ON activations(step);
CREATE INDEX IF NOT EXISTS scalars_step ON scalars(step);
"""
# meta columns added after the first release: (name, SQL type). Old run databases get them when opened for writing.
_META_ADDED = (("kind", "TEXT DEFAULT 'train'"), ("owner", "TEXT"), ("target", "TEXT"), ("progress_done", "INTEGER"),
               ("progress_total", "INTEGER"), ("progress_text", "TEXT"))
PROGRESS_EVERY = 0.5  # set_progress writes at most this often (seconds), except the final done == total


def _slug(text: str, limit: int = 24) -> str:
    """'builtin:digits' -> 'digits'; '/data/My Photos/' -> 'my-photos' (safe in a directory name)."""
    text = str(text or "").rstrip("/\\").split(":")[-1]
    text = re.split(r"[/\\]", text)[-1]
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit] or "run"


def _migrate(con: sqlite3.Connection) -> None:
    """Bring a run database written by an older version up to the current schema (new tables and meta columns)."""
    con.executescript(_SCHEMA)
    have = {row[1] for row in con.execute("PRAGMA table_info(meta)")}
    for name, kind in _META_ADDED:
        if name not in have:
            con.execute(f"ALTER TABLE meta ADD COLUMN {name} {kind}")


class RunStore(RunReader):
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
        self._grads: list[tuple] = []
        self._index = RunIndex(self.run_dir.parent)  # the runs root's summary table (see core.train.run_index)
        self._last_progress = 0.0
        self._last_flush = time.monotonic()
        self._stop_cache, self._stop_checked = False, 0.0
        self._beat_thread: threading.Thread | None = None
        self._beat_stop = threading.Event()

    # ---- creating / opening -------------------------------------------------------------------------------
    @classmethod
    def create(cls, runs_dir: str | os.PathLike, config: dict, *, kind: str = "train", owner: str | None = None,
               target: str | None = None, **kw) -> "RunStore":
        """Make a new run directory under ``runs_dir`` (status 'queued') and return its store.

        The name is ``YYYYmmdd-HHMMSS-<model>-<data>`` (``YYYYmmdd-HHMMSS-<kind>-<model>-<data>`` for jobs other than
        training; ``-2``, ``-3``... when taken). ``config`` is written to config.json as given (for training,
        ``TrainConfig.to_dict()``; every job's config has ``data`` and, when there is one, ``model``). ``kind`` is the
        job kind (core.jobs), ``owner`` who started it (served mode), ``target`` the job function the worker runs.
        """
        runs_dir = Path(runs_dir)
        runs_dir.mkdir(parents=True, exist_ok=True)
        prefix = "" if kind == "train" else f"{_slug(kind)}-"
        base = (f"{time.strftime('%Y%m%d-%H%M%S')}-{prefix}{_slug(config.get('model'))}-"
                f"{_slug(config.get('data'))}")
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
        _migrate(con)
        now = time.time()
        row = dict(status="queued", heartbeat=now, created=now, host=socket.gethostname(), kind=kind, owner=owner,
                   target=target)
        con.execute(f"INSERT INTO meta (id, {', '.join(row)}) VALUES (0, {', '.join('?' * len(row))})",
                    tuple(row.values()))
        con.close()
        store = cls(run_dir, **kw)
        store._index.update(run_dir.name, **row, data=str(config.get("data", "")), model=str(config.get("model", "")),
                            epochs=int(config.get("epochs") or 0), epochs_done=0, last_step=-1)
        return store

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
            _migrate(self._con)
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

    def log_grads(self, step: int, rows) -> None:
        """Record gradient statistics of one step: rows of (layer, grad_norm, weight_norm, update_ratio); buffered."""
        step = int(step)
        self._grads.extend((step, str(r[0]), *r[1:4]) for r in rows)
        self._maybe_flush()

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        """Record several named per-step series at once (a GAN's D and G losses, D(x), ...); buffered like steps.

        Values may be 0-d tensors (converted at flush time, as in ``log_step``).
        """
        now = time.time()
        self._scalars.extend((int(step), str(k), v, now) for k, v in values.items())
        self._maybe_flush()

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        """Record the metrics of one finished epoch (e.g. train_loss, val_loss, val_acc) and commit at once, in one
        transaction with the steps still buffered: a reader sees all of the epoch or none of it."""
        now = time.time()
        rows = [(int(epoch), str(k), _num(v), now) for k, v in metrics.items()]
        self.flush(epochs=rows)

    def set_progress(self, done: int, total: int, text: str = "") -> None:
        """Progress of a job that is not an epoch loop (an LR sweep, an attack sweep): ``done`` of ``total`` units
        and a line saying what it is doing. Cheap to call often: written at most every ``PROGRESS_EVERY`` seconds."""
        now = time.monotonic()
        if done < total and now - self._last_progress < PROGRESS_EVERY:
            return
        self._last_progress = now
        self._update(progress_done=int(done), progress_total=int(total), progress_text=str(text),
                     heartbeat=time.time())

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
                con = self._db()
                con.execute("UPDATE meta SET started = ? WHERE id = 0 AND started IS NULL", (now,))
                started = con.execute("SELECT started FROM meta WHERE id = 0").fetchone()[0]
            self._index.update(self.run_dir.name, started=started)
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

    def flush(self, epochs: list[tuple] = ()) -> None:
        """Commit buffered step and activation rows now, with ``epochs`` rows if given (one transaction)."""
        with self._lock:
            steps, self._steps = self._steps, []
            acts, self._acts = self._acts, []
            scalars, self._scalars = self._scalars, []
            grads, self._grads = self._grads, []
            self._last_flush = time.monotonic()
            if not steps and not acts and not scalars and not grads and not epochs:
                return
            steps = _plain_steps(steps)
            acts = [(s, layer, *(_num(v) for v in vals)) for s, layer, *vals in acts]
            scalars = _plain_values(scalars)
            now = time.time()
            con = self._db()
            con.execute("BEGIN IMMEDIATE")
            try:
                con.executemany("INSERT INTO steps VALUES (?, ?, ?, ?, ?)", steps)
                con.executemany("INSERT INTO activations VALUES (?, ?, ?, ?, ?, ?)", acts)
                con.executemany("INSERT INTO scalars VALUES (?, ?, ?, ?)", scalars)
                con.executemany("INSERT INTO grads VALUES (?, ?, ?, ?, ?)",
                                [(s, layer, *(_num(v) for v in vals)) for s, layer, *vals in grads])
                con.executemany("INSERT INTO epochs VALUES (?, ?, ?, ?)", epochs)
                con.execute("UPDATE meta SET heartbeat = ? WHERE id = 0", (now,))
                if epochs:
                    done, best = con.execute("SELECT COUNT(DISTINCT epoch), MAX(CASE WHEN name = 'val_acc' THEN "
                                             "value END) FROM epochs").fetchone()
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        last = {"last_step": steps[-1][0], "last_loss": steps[-1][2]} if steps else {}
        if epochs:
            last.update(epochs_done=done, best_val_acc=best)
        self._index.update(self.run_dir.name, heartbeat=now, **last)

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
                or len(self._steps) + len(self._acts) + len(self._grads) >= self.max_buffer):
            self.flush()

    def _update(self, **fields) -> None:
        """Set meta fields (None values are skipped) and mirror them into the runs index."""
        fields = {k: v for k, v in fields.items() if v is not None}
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db().execute(f"UPDATE meta SET {sets} WHERE id = 0", tuple(fields.values()))
        self._index.update(self.run_dir.name, **fields)

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
                now = time.time()
                con.execute("UPDATE meta SET heartbeat = ? WHERE id = 0", (now,))
                self._index.update(self.run_dir.name, heartbeat=now)
        except sqlite3.Error:
            pass  # the run directory went away; nothing left to keep alive
        finally:
            con.close()

    def _stop_heartbeat(self) -> None:
        self._beat_stop.set()
        if self._beat_thread is not None and self._beat_thread is not threading.current_thread():
            self._beat_thread.join(timeout=2)
        self._beat_thread = None


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


def _plain_values(rows: list[tuple]) -> list[tuple]:
    """Scalar rows (step, name, value, time) with plain floats, tensors fetched in one transfer."""
    values = [r[2] for r in rows]
    tensors = [i for i, v in enumerate(values) if hasattr(v, "detach")]
    if tensors:
        import torch

        try:
            fetched = torch.stack([values[i].detach().float().reshape(()) for i in tensors]).cpu().tolist()
        except RuntimeError:  # mixed devices: one at a time
            fetched = [float(values[i]) for i in tensors]
        for i, v in zip(tensors, fetched):
            values[i] = v
    return [(s, n, _num(v), t) for (s, n, _, t), v in zip(rows, values)]


def _num(value) -> float | None:
    """A Python float from a number or a 0-d tensor (None stays None)."""
    return None if value is None else float(value)
