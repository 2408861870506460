"""``python -m core lr-find --data SOURCE --model NAME [...]``: the learning-rate range test from the command line.

Prints every step's LR, raw and smoothed loss, the suggestions (each with a one-line explanation) and why the sweep
stopped; ``--json`` prints the same as one JSON object. ``--seeds N`` repeats the sweep with N seeds and reports the
spread of each suggestion. The model and optimizer are the ones ``python -m core train`` would start from.

    python -m core lr-find --data builtin:digits --model cnn --num-iter 100
    python -m core lr-find --data builtin:reviews --model lstm --seeds 3 --json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from core.train.suggest import EXPLANATIONS, MIN_DROP

# CLI option -> TrainConfig field (options not given keep the model's recommended defaults)
_CONFIG = {"data": "data", "model": "model", "batch_size": "batch_size", "optimizer": "optimizer",
           "weight_decay": "weight_decay", "label_smoothing": "label_smoothing", "freeze_epochs": "freeze_epochs",
           "seed": "seed", "device": "device"}
_SWEEP = ("start_lr", "end_lr", "num_iter", "step_mode", "beta")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``lr-find`` command."""
    parser.add_argument("--data", required=True, help="builtin:digits | builtin:shapes | builtin:sounds | "
                                                      "builtin:reviews | a folder | a file")
    parser.add_argument("--model", required=True, help="model name (see core.models.names())")
    parser.add_argument("--start-lr", type=float, help="first LR of the sweep (default 1e-7)")
    parser.add_argument("--end-lr", type=float, help="last LR of the sweep (default 10)")
    parser.add_argument("--num-iter", type=int, help="steps of the sweep (default 100)")
    parser.add_argument("--step-mode", choices=("exp", "linear"), help="LR steps: exp (default) or linear")
    parser.add_argument("--beta", type=float, help="smoothing of the loss curve (default 0.98; lower for short sweeps)")
    parser.add_argument("--seeds", type=int, default=1, metavar="N", help="repeat with N seeds and show the spread")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--optimizer", help="adam | adamw | sgd (default: the model's recommended one)")
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--label-smoothing", type=float, metavar="EPS")
    parser.add_argument("--freeze-epochs", type=int, help="> 0: sweep with the backbone frozen (the head's LR)")
    parser.add_argument("--seed", type=int, help="first seed (default 0)")
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:1 | mps")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """Run the sweep; exit code 0 on success, 2 for a bad data source, model or setting (with the reason)."""
    from core.data import DataError
    from core.train import recommended
    from core.train.lr_finder import find_lr_for, SweepSettings

    try:
        config = recommended(**{f: getattr(args, o) for o, f in _CONFIG.items() if getattr(args, o) is not None})
        sweep = SweepSettings(**{k: getattr(args, k) for k in _SWEEP if getattr(args, k) is not None})
        if args.seeds < 1:
            raise ValueError(f"--seeds must be at least 1, not {args.seeds}")
        report = find_lr_for(config, sweep, seeds=range(config.seed, config.seed + args.seeds))
    except (DataError, PermissionError, ValueError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) else str(err)
        print(json.dumps({"error": message}) if args.json else f"refused: {message}",
              file=sys.stdout if args.json else sys.stderr)
        return 2
    print(json.dumps(as_json(report, config)) if args.json else format_report(report, config))
    return 0


def as_json(report, config) -> dict:
    """The first sweep's fields at the top level; with several seeds also every sweep and the spread."""
    out = {"data": config.data, "model": config.model, "optimizer": config.optimizer,
           **report.results[0].to_dict(), "notices": report.notices}
    if len(report.results) > 1:
        out["seeds"] = report.seeds
        out["repeats"] = [r.to_dict() for r in report.results]
        out["spread"] = dataclasses.asdict(report.spread)
    return out


def format_report(report, config) -> str:
    """A table of the first sweep, then suggestions (with their spread over seeds) and the stop reason."""
    r = report.results[0]
    lines = [f"LR range test: {config.model} on {config.data}, {config.optimizer}, batch {config.batch_size}",
             f"{'step':>5} {'lr':>11} {'loss':>10} {'smoothed':>10}"]
    lines += [f"{i:>5} {lr:>11.3e} {loss:>10.4f} {s:>10.4f}"
              for i, (lr, loss, s) in enumerate(zip(r.lrs, r.losses, r.smoothed))]
    stop = f" at lr {r.stop_lr:.3e}" if r.stop_lr is not None else ""
    lines.append(f"stopped: {r.stopped_because}{stop} after {len(r.lrs)} recorded steps")
    offered = report.suggestions  # with several seeds: the median over the sweeps
    lines.append("suggestions:" if offered else
                 f"suggestions: none: no clear drop (the smoothed loss fell {report.drop:.0%} below its start, "
                 f"{MIN_DROP:.0%} is needed); widen the range or use more steps")
    for name, lr in offered.items():
        spread = report.spread.suggestions.get(name)
        over = (f"  [median over {len(spread.values)} seeds; {spread.low:.2e} .. {spread.high:.2e}]"
                if len(report.results) > 1 and spread else "")
        lines.append(f"  {name:<11} {lr:.3e}{over}  {EXPLANATIONS[name]}")
    lines += [f"note: {n}" for n in report.notices]
    return "\n".join(lines)
