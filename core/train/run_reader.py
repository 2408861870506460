"""Reading a run directory (any process, while it is being written): ``RunReader``, the read half of ``RunStore``."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd

from core.train.run_info import STALE_AFTER, RunInfo, info_from_row, summary_row

DB_NAME, CONFIG_NAME = "metrics.sqlite", "config.json"


def _connect(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(db, timeout=10.0, check_same_thread=False, isolation_level=None)
    con.execute("PRAGMA busy_timeout=10000")
    return con


class RunReader:
    """Readers of a run's database and config.json; each opens its own short-lived connection (WAL: never blocks
    the writer). ``RunStore`` is a ``RunReader`` that can also write."""

    run_dir: Path
    db_path: Path

    def __init__(self, run_dir):
        """Read the run directory ``run_dir`` (FileNotFoundError when it has no database)."""
        self.run_dir = Path(run_dir)
        self.db_path = self.run_dir / DB_NAME
        if not self.db_path.is_file():
            raise FileNotFoundError(f"{self.run_dir} is not a run directory (no {DB_NAME})")

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

    def grads(self, since_step: int = -1) -> pd.DataFrame:
        """Gradient statistics: columns step, layer, grad_norm, weight_norm, update_ratio (ordered by step); empty
        for a run recorded before they existed."""
        try:
            return self._read("SELECT step, layer, grad_norm, weight_norm, update_ratio FROM grads WHERE step > ? "
                              "ORDER BY step, rowid", (int(since_step),))
        except pd.errors.DatabaseError:
            return pd.DataFrame(columns=["step", "layer", "grad_norm", "weight_norm", "update_ratio"])

    def scalars(self, since_step: int = -1) -> pd.DataFrame:
        """Named per-step series after ``since_step`` (see ``log_scalars``): one row per step, one column per name."""
        try:
            long = self._read("SELECT step, name, value FROM scalars WHERE step > ? ORDER BY step, rowid",
                              (int(since_step),))
        except pd.errors.DatabaseError:  # a run database from before scalars existed: it has none
            long = pd.DataFrame(columns=["step", "name", "value"])
        if long.empty:
            return pd.DataFrame({"step": pd.Series(dtype="int64")})
        wide = long.pivot_table(index="step", columns="name", values="value", aggfunc="last")
        wide.columns.name = None
        return wide.reset_index()

    def notes(self) -> pd.DataFrame:
        """Messages the trainer left for the user: columns time, level, message."""
        return self._read("SELECT time, level, message FROM notes ORDER BY rowid")

    def info(self, stale_after: float = STALE_AFTER) -> RunInfo:
        """The run's summary (status with 'interrupted' derived from a stale heartbeat or a dead worker)."""
        return info_from_row(self.run_dir, self.summary_row(), stale_after)

    def summary_row(self) -> dict:
        """The run's row of the runs index, read from its own database and config.json (the index's source)."""
        con = _connect(self.db_path)
        try:
            con.row_factory = sqlite3.Row
            meta = dict(con.execute("SELECT * FROM meta WHERE id = 0").fetchone())
            last = con.execute("SELECT step, loss FROM steps ORDER BY step DESC, rowid DESC LIMIT 1").fetchone()
            done, best = con.execute("SELECT COUNT(DISTINCT epoch), MAX(CASE WHEN name = 'val_acc' THEN value END) "
                                     "FROM epochs").fetchone()
        finally:
            con.close()
        try:
            config = self.config()
        except (OSError, ValueError):
            config = {}
        return summary_row(self.run_dir.name, meta, config, last, done, best)


