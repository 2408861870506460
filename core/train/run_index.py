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
import sqlite3
from pathlib import Path

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
