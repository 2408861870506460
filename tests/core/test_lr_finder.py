"""The LR range test: schedule, recording, stop rules, param groups, bitwise restore, a known-answer problem."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from core.models.init import init_weights
from core.train.lr_finder import find_lr, find_lr_seeds, lr_at, LRFinderResult
from core.train.suggest import smooth


def batches(n=4, size=16, features=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(size, features, generator=g), torch.randint(0, classes, (size,), generator=g))
            for _ in range(n)]


def small_net(features=6, classes=3):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(features, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(16, classes))


def state(model, optimizer):
    """Everything that must come back bitwise: parameters, buffers, optimizer state and hyperparameters."""
    tensors = {n: t.detach().clone() for n, t in [*model.named_parameters(), *model.named_buffers()]}
    opt = optimizer.state_dict()
    opt_state = {k: {n: v.clone() if torch.is_tensor(v) else v for n, v in s.items()} for k, s in opt["state"].items()}
    return tensors, opt_state, json.dumps(opt["param_groups"])


def assert_same(before, after):
    (t0, s0, g0), (t1, s1, g1) = before, after
    assert t0.keys() == t1.keys() and all(torch.equal(t0[k], t1[k]) for k in t0)
    assert s0.keys() == s1.keys()
    for k in s0:
        assert s0[k].keys() == s1[k].keys()
        assert all(torch.equal(s0[k][n], s1[k][n]) if torch.is_tensor(s0[k][n]) else s0[k][n] == s1[k][n]
                   for n in s0[k])
    assert g0 == g1


def warmed_adam(model, data):
    """Adam with moments already accumulated, so there is optimizer state to restore."""
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    for x, y in data[:3]:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return opt


# -- schedule --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["exp", "linear"])
@pytest.mark.parametrize("start,end,n", [(1e-7, 10.0, 100), (3e-5, 0.7, 37), (0.1, 0.3, 2)])
def test_schedule_hits_start_and_end_exactly(mode, start, end, n):
    lrs = [lr_at(i, n, start, end, mode) for i in range(n)]
    assert lrs[0] == start and lrs[-1] == end
    assert all(a < b for a, b in zip(lrs, lrs[1:]))


def test_exp_schedule_is_geometric_and_linear_is_arithmetic():
    exp = [lr_at(i, 11, 1e-5, 1e5, "exp") for i in range(11)]
    assert exp == pytest.approx([10.0 ** k for k in range(-5, 6)], rel=1e-12)
    lin = [lr_at(i, 5, 0.0 + 1e-9, 1.0, "linear") for i in range(5)]
    assert [b - a for a, b in zip(lin, lin[1:])] == pytest.approx([0.25 - 0.25e-9] * 4)


@pytest.mark.parametrize("mode", ["exp", "linear"])
def test_recorded_lrs_follow_the_schedule_and_the_loader_is_cycled(mode):
    model = nn.Linear(6, 3)
    result = find_lr(model, batches(n=3), nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                     start_lr=1e-4, end_lr=1e-2, num_iter=10, step_mode=mode)
    assert result.stopped_because == "completed" and len(result.lrs) == len(result.losses) == 10  # 3 batches, cycled
    assert result.lrs == [lr_at(i, 10, 1e-4, 1e-2, mode) for i in range(10)]
    assert result.lrs[0] == 1e-4 and result.lrs[-1] == 1e-2


# -- recording -------------------------------------------------------------------------------------------------------

def test_raw_loss_is_the_batch_loss_and_smoothed_is_the_debiased_ema():
    data, model = batches(), nn.Linear(6, 3)
    first = nn.functional.cross_entropy(model(data[0][0]), data[0][1]).item()
    result = find_lr(model, data, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                     start_lr=1e-4, end_lr=1.0, num_iter=20, beta=0.9)
    assert result.losses[0] == pytest.approx(first, rel=1e-6)  # the first step sees the model as it was
    assert result.smoothed == pytest.approx(smooth(result.losses, beta=0.9), rel=1e-12)
    assert result.settings["beta"] == 0.9


def test_callback_reports_progress_and_result_round_trips_through_json():
    calls = []
    model = nn.Linear(6, 3)
    result = find_lr(model, batches(), nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                     start_lr=1e-4, end_lr=1e-2, num_iter=8, callback=lambda *a: calls.append(a))
    assert [c[0] for c in calls] == list(range(1, 9)) and all(c[1] == 8 for c in calls)
    assert calls[-1][2:] == (result.lrs[-1], result.smoothed[-1])
    again = LRFinderResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result


def test_empty_loader_and_bad_arguments_are_refused_with_a_reason():
    model = nn.Linear(6, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="no batches"):
        find_lr(model, [], nn.CrossEntropyLoss(), opt)
    for kwargs, message in [(dict(start_lr=1.0, end_lr=0.1), "below the end LR"),
                            (dict(num_iter=1), "at least 2, not 1"), (dict(step_mode="cos"), "step mode"),
                            (dict(beta=1.0), "smoothing beta"), (dict(diverge=1.0), "divergence threshold")]:
        with pytest.raises(ValueError, match=message):
            find_lr(model, batches(), nn.CrossEntropyLoss(), opt, **kwargs)


# -- stop rules ------------------------------------------------------------------------------------------------------

def regression(n=256, d=8, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g) * torch.linspace(0.3, 1.0, d) * scale
    y = x @ torch.randn(d, 1, generator=g) + 0.1 * torch.randn(n, 1, generator=g)
    return x, y


def test_divergence_stops_the_sweep_at_the_first_step_past_the_threshold():
    x, y = regression()
    model = nn.Linear(8, 1)
    result = find_lr(model, [(x, y)], nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                     start_lr=1e-3, end_lr=100.0, num_iter=100)
    assert result.stopped_because == "diverged" and len(result.lrs) < 100
    best = [min(result.smoothed[:i + 1]) for i in range(len(result.smoothed))]
    assert result.smoothed[-1] > 4 * best[-1]
    assert all(s <= 4 * b for s, b in zip(result.smoothed[:-1], best[:-1]))  # not one step earlier
    assert result.stop_lr == result.lrs[-1]


class NanAfter(nn.Module):
    """Cross-entropy that turns into ``value`` from call ``k`` on."""

    def __init__(self, k, value=float("nan")):
        super().__init__()
        self.k, self.calls, self.value = k, 0, value

    def forward(self, out, y):
        loss = nn.functional.cross_entropy(out, y)
        self.calls += 1
        return loss * self.value if self.calls > self.k else loss


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_loss_stops_and_is_not_recorded(value):
    model = nn.Linear(6, 3)
    result = find_lr(model, batches(), NanAfter(7, value), torch.optim.SGD(model.parameters(), lr=0.1),
                     start_lr=1e-4, end_lr=1e-2, num_iter=20)
    assert result.stopped_because == "non-finite loss"
    assert len(result.losses) == 7 and all(v == v and abs(v) < float("inf") for v in result.losses)
    assert result.stop_lr == lr_at(7, 20, 1e-4, 1e-2)
    json.dumps(result.to_dict(), allow_nan=False)  # clean JSON: no NaN in the record


@pytest.mark.parametrize("end_lr,loss", [(100.0, nn.MSELoss()), (1e-2, NanAfter(9))])
def test_fetching_losses_in_chunks_gives_the_same_result_as_every_step(end_lr, loss):
    x, y = regression()
    results = []
    for check_every in (1, 16):
        model = nn.Linear(8, 1) if isinstance(loss, nn.MSELoss) else nn.Linear(8, 3)
        torch.manual_seed(0)
        nn.init.normal_(model.weight), nn.init.zeros_(model.bias)
        target = y if isinstance(loss, nn.MSELoss) else (y[:, 0] > 0).long()
        if isinstance(loss, NanAfter):
            loss.calls = 0
        results.append(find_lr(model, [(x, target)], loss, torch.optim.SGD(model.parameters(), lr=0.1),
                               start_lr=1e-3, end_lr=end_lr, num_iter=60, check_every=check_every))
    assert results[0] == results[1]
    assert results[0].stopped_because != "completed"


# -- leaves the model and optimizer as they were ---------------------------------------------------------------------

@pytest.mark.parametrize("end_lr", [1e-2, 1e4])  # completes / diverges
def test_model_buffers_and_optimizer_restored_bitwise(end_lr):
    data, model = batches(), small_net()
    opt = warmed_adam(model, data)
    model.eval()  # a mode the sweep must not leave behind
    before = state(model, opt)
    result = find_lr(model, data, nn.CrossEntropyLoss(), opt, start_lr=1e-5, end_lr=end_lr, num_iter=30)
    assert result.stopped_because == ("completed" if end_lr < 1 else "diverged")
    assert_same(before, state(model, opt))
    assert not any(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


def test_restored_bitwise_after_an_exception_mid_sweep():
    data, model = batches(), small_net()
    opt = warmed_adam(model, data)
    before = state(model, opt)

    def exploding(out, y):
        exploding.calls += 1
        if exploding.calls == 6:
            raise RuntimeError("boom at step 6")
        return nn.functional.cross_entropy(out, y)
    exploding.calls = 0

    with pytest.raises(RuntimeError, match="boom"):
        find_lr(model, data, exploding, opt, start_lr=1e-3, end_lr=1.0, num_iter=20)
    assert_same(before, state(model, opt))
    assert model.training  # was in train mode before
    # the optimizer still works on the same parameters afterwards
    opt.zero_grad()
    nn.functional.cross_entropy(model(data[0][0]), data[0][1]).backward()
    opt.step()


def test_fresh_optimizer_is_left_without_state():
    model = small_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    find_lr(model, batches(), nn.CrossEntropyLoss(), opt, start_lr=1e-4, end_lr=1e-1, num_iter=10)
    assert len(opt.state) == 0 and opt.param_groups[0]["lr"] == 0.1


# -- parameter groups and frozen parameters --------------------------------------------------------------------------

class SpySGD(torch.optim.SGD):
    """SGD that records each step's group LRs and a copy of the frozen weight."""

    def __init__(self, *args, frozen=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.frozen, self.seen = frozen, []

    def step(self, closure=None):
        self.seen.append(([g["lr"] for g in self.param_groups], self.frozen.detach().clone()))
        return super().step(closure)


def test_param_groups_keep_their_ratios_and_frozen_parameters_do_not_move():
    torch.manual_seed(0)
    backbone, middle, head = nn.Linear(6, 8), nn.Linear(8, 8), nn.Linear(8, 3)
    model = nn.Sequential(backbone, nn.ReLU(), middle, nn.ReLU(), head)
    backbone.requires_grad_(False)  # frozen backbone, still in the optimizer (as when unfreezing later)
    frozen0 = backbone.weight.detach().clone()
    opt = SpySGD([{"params": backbone.parameters(), "lr": 0.01 / 9}, {"params": middle.parameters(), "lr": 0.01 / 3},
                  {"params": head.parameters(), "lr": 0.01}], lr=0.01, momentum=0.9, weight_decay=0.1,
                 frozen=backbone.weight)
    result = find_lr(model, batches(), nn.CrossEntropyLoss(), opt, start_lr=1e-4, end_lr=1.0, num_iter=15)
    assert len(opt.seen) == len(result.lrs)
    for (lrs, frozen), lr in zip(opt.seen, result.lrs):
        assert lrs == pytest.approx([lr / 9, lr / 3, lr], rel=1e-12)  # the highest group follows the sweep
        assert torch.equal(frozen, frozen0)
    assert torch.equal(backbone.weight, frozen0)
    assert [g["lr"] for g in opt.param_groups] == [0.01 / 9, 0.01 / 3, 0.01]


# -- known answer ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [0.1, 1.0, 10.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_suggestions_on_linear_regression_fall_within_a_decade_of_the_curvature_step(scale, seed):
    """Mean squared error of a linear model is a quadratic with Hessian H = 2 X^T X / n: plain SGD is stable for
    lr < 2 / lambda_max(H) and fastest on the stiffest direction at 1 / lambda_max. Data scaled by 10 moves that
    step by 100, and the suggestions must move with it."""
    x, y = regression(n=512, seed=seed, scale=scale)
    lam = torch.linalg.eigvalsh(2 * x.T @ x / len(x)).max().item()
    torch.manual_seed(seed)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64, shuffle=True)
    model = nn.Linear(8, 1, bias=False)
    nn.init.zeros_(model.weight)
    result = find_lr(model, loader, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=1.0),
                     start_lr=1e-5 / scale ** 2, end_lr=10.0 / scale ** 2, num_iter=100)
    assert result.stopped_because == "diverged"  # it went past 2 / lambda_max
    assert 2 / lam < result.stop_lr < 10 * 2 / lam
    assert 0.1 / lam <= result.suggestions["steepest"] <= 10 / lam
    for name in ("steepest", "valley", "minimum/10"):  # every suggestion is a stable step, none absurdly timid
        assert 0.01 / lam <= result.suggestions[name] < 2 / lam, name


# -- several seeds ---------------------------------------------------------------------------------------------------

def test_find_lr_seeds_returns_each_sweep_and_their_spread_and_keeps_the_rng():
    x, y = regression()

    def loader(generator):
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32, shuffle=True,
                                           generator=generator)

    def build(generator):  # skip_init: constructed without drawing from the global generator
        model = init_weights(nn.utils.skip_init(nn.Linear, 8, 1), generator)
        return model, torch.optim.SGD(model.parameters(), lr=0.1)

    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    calls = []
    results, spread = find_lr_seeds(build, loader, nn.MSELoss(), seeds=[0, 1, 2], start_lr=1e-4, end_lr=10.0,
                                    num_iter=40, callback=lambda *a: calls.append(a))
    assert torch.equal(torch.rand(3), expected_next)
    assert len(results) == 3 and results[0] != results[1]  # different shuffles and initialisations
    assert {c[-1] for c in calls} == {0, 1, 2}
    assert spread.suggestions["steepest"].values == [r.suggestions["steepest"] for r in results]
    assert all(lo <= med <= hi for lo, med, hi in zip(spread.low, spread.median, spread.high))
    again, _ = find_lr_seeds(build, loader, nn.MSELoss(), seeds=[0], start_lr=1e-4, end_lr=10.0, num_iter=40)
    assert again[0] == results[0]  # a seed reproduces its sweep


# -- from a training config (what the page and the CLI run) ----------------------------------------------------------

def test_find_lr_for_a_config_repeats_with_seeds_and_leaves_the_bundle_alone():
    from core.data import load
    from core.train import TrainConfig
    from core.train.lr_finder import find_lr_for, SweepSettings

    bundle = load("builtin:digits")
    config = TrainConfig(data="builtin:digits", model="mlp", batch_size=32, optimizer="sgd", mixup_alpha=0.2)
    during = []  # the digits preset augments: it must go on the sweep's own copy of the split, not the bundle
    report = find_lr_for(config, SweepSettings(start_lr=1e-4, end_lr=1.0, num_iter=12), bundle=bundle,
                         seeds=[0, 1], callback=lambda *a: during.append(bundle.splits["train"].transform))
    assert during and all(t is None for t in during)
    assert report.seeds == [0, 1] and len(report.results) == 2
    assert all(len(r.lrs) <= 12 and r.lrs[0] == 1e-4 for r in report.results)
    assert report.results[0] != report.results[1]
    assert any("mixup" in n for n in report.notices)
    assert bundle.splits["train"].transform is None
    one = find_lr_for(config, SweepSettings(start_lr=1e-4, end_lr=1.0, num_iter=12), bundle=bundle)
    assert one.seeds == [0] and one.results[0] == report.results[0]  # the config's seed, reproducibly


def test_concurrent_seeded_sweeps_each_replay_bit_for_bit():
    """Two sessions' sweeps in threads (a cnn with dropout, and augmentation) while a third thread reseeds torch's
    global generator all along: each gets exactly the sweep it gets alone."""
    import random
    import threading

    from core.data import load
    from core.train import TrainConfig
    from core.train.lr_finder import find_lr_for, SweepSettings

    bundle = load("builtin:digits")
    configs = {"a": TrainConfig(data="builtin:digits", model="cnn", batch_size=32, model_opts={"width": 4}),
               "b": TrainConfig(data="builtin:digits", model="mlp", batch_size=16, seed=9)}
    sweep = SweepSettings(start_lr=1e-4, end_lr=1.0, num_iter=8)
    alone = {k: find_lr_for(c, sweep, bundle=bundle, seeds=[c.seed, c.seed + 1]).results for k, c in configs.items()}
    together, stop = {}, threading.Event()

    def session(key):
        c = configs[key]
        together[key] = find_lr_for(c, sweep, bundle=bundle, seeds=[c.seed, c.seed + 1]).results

    def noisy_neighbour():
        while not stop.wait(0.0005):
            torch.manual_seed(random.randrange(1 << 30))
            torch.rand(100)

    threads = [threading.Thread(target=session, args=(k,)) for k in configs]
    neighbour = threading.Thread(target=noisy_neighbour)
    for t in [neighbour, *threads]:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    neighbour.join()
    assert together == alone


def test_find_lr_for_text_batches_are_padded_by_the_bundle():
    from core.data import load
    from core.train import TrainConfig
    from core.train.lr_finder import find_lr_for, SweepSettings

    bundle = load("builtin:reviews")
    config = TrainConfig(data="builtin:reviews", model="gru", batch_size=16, model_opts={"hidden": 16})
    report = find_lr_for(config, SweepSettings(start_lr=1e-4, end_lr=1.0, num_iter=6), bundle=bundle)
    assert len(report.results[0].losses) == 6


def test_sweep_settings_refuse_what_the_server_does_not_allow():
    from core.train.lr_finder import SweepSettings

    assert SweepSettings().problems() == []
    problems = SweepSettings(start_lr=1.0, end_lr=0.1, num_iter=10**6, step_mode="cos", beta=1.0,
                             diverge=0.5).problems()
    assert len(problems) == 5 and "server's limit" in problems[1]


def test_losses_are_fetched_once_per_chunk_not_every_step(monkeypatch):
    """On an accelerator each fetch is a device sync: with check_every=16, 40 steps fetch 3 times."""
    from core.train import lr_finder

    fetches = []
    real_add = lr_finder._Record.add
    monkeypatch.setattr(lr_finder._Record, "add", lambda self, pending: fetches.append(len(pending))
                        or real_add(self, pending))
    model = nn.Linear(6, 3)
    result = find_lr(model, batches(), nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                     start_lr=1e-5, end_lr=1e-3, num_iter=40, check_every=16)
    assert fetches == [16, 16, 8] and len(result.lrs) == 40
