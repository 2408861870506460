"""``python -m core runs [--runs-dir DIR] [--json] [--delete RUN [--yes] | --stop RUN] [--user NAME]``: the recorded
runs and jobs, newest first, with their status; or delete one (asked to confirm; never while it is queued or
running); or stop one (it stops after its current step, what it wrote is kept).

On a served lab (``served = true``) a run started from a browser session belongs to that session's user, and only
its owner may stop or delete it (core.access.can_control): say whose run it is with ``--user``. Runs started from
the command line have no owner and are the operator's.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.train.pace import duration_text
from core.train.store import RunInfo, list_runs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``runs`` command."""
    parser.add_argument("--runs-dir", help="runs root (default: runs_dir from lab.toml / $DLLAB_RUNS, else ./runs)")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.add_argument("--delete", metavar="RUN", help="delete this run (its name, or its directory)")
    parser.add_argument("--yes", action="store_true", help="with --delete: do not ask to confirm")
    parser.add_argument("--stop", metavar="RUN", help="stop this queued or running job (its name, or its directory)")
    parser.add_argument("--user", help="with --delete / --stop on a served lab: the owner the run must belong to")


def _row(r: RunInfo) -> list[str]:
    acc = "-" if r.best_val_acc is None else f"{r.best_val_acc:.1%}"
    epochs = f"{r.epochs_done}/{r.epochs}" if r.epochs else "-"
    duration = "-" if r.duration is None else duration_text(r.duration)
    return [r.name, r.kind, r.status, r.data or "-", r.model or "-", epochs, acc, duration]


def format_table(runs: list[RunInfo]) -> str:
    """The runs as an aligned text table (one line per run, header first)."""
    rows = [["run", "kind", "status", "data", "model", "epochs", "best val acc", "duration"]] + [_row(r) for r in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _find(runs: list[RunInfo], which: str) -> RunInfo | None:
    by_dir = {str(Path(r.run_dir).resolve()): r for r in runs}
    return next((r for r in runs if r.name == which), None) or by_dir.get(str(Path(which).resolve()))


def _controlled(runs_dir, which: str, user: str | None, verb: str) -> RunInfo | None:
    """The run ``which`` when ``user`` may control it (core.access.can_control), else None after saying why."""
    from core.access import can_control

    run = _find(list_runs(runs_dir), which)
    if run is None:
        print(f"no run {which!r} under the runs root; `python -m core runs` lists them", file=sys.stderr)
        return None
    if run.owner is not None and not can_control(run, user):
        print(f"refused: {run.name} belongs to {run.owner} (a session of the served lab) and only its owner may "
              f"{verb} it; pass --user {run.owner} if you act for them", file=sys.stderr)
        return None
    return run


def stop(args: argparse.Namespace) -> int:
    """Ask the job ``args.stop`` to stop; exit code 0 when asked, 1 when refused or not active."""
    from core.train.store import ACTIVE, RunStore

    run = _controlled(args.runs_dir, args.stop, args.user, "stop")
    if run is None:
        return 1
    if run.status not in ACTIVE:
        print(f"{run.name} is not running ({run.status}); nothing to stop", file=sys.stderr)
        return 1
    RunStore.open(run.run_dir).request_stop()
    print(f"stop requested for {run.name}: it stops after its current step")
    return 0


def delete(args: argparse.Namespace) -> int:
    """Delete the run ``args.delete`` after asking (unless ``--yes``); exit code 0 when deleted, 1 when not."""
    from core.train.store import delete_run

    run = _controlled(args.runs_dir, args.delete, args.user, "delete")
    if run is None:
        return 1
    if not args.yes and input(f"delete {run.name} ({run.model} on {run.data}, {run.status}) for good? [y/N] ")\
            .strip().lower() not in ("y", "yes"):
        print("not deleted")
        return 1
    try:
        delete_run(run.run_dir)
    except (ValueError, OSError) as err:
        print(f"refused: {err}", file=sys.stderr)
        return 1
    print(f"deleted {run.name}")
    return 0


def run(args: argparse.Namespace) -> int:
    """List the runs (exit code 0; an empty or missing runs root lists nothing), or delete one."""
    if args.delete:
        return delete(args)
    if args.stop:
        return stop(args)
    runs = list_runs(args.runs_dir)
    if args.json:
        print(json.dumps([r.to_dict() for r in runs], indent=2))
    elif runs:
        print(format_table(runs))
    else:
        print("no runs yet")
    return 0
