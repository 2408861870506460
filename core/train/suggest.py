"""Learning-rate suggestions from an LR range test, as pure functions of ``(lrs, losses)``.

Each rule takes the LRs and the (smoothed) losses of a sweep and returns one LR, or ``None`` when the curve is too
short to say anything. ``suggest`` trims the unreliable ends first (the debiased average is noisy at the start, the
last points are the blow-up) and applies every rule. ``seed_spread`` summarises several sweeps of the same setup:
a band of losses on a common LR grid and the spread of each suggestion, so the user sees how much to trust them.

    >>> lrs = [10 ** (-4 + i / 10) for i in range(41)]
    >>> losses = [1.0] * 10 + [1.0 - 0.04 * i for i in range(20)] + [0.2 + 0.3 * i for i in range(11)]
    >>> round(minimum_tenth(lrs, losses), 6)
    0.01
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

# name -> one-line explanation shown next to the suggestion on the chart and in the CLI.
EXPLANATIONS = {
    "steepest": "where the smoothed loss falls fastest per decade of LR: training makes the most progress here",
    "valley": "about 2/3 of the way down the longest stretch where the loss keeps falling (fastai's 'valley')",
    "minimum/10": "a tenth of the LR at the lowest loss: the minimum is already near the edge of instability",
}


class DebiasedEMA:
    """Debiased exponential moving average, one value at a time: ``avg_i = beta*avg_{i-1} + (1-beta)*x_i``, divided
    by ``1-beta**(i+1)`` (so the start is not pulled towards 0). The LR finder's smoothed loss, ``smooth`` and the
    training charts all use this one.

    >>> ema = DebiasedEMA(0.9)
    >>> ema.add(1.0), round(ema.add(3.0), 4)
    (1.0, 2.0526)
    """

    def __init__(self, beta: float):
        self.beta, self.avg, self.n = beta, 0.0, 0

    def add(self, value: float) -> float:
        """Take the next value; returns the smoothed value so far."""
        self.avg = self.beta * self.avg + (1 - self.beta) * value
        self.n += 1
        return self.avg / (1 - self.beta ** self.n)


def smooth(losses: Sequence[float], beta: float = 0.98) -> list[float]:
    """``DebiasedEMA`` over a whole sequence.

    >>> smooth([1.0, 1.0, 1.0], beta=0.9)
    [1.0, 1.0, 1.0]
    """
    ema = DebiasedEMA(beta)
    return [ema.add(loss) for loss in losses]


def trim(lrs: Sequence[float], losses: Sequence[float], skip_start: float = 0.1, skip_end: float = 0.05):
    """Drop the first ``skip_start`` and last ``skip_end`` fraction of points (at least one at each end when the
    fraction is non-zero): the debiased EMA is still noisy at the start and the end is the divergence.

    >>> lrs, losses = trim(list(range(20)), list(range(20)))
    >>> lrs[0], lrs[-1], len(lrs)
    (2, 18, 17)
    """
    n = len(lrs)
    start = math.ceil(skip_start * n) if skip_start else 0
    end = n - (math.ceil(skip_end * n) if skip_end else 0)
    return list(lrs[start:end]), list(losses[start:end])


def steepest(lrs: Sequence[float], losses: Sequence[float], window: float = 0.1) -> float | None:
    """LR where the loss falls fastest per decade of LR on the way down to its minimum; ``None`` if it never falls.

    The slope at point i is a central difference over ``k = max(1, round(window * n))`` points on each side rather
    than between neighbours, so one noisy batch (a one-step jump of the average) does not outrank a real descent.
    Points past the minimum are not candidates: a fall there is a recovery from a blow-up, not progress.
    """
    n = len(lrs)
    if n < 3:
        return None
    x, y = np.log10(np.asarray(lrs, dtype=float)), np.asarray(losses, dtype=float)
    k = max(1, round(window * n))
    ahead, behind = np.minimum(np.arange(n) + k, n - 1), np.maximum(np.arange(n) - k, 0)
    slope = (y[ahead] - y[behind]) / (x[ahead] - x[behind])
    slope[int(np.argmin(y)) + 1:] = np.inf
    i = int(np.argmin(slope))
    return float(lrs[i]) if slope[i] < 0 else None


def valley(lrs: Sequence[float], losses: Sequence[float], frac: float = 2 / 3) -> float | None:
    """LR ``frac`` of the way along the longest descent of the curve (its longest strictly decreasing
    subsequence, as in fastai's ``valley``); ``None`` if the loss never decreases."""
    if len(lrs) < 3:
        return None
    start, end = longest_descent(losses)
    return float(lrs[start + round(frac * (end - start))]) if end > start else None


def longest_descent(losses: Sequence[float]) -> tuple[int, int]:
    """First and last index of the longest strictly decreasing subsequence of ``losses`` (O(n^2), n <= ~1000)."""
    y = np.asarray(losses, dtype=float)
    if y.size == 0:
        return 0, 0
    length, prev = np.ones(len(y), dtype=int), np.full(len(y), -1)
    for i in range(1, len(y)):
        higher = np.flatnonzero(y[:i] > y[i])  # earlier points this one can continue a descent from
        if higher.size:
            j = higher[::-1][np.argmax(length[higher][::-1])]  # ties: the latest, so a plateau is not a descent
            length[i], prev[i] = length[j] + 1, j
    end = start = int(np.argmax(length))
    while prev[start] >= 0:
        start = int(prev[start])
    return start, end


def minimum_tenth(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
    """A tenth of the LR at the lowest loss."""
    if len(lrs) == 0:
        return None
    return float(lrs[int(np.argmin(np.asarray(losses, dtype=float)))]) / 10


RULES: dict[str, Callable[[Sequence[float], Sequence[float]], float | None]] = {
    "steepest": steepest,
    "valley": valley,
    "minimum/10": minimum_tenth,
}


def suggest(lrs: Sequence[float], smoothed: Sequence[float], skip_start: float = 0.1,
            skip_end: float = 0.05) -> dict[str, float]:
    """Every rule on the trimmed smoothed curve; rules that have nothing to say are left out.

    >>> lrs = [10 ** (-5 + i / 10) for i in range(60)]
    >>> sorted(suggest(lrs, [1 / (1 + math.exp(3 * (math.log10(lr) + 3))) for lr in lrs]))
    ['minimum/10', 'steepest', 'valley']
    """
    t_lrs, t_losses = trim(lrs, smoothed, skip_start, skip_end)
    found = {name: rule(t_lrs, t_losses) for name, rule in RULES.items()}
    return {name: lr for name, lr in found.items() if lr is not None}


@dataclass
class SuggestionSpread:
    values: list[float]  # the suggestion from each sweep that produced one
    median: float  # median of the values (robust to one odd sweep)
    low: float  # smallest value
    high: float  # largest value

    @property
    def decades(self) -> float:
        """Width of the spread in decades (log10(high/low)): 0 = all sweeps agree."""
        return math.log10(self.high / self.low)


@dataclass
class SeedSpread:
    grid: list[float]  # common log-spaced LR grid covering all sweeps
    low: list[float]  # per grid LR: lowest smoothed loss among the sweeps that reached it
    median: list[float]  # per grid LR: median smoothed loss
    high: list[float]  # per grid LR: highest smoothed loss
    suggestions: dict[str, SuggestionSpread] = field(default_factory=dict)  # rule name -> spread over sweeps


def seed_spread(curves: Sequence[tuple[Sequence[float], Sequence[float]]],
                suggestions: Sequence[dict[str, float]], num_points: int = 100) -> SeedSpread:
    """Band of several sweeps' ``(lrs, smoothed)`` curves on a common log grid, and each suggestion's spread.

    Curves are interpolated in log10(LR); a sweep that stopped early contributes only up to where it stopped.
    """
    curves = [(np.log10(np.asarray(l, float)), np.asarray(s, float)) for l, s in curves if len(l) > 0]
    if not curves:
        raise ValueError("seed_spread needs at least one non-empty sweep")
    lo, hi = min(c[0][0] for c in curves), max(c[0][-1] for c in curves)
    grid = np.linspace(lo, hi, num_points)
    stack = np.stack([np.interp(grid, x, y, left=np.nan, right=np.nan) for x, y in curves])  # (sweeps, points)
    keep = ~np.all(np.isnan(stack), axis=0)
    stack, grid = stack[:, keep], grid[keep]
    masked = np.ma.masked_invalid(stack)
    spreads = {}
    for name in RULES:
        values = [s[name] for s in suggestions if name in s]
        if values:
            spreads[name] = SuggestionSpread(values, float(np.median(values)), min(values), max(values))
    return SeedSpread(grid=(10 ** grid).tolist(), low=masked.min(axis=0).filled(np.nan).tolist(),
                      median=np.ma.median(masked, axis=0).filled(np.nan).tolist(),
                      high=masked.max(axis=0).filled(np.nan).tolist(), suggestions=spreads)
