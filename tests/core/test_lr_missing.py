"""LR Finder with several seeds: a suggestion's "median of 2/3 sweeps" says why the third gave none (issue 19)."""
from __future__ import annotations

import numpy as np

from core.train.lr_finder import LRFinderReport, LRFinderResult
from core.train.suggest import seed_spread, smooth, suggest
from ui.lr_ui import suggestions_table


def _sweep(losses) -> LRFinderResult:
    lrs = np.logspace(-6, 0, len(losses)).tolist()
    smoothed = smooth(list(losses))
    return LRFinderResult(lrs, list(losses), smoothed, suggest(lrs, smoothed), "completed")


def test_a_sweep_that_gave_no_suggestion_is_named_with_the_reason():
    x = np.linspace(0, 1, 100)
    falls = 2.3 - 2.0 / (1 + np.exp(-12 * (x - 0.5)))  # a clear drop in the middle
    flat = np.full(100, 2.3) + 0.001 * np.sin(np.arange(100))  # the loss never falls
    results = [_sweep(falls), _sweep(falls * 1.01), _sweep(flat)]
    results[2].suggestions = {}  # as the finder leaves a sweep without a clear drop
    spread = seed_spread([(r.lrs, r.smoothed) for r in results], [r.suggestions for r in results])
    report = LRFinderReport(results, [0, 1, 2], spread)
    name = next(iter(report.suggestions))
    assert report.missing(name) == "seed 2: its loss never fell clearly"
    row = suggestions_table(report).set_index("suggestion").loc[name, "over seeds"]
    assert row.startswith("median of 2/3 sweeps") and row.endswith("no suggestion from seed 2: its loss never fell clearly")
