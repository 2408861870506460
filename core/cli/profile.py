"""``python -m core profile RUN_DIR [--steps N] [--json] [--device D]``: where a training step of a run goes.

Runs N training steps (default 20, after one warm-up step) of the run's model on its data under torch.profiler and
prints one line per layer -- forward and backward time (ms per step) and memory (allocated minus freed, per step),
share of the step --, the top operators, the data loader's share and a sentence on what dominates. ``--json``
prints one object whose ``layers`` has one row per layer and whose ``trace`` names the Chrome trace written
(open it in chrome://tracing or https://ui.perfetto.dev).

    python -m core profile runs/20260101-120000-cnn-digits --steps 20
"""
from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``profile`` command."""
    parser.add_argument("run_dir", help="a training run directory (runs/<name>)")
    parser.add_argument("--steps", type=int, default=20, help="training steps to profile (default 20)")
    parser.add_argument("--out", help="folder for the Chrome trace (default RUN_DIR/profile)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:1 | mps")
    parser.add_argument("--json", action="store_true", help="print one JSON object (a row per layer, the trace)")


def _kb(n: int) -> str:
    return f"{n / 1024:,.0f} KB"


def format_table(result) -> str:
    """Layers, phases and top operators as aligned text, the summary sentence last."""
    lines = [["layer", "forward ms", "backward ms", "forward mem", "backward mem", "share"]]
    lines += [[lp.layer, f"{lp.forward_ms:.3f}", f"{lp.backward_ms:.3f}", _kb(lp.forward_bytes),
               _kb(lp.backward_bytes), f"{lp.share:.0%}"] for lp in result.layers]
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
    text = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
            for row in lines]
    phases = ", ".join(f"{k} {v:.2f} ms" for k, v in result.phases_ms.items())
    text += ["", f"step {result.step_ms:.2f} ms on {result.device}: {phases}", "", "top operators (self time):"]
    text += [f"  {op.name:<40} {op.self_ms:8.3f} ms  x{op.calls:g}" for op in result.ops[:10]]
    text += ["", result.summary, f"Chrome trace: {result.trace}"]
    return "\n".join(text)


def run(args: argparse.Namespace) -> int:
    """Profile and print; exit code 2 when the run cannot be profiled (with the reason)."""
    from core.debug.jobs import profile_problems
    from core.debug.profile import layer_rows, profile_run

    problems = profile_problems({"run": args.run_dir, "steps": args.steps})
    if problems:
        print(f"cannot profile {args.run_dir}: {'; '.join(problems)}", file=sys.stderr)
        return 2
    try:
        result = profile_run(args.run_dir, args.steps, out_dir=args.out, device=args.device)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"cannot profile {args.run_dir}: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"run_dir": str(args.run_dir), "steps": result.steps, "device": result.device,
                          "step_ms": result.step_ms, "phases_ms": result.phases_ms,
                          "data_share": result.data_share, "layers": layer_rows(result),
                          "top_ops": [op.__dict__ for op in result.ops], "summary": result.summary,
                          "trace": result.trace}))
    else:
        print(format_table(result))
    return 0
