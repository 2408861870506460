"""``python -m core attack RUN_DIR [...]``: accuracy versus epsilon of a trained run, and the smallest epsilons.

Prints one line per epsilon (as a fraction and in /255 steps) with the accuracy under the attack (the sweep is
recorded as an 'attack_sweep' job next to the run, so the Adversarial page can compare it); ``--minimal``
adds the distribution of the per-sample smallest epsilon that changes the prediction (median, quartiles, share
never fooled up to 1). ``--json`` prints the same as one JSON object.

    python -m core attack runs/20260101-120000-cnn-digits --method pgd --eps 0,0.05,0.1 --limit 500
    python -m core attack runs/20260101-120000-cnn-digits --minimal --json
"""
from __future__ import annotations

import argparse
import json


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--eps takes numbers separated by commas, e.g. 0,0.05,0.1 (got {text!r})")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``attack`` command."""
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (see python -m core runs)")
    from core.attacks.methods import METHODS

    parser.add_argument("--method", choices=tuple(METHODS), default="fgsm",
                        help="the attack (default fgsm): " + "; ".join(f"{m.name}: {m.help}" for m in METHODS.values()))
    parser.add_argument("--eps", type=_floats, metavar="E1,E2,...",
                        help="epsilons in input units (default images 0,0.05,...,0.3; audio 0,0.001,...,0.05)")
    parser.add_argument("--split", default="val", help="which split of the run's data (default val)")
    parser.add_argument("--limit", type=int, default=0, metavar="N", help="a random subset of N samples (0 = all)")
    parser.add_argument("--steps", type=int, default=10, help="bim / pgd iterations (default 10)")
    parser.add_argument("--minimal", action="store_true", help="also find each sample's smallest fooling epsilon")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:1 | mps")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--transfer", nargs="+", metavar="RUN", help="black-box table: RUN_DIR and these runs (same "
                        "data) each craft the attack, all are evaluated; one --eps (core.cli.transfer)")


def run(args: argparse.Namespace) -> int:
    """Sweep (as an 'attack_sweep' job recorded next to the run) and bisect; exit code 0 on success, 2 when the run
    cannot be attacked (with the reason)."""
    from pathlib import Path

    from core.attacks import AttackRefused, load_run_target
    from core.attacks.jobs import KIND, read_sweep, sweep_config_for
    from core.attacks.runs import default_epsilons, minimal_over, split_samples
    from core.device import pick_device
    from core.jobs import run_inline
    from core.models import MODELS

    if args.transfer:
        from core.cli.transfer import run_transfer

        return run_transfer(args)
    try:
        config = sweep_config_for(args.run_dir, methods=[args.method], split=args.split, limit=args.limit,
                                  steps=args.steps, device=args.device)
        kind = MODELS[config.model].kind if config.model in MODELS else "image"
        config.epsilons = args.eps or default_epsilons(kind)
        sweep_dir = run_inline(KIND, config.to_dict(), runs_dir=Path(args.run_dir).resolve().parent)
        result = read_sweep(sweep_dir)[args.method]
        minimal = None
        if args.minimal:
            target = load_run_target(args.run_dir, device=pick_device(args.device))
            dataset = split_samples(target, args.split, args.limit)
            minimal = minimal_over(target, dataset, method=args.method, steps=args.steps)[1]
    except (AttackRefused, ValueError, FileNotFoundError) as err:
        print(json.dumps({"status": "refused", "error": str(err)}) if args.json else f"refused: {err}")
        return 2
    out = {"run_dir": str(args.run_dir), "sweep_run": str(sweep_dir), "method": args.method, "split": args.split,
           "n": result.n, "steps": result.steps, "rows": result.table(), "seconds": round(result.seconds, 3),
           "minimal": minimal.to_dict() if minimal else None}
    print(json.dumps(out) if args.json else format_report(out))
    return 0


def format_report(out: dict) -> str:
    """The JSON report as text lines."""
    steps = f", {out['steps']} steps" if out["steps"] else ""
    lines = [f"{out['method']}{steps} on {out['n']} {out['split']} samples of {out['run_dir']}",
             f"{'eps':>8} {'eps x255':>9} {'accuracy':>9}"]
    lines += [f"{r['eps']:>8.4g} {r['eps_255']:>9.3g} {r['accuracy']:>9.1%}" for r in out["rows"]]
    lines.append(f"recorded as {out['sweep_run']} (the Adversarial page's comparison shows it)")
    m = out["minimal"]
    if m:
        if m["median"] is None:
            lines.append(f"smallest eps: no sample was fooled up to eps {m['eps_max']:g}")
        else:
            lines.append(f"smallest eps that changes the prediction: median {m['median']:.4f} "
                         f"(quartiles {m['q1']:.4f} - {m['q3']:.4f}), never fooled up to {m['eps_max']:g}: "
                         f"{m['never_fooled']:.1%}")
    return "\n".join(lines)
