"""The review's attack findings (issue 18), each against a case that failed before the fix:
the smallest epsilon is the first crossing on a grid, not a later boundary that bisection happened to find; PGD
without a generator does not restart every call (and every batch of a sweep) from the same seed."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import core.attacks.methods as methods
from core.attacks import fgsm, minimal_eps, pgd, sweep


class _TwoWindows(nn.Module):
    """Two classes; the logit of class 1 as a function of t = mean(x) (x starts at 0, FGSM moves every value by +eps,
    so t = eps along the FGSM ray):

        f(t) = 10 relu(t - 0.22) - 20 relu(t - 0.32) + 20 relu(t - 0.6) - 0.5 + 0.01 t

    f > 0 (fooled) for t in (0.2698, 0.3702) and again for t > 0.8502: fooling is not monotone in eps."""

    def forward(self, x):
        t = x.flatten(1).mean(1)
        f = 10 * F.relu(t - 0.22) - 20 * F.relu(t - 0.32) + 20 * F.relu(t - 0.6) - 0.5 + 0.01 * t
        return torch.stack([torch.zeros_like(f), f], 1)


def _first_crossing() -> float:
    # 10 (t - 0.22) - 0.5 + 0.01 t = 0  <=>  t = (2.2 + 0.5) / 10.01
    return 2.7 / 10.01


def test_the_window_model_is_what_its_docstring_says():
    model, x, y = _TwoWindows(), torch.zeros(1, 1, 2, 2), torch.tensor([0])
    assert torch.equal(fgsm(model, x, y, 0.3), torch.full_like(x, 0.3))  # the gradient points up everywhere
    fooled = lambda e: bool(model(torch.full_like(x, e)).argmax(1) == 1)  # noqa: E731
    assert [fooled(e) for e in (0.0, 0.25, 0.3, 0.36, 0.5, 0.75, 0.9, 1.0)] == \
        [False, False, True, True, False, False, True, True]


def test_smallest_eps_is_the_first_crossing_not_a_later_boundary():
    """Plain bisection over [0, 1] tries 1 (fooled), 0.5 (not), 0.75 (not), ... and ends at the second crossing,
    0.85; the grid scan finds 0.3125 fooled, 0.25 not, and bisects that step to the first crossing, 0.2697."""
    eps, x_adv = minimal_eps(_TwoWindows(), torch.zeros(1, 1, 2, 2), torch.tensor([0]), eps_max=1.0, tol=1e-3)
    assert float(eps[0]) == pytest.approx(_first_crossing(), abs=1e-3)
    assert float(eps[0]) >= _first_crossing()  # the eps returned does fool the model
    assert torch.equal(x_adv, torch.full_like(x_adv, float(eps[0])))


def test_pgd_without_a_generator_draws_a_new_start_each_call():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.full((4, 1, 4, 4), 0.5), torch.tensor([0, 1, 2, 0])
    # steps=0: PGD returns its random start, x + eps * (2 U - 1)
    first, second = pgd(model, x, y, 0.1, steps=0), pgd(model, x, y, 0.1, steps=0)
    assert not torch.equal(first, second)
    assert (first - x).abs().max() <= 0.1 and (first - x).abs().max() > 0.05
    seeded = [pgd(model, x, y, 0.1, steps=0, generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    assert torch.equal(*seeded)  # with a generator a start repeats


def test_every_batch_of_a_pgd_sweep_gets_its_own_start_and_the_sweep_repeats(monkeypatch):
    draws = []
    real = methods.uniform_like
    monkeypatch.setattr(methods, "uniform_like", lambda x, g=None: draws.append(real(x, g)) or draws[-1])
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x = torch.full((8, 1, 4, 4), 0.5)  # two identical batches of 4
    loader = DataLoader(TensorDataset(x, torch.zeros(8, dtype=torch.long)), batch_size=4)
    first = sweep(model, loader, [0.0, 0.1], method="pgd", steps=1, examples=8)
    assert len(draws) == 2 and not torch.equal(draws[0], draws[1])
    again = sweep(model, loader, [0.0, 0.1], method="pgd", steps=1, examples=8)
    assert torch.equal(draws[0], draws[2]) and torch.equal(draws[1], draws[3])  # one seeded generator per sweep
    assert (first.examples.adversarial == again.examples.adversarial).all()
