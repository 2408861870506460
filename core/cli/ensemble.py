"""``python -m core ensemble RUN_DIR RUN_DIR ... [--json] [--export DIR]``: combine finished runs on the same data.

Prints each member's validation accuracy, the ensemble's (mean of probabilities and majority vote), the agreement
matrix and how many examples the ensemble fixes and breaks against the best member. Exit code 0, or 2 with the
reason when the runs cannot be combined.
"""
from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``ensemble`` command."""
    parser.add_argument("run_dirs", nargs="+", help="two or more run directories trained on the same data")
    parser.add_argument("--export", metavar="DIR", help="also write the members' state_dicts + ensemble.py here")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from core.export.ensemble import ensemble_runs, export_ensemble

    try:
        result = ensemble_runs(args.run_dirs)
        archive = export_ensemble(args.run_dirs, args.export) if args.export else None
    except (ValueError, FileNotFoundError) as err:
        print(json.dumps({"error": str(err)}) if args.json else f"cannot combine: {err}",
              file=sys.stdout if args.json else sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**result.to_dict(), "archive": str(archive) if archive else None,
                          "message": result.message()}))
        return 0
    width = max(len(m) for m in result.members)
    for name, model, acc in zip(result.members, result.models, result.member_acc):
        print(f"{name:<{width}}  {model:<12} val acc {acc:.4f}")
    print(f"{'mean of probabilities':<{width + 14}} val acc {result.mean_acc:.4f}")
    print(f"{'majority vote':<{width + 14}} val acc {result.vote_acc:.4f}")
    print("agreement (share of validation examples with the same prediction):")
    for i, row in enumerate(result.agreement):
        print(f"  {i}: " + " ".join(f"{v:.3f}" for v in row))
    print(result.message())
    if archive:
        print(f"wrote {archive}")
    return 0
