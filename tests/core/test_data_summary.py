"""Summary helpers: statistics against numpy, histogram bins, warnings thresholds, sample picks."""
from __future__ import annotations

import numpy as np
import pytest

from core.data import load
from core.data.summary import IMBALANCE_WARN, balance_warnings, describe, histogram, size_warnings, small_classes


def test_describe_matches_numpy():
    values = [3, 1, 4, 1, 5, 9, 2, 6]
    d = describe(values)
    assert d["median"] == pytest.approx(np.median(values)) and d["p95"] == pytest.approx(np.percentile(values, 95))
    assert (d["min"], d["max"]) == (1, 9) and describe([])["max"] == 0


def test_histogram_counts_everything_and_uses_integer_bins_for_small_integers():
    h = histogram([1, 2, 2, 3, 3, 3])
    assert h["counts"] == [1, 2, 3] and h["edges"] == [0.5, 1.5, 2.5, 3.5]
    rng = np.random.RandomState(0)
    x = rng.rand(1000)
    assert sum(histogram(x, bins=7)["counts"]) == 1000 and len(histogram(x, bins=7)["edges"]) == 8


def _summary(counts):
    return {"counts": {"train": counts}, "imbalance": max(counts.values()) / min(counts.values())}


def test_imbalance_warning_threshold():
    assert balance_warnings(_summary({"a": 29, "b": 10})) == []
    (msg,) = balance_warnings(_summary({"a": 30, "b": 10}))
    assert IMBALANCE_WARN == 3.0 and "'a' has 3.0x" in msg and "'b'" in msg


def test_small_classes_rule():
    flagged = small_classes({"a": (64, 64), "b": (60, 70), "c": (31, 31)})
    assert [x["class"] for x in flagged] == ["c"]
    assert small_classes({"a": (64, 64), "b": (33, 33)}) == []  # about a quarter of the area is not "much smaller"
    assert "'c'" in size_warnings({"small_classes": flagged})[0]


def test_examples_are_per_class_seeded_and_within_the_split():
    b = load("builtin:digits")
    picks = b.examples(3, seed=1)
    assert list(picks) == b.classes and all(len(v) == 3 for v in picks.values())
    targets = b.splits["train"].targets
    assert all(targets[i] == b.classes.index(c) for c, idx in picks.items() for i in idx)
    assert b.examples(3, seed=1) == picks and b.examples(3, seed=2) != picks
