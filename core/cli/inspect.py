"""``python -m core inspect SOURCE [--kind image|audio|text] [--json]``: what a data set holds, and what was skipped."""
from __future__ import annotations

import argparse
import json
import sys

from core.data import DataError, load
from core.data.summary import warnings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="builtin:digits|shapes|sounds|reviews, a folder, a text file or a .zip")
    parser.add_argument("--kind", choices=["image", "audio", "text"], help="skip detection and read as this kind")
    parser.add_argument("--json", action="store_true", help="print the full summary as JSON")
    parser.add_argument("--quick", action="store_true", help="images/audio: read headers only (faster, may miss "
                                                              "files whose data is corrupt after a valid header)")


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)


def _details(s: dict) -> list[str]:
    """Kind-specific lines: image sizes, audio durations and rates, text lengths and vocabulary."""
    if s["kind"] == "image":
        lines = [f"{c}: width {d['width']['min']}-{d['width']['max']} (median {d['width']['median']}), height "
                 f"{d['height']['min']}-{d['height']['max']} (median {d['height']['median']}), modes {d['modes']}, "
                 f"channels {d['channels']}"
                 for c, d in s["images"].items()]
        return lines
    if s["kind"] == "audio":
        d = s["durations"]
        return [f"durations: {d['min']}-{d['max']} s (median {d['median']}); clips used as {s['clip_seconds']} s "
                f"at {s['sample_rate']} Hz", f"original sample rates: {s['original_sample_rates']}",
                f"original channels: {s['original_channels']}; encodings: {s['encodings']}"]
    t = s["token_lengths"]
    return [f"tokens per text: {t['min']}-{t['max']} (median {t['median']}, p95 {t['p95']})",
            f"vocabulary: {s['vocab_size']} (max {s['max_vocab']}; {s['distinct_train_tokens']} distinct train tokens);"
            f" val OOV rate {s['val_oov_rate']:.1%}; non-UTF-8 lines: {s['non_utf8_lines']}"] + [
            f"top tokens, {c}: " + ", ".join(tok for tok, _ in top[:10]) for c, top in s["top_tokens"].items()]


def format_summary(s: dict) -> str:
    """The human-readable report: counts per class per split, kind-specific details, skipped files."""
    splits = list(s["counts"])
    rows = [["class", *splits, "total"]]
    for c in s["classes"]:
        n = [s["counts"][sp][c] for sp in splits]
        rows.append([c, *map(str, n), str(sum(n))])
    rows.append(["total", *(str(sum(s["counts"][sp].values())) for sp in splits), str(s["total"])])
    out = [f"{s['source']}: {s['kind']}, {len(s['classes'])} classes, {s['total']} samples, "
           f"input shape {tuple(s['input_shape'])}", "", _table(rows), ""]
    out += _details(s)
    out += [f"WARNING: {w}" for w in warnings(s)]
    out += ["", f"skipped: {len(s['skipped'])}"] + [f"  {x['path']}: {x['reason']}" for x in s["skipped"]]
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    opts = {"verify": not args.quick, "cache_mb": 0}  # summarise without holding decoded data in memory
    try:
        bundle = load(args.source, kind=args.kind, **opts)
    except (DataError, PermissionError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    summary = bundle.summary()
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0
