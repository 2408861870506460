"""``python -m core attack RUN_DIR --transfer RUN [RUN ...] --eps E``: the black-box transfer table.

RUN_DIR and every --transfer run (trained on the same data) each craft the attack (rows); every one is evaluated
on each crafted set (columns). The diagonal is the white-box attack. Recorded as an 'attack_transfer' job next to
RUN_DIR, so the Adversarial page shows it too.

    python -m core attack runs/A --transfer runs/B runs/C --eps 0.1 --limit 500
"""
from __future__ import annotations

import argparse
import json


def run_transfer(args: argparse.Namespace) -> int:
    """Make the table (FGSM and PGD, or --method when given explicitly); exit 0, or 2 with the reason."""
    from pathlib import Path

    from core.attacks.transfer import KIND, config_for, read_transfer
    from core.jobs import run_inline

    runs = list(dict.fromkeys([args.run_dir, *args.transfer]))
    try:
        if args.eps is not None and len(args.eps) != 1:
            raise ValueError("a transfer table is made at one epsilon: give one --eps value, e.g. --eps 0.1")
        methods = ["fgsm", "pgd"] if args.method == "fgsm" else [args.method]
        config = config_for(runs, runs, eps=args.eps[0] if args.eps else 0.1, methods=methods, split=args.split,
                            limit=args.limit or 500, steps=args.steps, device=args.device)
        job = run_inline(KIND, config.to_dict(), runs_dir=Path(args.run_dir).resolve().parent)
        result = read_transfer(job)
    except (ValueError, FileNotFoundError) as err:
        print(json.dumps({"status": "refused", "error": str(err)}) if args.json else f"refused: {err}")
        return 2
    out = {**result.to_dict(), "transfer_run": str(job)}
    print(json.dumps(out) if args.json else format_table(out))
    return 0


def format_table(out: dict) -> str:
    """The tables as text: one per method, rows surrogates, columns targets, [brackets] on the white-box cells."""
    lines = [f"transfer attack at eps {out['eps']:g} on {out['n']} samples (rows craft, columns are evaluated)"]
    width = max(len(t) for t in out["targets"]) + 2
    for method in out["methods"]:
        lines.append(f"\n{method}" + "".join(f"{t:>{width}}" for t in out["targets"]))
        for s, row in zip(out["surrogates"], out["accuracy"][method]):
            cells = [f"[{a:.1%}]" if s == t else f"{a:.1%}" for t, a in zip(out["targets"], row)]
            lines.append(f"{s}" + "".join(f"{c:>{width}}" for c in cells))
    lines.append("\nclean" + "".join(f"{a:>{width}.1%}" for a in out["clean"]))
    lines.append(f"recorded as {out['transfer_run']}")
    return "\n".join(lines)
