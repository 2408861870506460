"""Suggestion rules of the LR range test: pure functions of (lrs, losses), checked on curves with known answers."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from core.train.suggest import (longest_descent, minimum_tenth, seed_spread, smooth, steepest, suggest, trim,
                                valley)

LRS = [10 ** (-6 + i / 20) for i in range(121)]  # 1e-6 .. 1, 20 points per decade


def sigmoid_drop(lrs, centre=-3.0, width=3.0):
    """Loss falling from 1 to 0 around log10(lr) = centre: steepest exactly at the centre."""
    return [1 / (1 + math.exp(width * (math.log10(lr) - centre))) for lr in lrs]


def test_smooth_is_pandas_adjusted_ewm():
    losses = np.random.default_rng(0).normal(2.0, 0.5, 50).tolist()
    expected = pd.Series(losses).ewm(alpha=1 - 0.9, adjust=True).mean().tolist()
    assert smooth(losses, beta=0.9) == pytest.approx(expected, rel=1e-12)


def test_trim_drops_fractions_of_each_end():
    lrs, losses = trim(list(range(100)), list(range(100, 200)), skip_start=0.1, skip_end=0.05)
    assert lrs == list(range(10, 95)) and losses == list(range(110, 195))
    assert trim([1, 2, 3], [4, 5, 6], 0, 0) == ([1, 2, 3], [4, 5, 6])


def test_steepest_finds_the_inflection_of_a_sigmoid():
    assert steepest(LRS, sigmoid_drop(LRS, centre=-3.0)) == pytest.approx(1e-3)
    assert steepest(LRS, sigmoid_drop(LRS, centre=-4.5)) == pytest.approx(10 ** -4.5)


def test_steepest_ignores_a_single_noisy_batch():
    losses = sigmoid_drop(LRS, centre=-2.0, width=1.5)
    losses[10] -= 0.08  # one-step dip early on: steeper than the real descent between neighbours
    assert abs(math.log10(steepest(LRS, losses)) + 2.0) < 0.3


def test_steepest_ignores_a_fall_after_the_minimum():
    losses = sigmoid_drop(LRS, centre=-3.0, width=1.0)[:90]  # a gentle descent down to 1e-1.5
    losses += [losses[-1] + 5.0 * (1 - abs(i - 10) / 10) for i in range(21)]  # blow-up, then a steep fall back
    lrs = LRS[:len(losses)]
    assert abs(math.log10(steepest(lrs, losses)) + 3.0) < 0.5


def test_steepest_and_valley_have_nothing_to_say_on_a_rising_curve():
    rising = [float(i) for i in range(len(LRS))]
    assert steepest(LRS, rising) is None and valley(LRS, rising) is None


def test_valley_is_two_thirds_down_the_longest_descent():
    losses = [5.0] * 20 + [5.0 - 0.1 * i for i in range(1, 31)] + [2.0 + 0.5 * i for i in range(1, 21)]
    lrs = LRS[:len(losses)]
    start, end = longest_descent(losses)
    assert (start, end) == (19, 49)  # the last of the flat 5.0s, then 30 strictly lower points
    assert valley(lrs, losses) == lrs[19 + 20]


def test_longest_descent_matches_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(20):
        y = rng.integers(0, 6, 10).tolist()
        best = max(len(s) for r in range(1, 11) for s in itertools.combinations(range(10), r)
                   if all(y[a] > y[b] for a, b in zip(s, s[1:])))
        start, end = longest_descent(y)
        assert y[start] >= y[end]
        assert _descent_length(y, start, end) == best


def _descent_length(y, start, end):
    """Length of the longest strictly decreasing chain from start to end (both included)."""
    best = {start: 1}
    for i in range(start + 1, end + 1):
        options = [best[j] + 1 for j in best if y[j] > y[i]]
        if options:
            best[i] = max(options)
    return best.get(end, 0)


def test_minimum_tenth():
    losses = [3.0, 2.0, 1.0, 0.5, 2.0]
    assert minimum_tenth([1e-4, 1e-3, 1e-2, 1e-1, 1.0], losses) == pytest.approx(1e-2)
    assert minimum_tenth([], []) is None


def test_suggest_applies_every_rule_to_the_trimmed_curve():
    losses = sigmoid_drop(LRS, centre=-3.0)
    found = suggest(LRS, losses)
    assert set(found) == {"steepest", "valley", "minimum/10"}
    assert found["steepest"] == pytest.approx(1e-3)
    # minimum of the trimmed curve: the last kept point (the curve keeps falling), divided by ten
    assert found["minimum/10"] == pytest.approx(trim(LRS, losses)[0][-1] / 10)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_suggest_on_very_short_sweeps_does_not_crash(n):
    assert isinstance(suggest(LRS[:n], [1.0, 0.5, 0.2][:n]), dict)


def test_seed_spread_of_identical_sweeps_has_no_width():
    curve = sigmoid_drop(LRS)
    spread = seed_spread([(LRS, curve), (LRS, curve)], [{"steepest": 1e-3}, {"steepest": 1e-3}], num_points=50)
    assert spread.low == pytest.approx(spread.high) and spread.median == pytest.approx(spread.low)
    assert spread.grid[0] == pytest.approx(LRS[0]) and spread.grid[-1] == pytest.approx(LRS[-1])
    assert spread.suggestions["steepest"].decades == 0


def test_seed_spread_band_and_suggestion_spread():
    short = LRS[:61]  # a sweep that stopped early at 1e-3
    a, b = sigmoid_drop(LRS, centre=-3.0), [v + 0.2 for v in sigmoid_drop(short, centre=-3.0)]
    spread = seed_spread([(LRS, a), (short, b)], [{"steepest": 1e-3, "valley": 2e-3}, {"steepest": 1e-2}])
    grid = np.log10(spread.grid)
    before = grid <= -3.0 - 1e-9
    assert np.allclose(np.array(spread.high)[before] - np.array(spread.low)[before], 0.2, atol=1e-3)
    after = grid > -3.0 + 0.05
    assert np.allclose(np.array(spread.high)[after], np.array(spread.low)[after])  # only one sweep got there
    s = spread.suggestions["steepest"]
    assert (s.low, s.high, s.decades) == (1e-3, 1e-2, pytest.approx(1.0))
    assert spread.suggestions["valley"].values == [2e-3]


def test_seed_spread_needs_a_sweep():
    with pytest.raises(ValueError, match="at least one"):
        seed_spread([([], [])], [{}])


# ---- issue 13 item 6: no suggestions on a flat curve; with seeds, the median ---------------------------------------
def _flat_at_ln2(seed: int, n: int = 100) -> list[float]:
    """What a cnn that learns nothing gives on two balanced classes: ln 2 plus batch noise, smoothed."""
    rng = np.random.default_rng(seed)
    return smooth(list(math.log(2) + rng.normal(0, 0.05, n)))


def test_a_flat_curve_gets_no_suggestion_and_says_how_far_it_fell():
    from core.train.suggest import MIN_DROP, clear_drop, relative_drop

    lrs = [10 ** (-7 + 8 * i / 99) for i in range(100)]
    for seed in range(5):
        flat = _flat_at_ln2(seed)
        assert not clear_drop(flat) and relative_drop(flat) < MIN_DROP
        assert suggest(lrs, flat) == {}  # before: steepest, valley and minimum/10 of the noise
    start = _flat_at_ln2(0)[10]  # the trimmed curve's first point
    assert relative_drop([start] * 20 + [0.5 * start] * 80) == pytest.approx(0.5)  # by hand: half-way down
    assert set(suggest(LRS, sigmoid_drop(LRS))) == {"steepest", "valley", "minimum/10"}  # a real drop still counts


def _report(steepest_per_seed: list[float]):
    from core.train.lr_finder import LRFinderReport, LRFinderResult

    curve = sigmoid_drop(LRS)
    results = [LRFinderResult(LRS, curve, curve, {"steepest": lr, "minimum/10": 1e-2} if i else {"steepest": lr},
                              "completed") for i, lr in enumerate(steepest_per_seed)]
    return LRFinderReport(results, list(range(len(results))),
                          seed_spread([(LRS, curve)] * len(results), [r.suggestions for r in results]))


def test_with_seeds_the_offered_lr_is_the_median_not_seed_zeros():
    report = _report([1e-3, 1e-1, 1e-2])
    assert report.suggestions["steepest"] == pytest.approx(1e-2)  # the median; seed 0 alone said 1e-3
    assert report.suggestions["minimum/10"] == pytest.approx(1e-2)  # 2 of 3 sweeps gave it: offered
    assert _report([1e-3, 1e-1]).suggestions["steepest"] == pytest.approx(1e-2)  # two: the geometric mean
    assert "minimum/10" not in _report([1e-3, 1e-1]).suggestions  # 1 of 2 sweeps is not a majority
    assert _report([4e-3]).suggestions == {"steepest": 4e-3}  # one seed: its own suggestions


def test_a_drop_hidden_by_heavy_smoothing_is_told_apart_from_a_flat_curve():
    from core.train.suggest import smoothing_hides_drop

    short = [2.3] * 20 + [2.3 - 0.1 * i for i in range(1, 11)] + [1.3 + 2.0 * i for i in range(1, 6)]  # 35 steps
    assert smoothing_hides_drop(short, beta=0.98)  # the average lags 50 steps: the fall never shows
    assert not smoothing_hides_drop(short, beta=0.5)  # lightly smoothed it shows: nothing hidden
    assert not smoothing_hides_drop(_flat_at_ln2(0), beta=0.98)  # flat is flat, whatever the smoothing
