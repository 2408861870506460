"""The runs index: one small SQLite table per runs root (``RUNS_ROOT/index.sqlite``) with a summary row per run.

Listing the runs is then one query, however many runs there are: the runs table polls it every few seconds for every
open browser tab, and opening each run's own database on every poll does not scale to a classroom. Each run's writer
(``RunStore``) mirrors what it records into its row: status, heartbeat, progress, epochs done, best accuracy.

The index is a cache of the runs' own databases, never the only copy:
- a run directory without a row (made by an older version, copied in from elsewhere) is read once and added;
- a row without a directory (deleted by hand) is dropped;
- a row still saying queued/running whose worker is gone is re-read from the run's own database, so a write to the
  index that was lost when a worker died cannot leave a wrong status behind.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from core.train.run_info import ACTIVE, STALE_AFTER, RunInfo, derive_status, info_from_row, pid_state
from core.train.run_reader import DB_NAME, RunReader

INDEX_NAME = "index.sqlite"


# column -> SQL type. Every column is a field of RunInfo or of a run's meta row, under the same name.
COLUMNS = {
    "name": "TEXT PRIMARY KEY", "kind": "TEXT", "owner": "TEXT", "data": "TEXT", "model": "TEXT",
    "epochs": "INTEGER", "status": "TEXT", "error": "TEXT", "heartbeat": "REAL", "stop_requested": "INTEGER",
    "started": "REAL", "ended": "REAL", "created": "REAL", "pid": "INTEGER", "host": "TEXT",
    "steps_per_epoch": "INTEGER", "total_steps": "INTEGER", "epochs_done": "INTEGER", "best_val_acc": "REAL",
    "last_step": "INTEGER", "last_loss": "REAL", "progress_done": "INTEGER", "progress_total": "INTEGER",
    "progress_text": "TEXT",
}


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=10.0, check_same_thread=False, isolation_level=None)
    con.execute("PRAGMA busy_timeout=10000")
    return con


class RunIndex:
    """Rows of the runs under one runs root. Cheap to create; opens a connection per call (any thread, any process).

    >>> index = RunIndex("runs")                                  # doctest: +SKIP
    >>> index.update("20260101-120000-cnn-digits", status="running")  # doctest: +SKIP
    """

    def __init__(self, runs_dir: str | os.PathLike):
        self.runs_dir = Path(runs_dir)
        self.path = self.runs_dir / INDEX_NAME
        self._ready = False

    def _db(self) -> sqlite3.Connection:
        con = _connect(self.path)
        if not self._ready:
            con.execute("PRAGMA journal_mode=WAL")
            cols = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
            con.execute(f"CREATE TABLE IF NOT EXISTS runs ({cols})")
            have = {row[1] for row in con.execute("PRAGMA table_info(runs)")}
            for name, kind in COLUMNS.items():  # an index written by an older version: add the new columns
                if name not in have:
                    con.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
            self._ready = True
        return con

    def update(self, run_name: str, /, **fields) -> None:
        """Create the row of run ``run_name`` if needed and set ``fields`` (unknown names are ignored)."""
        name = run_name
        fields = {k: v for k, v in fields.items() if k in COLUMNS and k != "name"}
        con = self._db()
        try:
            con.execute("INSERT OR IGNORE INTO runs (name) VALUES (?)", (name,))
            if fields:
                sets = ", ".join(f"{k} = ?" for k in fields)
                con.execute(f"UPDATE runs SET {sets} WHERE name = ?", (*fields.values(), name))
        finally:
            con.close()

    def rows(self) -> list[dict]:
        """Every row, as dicts (one query)."""
        if not self.path.is_file():
            return []
        con = self._db()
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute("SELECT * FROM runs")]
        finally:
            con.close()

    def delete(self, name: str) -> None:
        """Drop the row of run ``name`` (its directory is gone)."""
        if not self.path.is_file():
            return
        con = self._db()
        try:
            con.execute("DELETE FROM runs WHERE name = ?", (name,))
        finally:
            con.close()


def list_runs(runs_dir: str | os.PathLike | None = None, stale_after: float = STALE_AFTER,
              kind: str | None = None) -> list[RunInfo]:
    """All runs under ``runs_dir`` (default: the configured runs root), newest first; only job ``kind`` if given.

    One query of the runs index (core.train.run_index), plus a directory listing to pick up runs the index does not
    know yet and to forget deleted ones. Directories that are not runs, or whose database cannot be read, are skipped.
    """
    if runs_dir is None:
        from core.settings import load_settings
        runs_dir = load_settings().runs_dir
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    index = RunIndex(runs_dir)
    rows = {r["name"]: r for r in index.rows()}
    on_disk = {d.name for d in os.scandir(runs_dir) if d.is_dir() and os.path.isfile(os.path.join(d.path, DB_NAME))}
    for name in rows.keys() - on_disk:
        index.delete(name)
    infos = []
    for name in on_disk:
        row = rows.get(name)
        if row is None or (row.get("status") in ACTIVE and derive_status(row, stale_after) not in ACTIVE):
            row = _reindex(runs_dir / name, index)  # unknown to the index, or its worker died: the run's own word
            if row is None:
                continue
        if kind is None or (row.get("kind") or "train") == kind:
            infos.append(info_from_row(runs_dir / name, row, stale_after))
    return sorted(infos, key=lambda i: (i.created or i.started or 0.0, i.name), reverse=True)  # newest first


def _reindex(run_dir: Path, index: RunIndex) -> dict | None:
    """Read a run's summary from its own database into the index; None when it cannot be read (not a run)."""
    try:
        row = RunReader(run_dir).summary_row()
    except (sqlite3.Error, TypeError, FileNotFoundError):
        return None  # half-created or foreign database: not a run we can show
    if row.get("status") in ACTIVE and pid_state(row.get("pid"), row.get("host")) == "dead":
        row["status"] = "interrupted"  # for good: the index need not ask the run's own database again
    index.update(run_dir.name, **row)
    return row


def delete_run(run_dir: str | os.PathLike) -> None:
    """Delete a run directory and its index row. An active (queued or running) run is refused with ValueError:
    stop it first. Whether this user may delete it is core.access.can_delete's question, asked by the caller."""
    run_dir = Path(run_dir)
    info = RunReader(run_dir).info()
    if info.status in ACTIVE:
        raise ValueError(f"{info.name} is {info.status}; stop it before deleting it")
    shutil.rmtree(run_dir)
    RunIndex(run_dir.parent).delete(run_dir.name)
