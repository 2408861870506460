"""``python -m core attack RUN_DIR [...]``: accuracy versus epsilon of a trained run, and the smallest epsilons.

Prints one line per epsilon (as a fraction and in /255 steps) with the accuracy under the attack; ``--minimal``
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
    parser.add_argument("--method", choices=("fgsm", "bim", "pgd"), default="fgsm", help="the attack (default fgsm)")
    parser.add_argument("--eps", type=_floats, metavar="E1,E2,...",
                        help="epsilons in input units (default images 0,0.05,...,0.3; audio 0,0.001,...,0.05)")
    parser.add_argument("--split", default="val", help="which split of the run's data (default val)")
    parser.add_argument("--limit", type=int, default=0, metavar="N", help="a random subset of N samples (0 = all)")
    parser.add_argument("--steps", type=int, default=10, help="bim / pgd iterations (default 10)")
    parser.add_argument("--minimal", action="store_true", help="also find each sample's smallest fooling epsilon")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:1 | mps")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """Sweep (and bisect); exit code 0 on success, 2 when the run cannot be attacked (with the reason)."""
    from core.attacks import AttackRefused, load_run_target
    from core.attacks.runs import SweepConfig, default_epsilons, minimal_over, run_sweep, split_samples
    from core.device import pick_device

    try:
        config = SweepConfig(run_dir=args.run_dir, epsilons=args.eps or [0.0], methods=[args.method],
                             split=args.split, limit=args.limit, steps=args.steps, examples=0, device=args.device)
        problems = config.problems()
        if problems:
            raise AttackRefused("; ".join(problems))
        target = load_run_target(args.run_dir, device=pick_device(args.device))
        config.epsilons = args.eps or default_epsilons(target.kind)
        result = run_sweep(config, target=target)[args.method]
        minimal = None
        if args.minimal:
            dataset = split_samples(target, args.split, args.limit)
            minimal = minimal_over(target, dataset, method=args.method, steps=args.steps)[1]
    except (AttackRefused, ValueError, FileNotFoundError) as err:
        print(json.dumps({"status": "refused", "error": str(err)}) if args.json else f"refused: {err}")
        return 2
    out = {"run_dir": str(args.run_dir), "method": args.method, "split": args.split, "n": result.n,
           "steps": result.steps, "rows": result.table(), "seconds": round(result.seconds, 3),
           "minimal": minimal.to_dict() if minimal else None}
    print(json.dumps(out) if args.json else format_report(out))
    return 0


def format_report(out: dict) -> str:
    """The JSON report as text lines."""
    steps = f", {out['steps']} steps" if out["steps"] else ""
    lines = [f"{out['method']}{steps} on {out['n']} {out['split']} samples of {out['run_dir']}",
             f"{'eps':>8} {'eps x255':>9} {'accuracy':>9}"]
    lines += [f"{r['eps']:>8.4g} {r['eps_255']:>9.3g} {r['accuracy']:>9.1%}" for r in out["rows"]]
    m = out["minimal"]
    if m:
        if m["median"] is None:
            lines.append(f"smallest eps: no sample was fooled up to eps {m['eps_max']:g}")
        else:
            lines.append(f"smallest eps that changes the prediction: median {m['median']:.4f} "
                         f"(quartiles {m['q1']:.4f} - {m['q3']:.4f}), never fooled up to {m['eps_max']:g}: "
                         f"{m['never_fooled']:.1%}")
    return "\n".join(lines)
