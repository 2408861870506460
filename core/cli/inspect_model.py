"""``python -m core inspect-model RUN_DIR [--json] [--all]``: the layer table of a run's model.

One line per module call in execution order: output shape, parameters (shared ones counted once), multiply-adds
per sample, receptive field (input pixels a unit sees, or "global") and jump (the product of strides so far).
Blocks and the layers inside them are indented; ``--depth N`` shows N levels (default 2), ``--json`` everything.

    python -m core inspect-model runs/20260101-120000-cnn-digits
"""
from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``inspect-model`` command."""
    parser.add_argument("run_dir", help="a run directory (runs/<name>)")
    parser.add_argument("--depth", type=int, default=2, help="nesting levels to show (default 2)")
    parser.add_argument("--json", action="store_true", help="print rows and totals as one JSON object")


def _count(n: int) -> str:
    return f"{n:,}" if n else "-"


def format_table(rows, totals, depth: int) -> str:
    """The table as aligned text, totals below."""
    lines = [["layer", "type", "output shape", "params", "mult-adds", "field", "jump"]]
    for r in rows:
        if r.depth >= depth:
            continue
        jump = "" if r.jump is None else "×".join(f"{j:g}" for j in dict.fromkeys(r.jump))
        lines.append(["  " * r.depth + r.name, r.type, "×".join(map(str, r.output_shape[1:])), _count(r.params),
                      _count(r.mult_adds), r.field_text, jump])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = ["  ".join(c.rjust(w) if 3 <= i <= 4 else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths)))
            .rstrip() for line in lines]
    text += ["", f"parameters: {totals.params:,} ({totals.trainable:,} trainable, {totals.frozen:,} frozen, "
                 f"{totals.param_megabytes:.2f} MB)", f"multiply-adds per sample: {totals.mult_adds:,}"]
    if totals.outside_layers:
        text.append(f"not used by the forward pass: {totals.outside_layers:,} parameters")
    return "\n".join(text)


def run(args: argparse.Namespace) -> int:
    """Print the table; exit code 2 when the run cannot be loaded (with the reason)."""
    from core.inspect import layer_table, layer_totals, load_run

    try:
        target = load_run(args.run_dir)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"cannot inspect {args.run_dir}: {err}", file=sys.stderr)
        return 2
    rows = layer_table(target.model, target.input_shape, example=target.batch([0])[0])
    totals = layer_totals(target.model, rows)
    if args.json:
        print(json.dumps({"run_dir": str(args.run_dir), "model": target.name, "input_shape": list(target.input_shape),
                          "rows": [r.to_dict() for r in rows], "totals": totals.__dict__}))
    else:
        print(f"{target.name} on {target.input_kind} input {tuple(target.input_shape)}\n")
        print(format_table(rows, totals, args.depth))
    return 0
