"""``python -m core export RUN_DIR --format state_dict|onnx|exported|script --out FILE``: take a model out.

``--format script`` writes the whole run as one plain PyTorch file that trains it again without the lab
(core.export.script); ``--out`` defaults to ``<run name>.py`` there; an ``--out`` ending in ``.ipynb`` writes it as a
Jupyter notebook, one cell per section.

Writes the run's model (best checkpoint, else last) in the chosen format, loads it back and checks it against the
lab's model on validation examples; prints what was written and the check. Exit code 0 when the export matches,
1 when it was written but does not match, 2 when it could not be written (with the reason).

    python -m core export runs/20260101-120000-cnn-digits --format state_dict --out digits.pt   # + digits.py
    python -m core export runs/20260101-120000-cnn-digits --format onnx --out digits.onnx --json
"""
from __future__ import annotations

import argparse
import json
import sys

from core.inspect.export import FORMATS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``export`` command."""
    parser.add_argument("run_dir", help="a run directory (runs/<name>)")
    parser.add_argument("--format", required=True, choices=[*FORMATS, "script"],
                        help="state_dict (+ a Python file that rebuilds the model) | onnx | "
                             "exported (torch.export .pt2) | script (the run as a plain PyTorch training script)")
    parser.add_argument("--out", help="the file to write (script: default <run name>.py)")
    parser.add_argument("--check", type=int, default=8, metavar="N", help="validation examples to check on")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """Export and check; see the module docstring for the exit codes."""
    from core.inspect import ExportUnavailable, export_run

    if args.format == "script":
        return _script(args)
    if not args.out:
        print(json.dumps({"error": "--out is required"}) if args.json else "cannot export: --out is required",
              file=sys.stdout if args.json else sys.stderr)
        return 2
    try:
        result = export_run(args.run_dir, args.format, args.out, n_check=args.check)
    except (ExportUnavailable, FileNotFoundError, ValueError) as err:
        print(json.dumps({"error": str(err)}) if args.json else f"cannot export: {err}",
              file=sys.stdout if args.json else sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**result.to_dict(), "message": result.message()}))
    else:
        print("\n".join([*(f"wrote {f}" for f in result.files), result.message(), *result.notes]))
    return 0 if result.ok else 1


def _script(args: argparse.Namespace) -> int:
    """Write the run as a script; 0 when written, 2 with the reason when the run is not covered."""
    from pathlib import Path

    from core.export import ScriptUnavailable, write_script

    out = args.out or f"{Path(args.run_dir).resolve().name}.py"
    try:
        path = write_script(args.run_dir, out)
    except (ScriptUnavailable, FileNotFoundError) as err:
        print(json.dumps({"error": str(err)}) if args.json else f"cannot export: {err}",
              file=sys.stdout if args.json else sys.stderr)
        return 2
    message = f"wrote {path}: run it with python {path.name} (its last line is a JSON object with val_acc and losses)"
    print(json.dumps({"format": "script", "path": str(path), "message": message}) if args.json else message)
    return 0
