"""``python -m core runs [--runs-dir DIR] [--json]``: the recorded runs, newest first, with their status."""
from __future__ import annotations

import argparse
import json
import time

from core.train.store import RunInfo, list_runs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``runs`` command."""
    parser.add_argument("--runs-dir", help="runs root (default: runs_dir from lab.toml / $DLLAB_RUNS, else ./runs)")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return time.strftime("%H:%M:%S", time.gmtime(seconds)) if seconds >= 60 else f"{seconds:.1f}s"


def _row(r: RunInfo) -> list[str]:
    acc = "-" if r.best_val_acc is None else f"{r.best_val_acc:.4f}"
    return [r.name, r.status, r.data, r.model, f"{r.epochs_done}/{r.epochs}", acc, _duration(r.duration)]


def format_table(runs: list[RunInfo]) -> str:
    """The runs as an aligned text table (one line per run, header first)."""
    rows = [["run", "status", "data", "model", "epochs", "best val acc", "duration"]] + [_row(r) for r in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def run(args: argparse.Namespace) -> int:
    """List the runs; exit code 0 (an empty or missing runs root lists nothing)."""
    runs = list_runs(args.runs_dir)
    if args.json:
        print(json.dumps([r.to_dict() for r in runs], indent=2))
    elif runs:
        print(format_table(runs))
    else:
        print("no runs yet")
    return 0
