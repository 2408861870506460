"""``python -m core export RUN_DIR --format state_dict|onnx|exported --out FILE``: take a model out.

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
    parser.add_argument("--format", required=True, choices=list(FORMATS),
                        help="state_dict (+ a Python file that rebuilds the model) | onnx | "
                             "exported (torch.export .pt2)")
    parser.add_argument("--out", required=True, help="the file to write")
    parser.add_argument("--check", type=int, default=8, metavar="N", help="validation examples to check on")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """Export and check; see the module docstring for the exit codes."""
    from core.inspect import ExportUnavailable, export_run

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
