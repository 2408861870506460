"""Pieces of training checked against formulas and libraries: label smoothing, mixup, optimizers and schedules,
differential LRs, freezing, activation statistics and hooks, TensorBoard, TrainConfig round trip."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from core import models
from core.train import OPTIMIZERS, SCHEDULERS, TrainConfig, fit, recommended
from core.train.callbacks import ActivationStats, Callback
from core.train.hooks import Hooks, activation_stats, collapse_hint, first_tensor, named_layers
from core.train.mixup import mixup_batch, mixup_loss
from core.train.optim import group_lrs, make_optimizer, make_scheduler, set_frozen
from core.train.store import RunStore
from core.train.synthetic import synthetic_bundle
from tests.hook_spy import HookSpy

TINY = dict(model="cnn", model_opts={"width": 8}, epochs=2, batch_size=16, tensorboard=False, augment_preset=False,
            scheduler="none")


def _config(tmp_path, **kw):
    return TrainConfig(runs_dir=str(tmp_path / "runs"), **{**TINY, **kw})


# ---- config ------------------------------------------------------------------------------------------------------
def test_config_json_round_trip():
    import json

    c = TrainConfig(model="resnet18", model_opts={"hidden": 32}, augment={"kind": "image", "steps": []}, lr=0.01)
    assert TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(ValueError, match="bogus"):
        TrainConfig.from_dict({**c.to_dict(), "bogus": 1})


def test_config_problems_name_the_reason():
    assert TrainConfig().problems() == []
    probs = TrainConfig(optimizer="rmsprop", scheduler="warp", lr=0, freeze_epochs=9, epochs=2).problems()
    assert len(probs) == 4 and any("rmsprop" in p for p in probs)


def test_recommended_defaults_exist_for_every_model():
    for name in models.MODELS:
        c = recommended(name)
        assert c.model == name and c.problems(models.spec(name).kind) == []
    digits = recommended("cnn", "builtin:digits", epochs=2)
    assert digits.model_opts == {"width": 16} and digits.epochs == 2  # per-data tuning, then the caller's choice
    assert recommended("cnn", "some/folder").model_opts == {}


# ---- losses --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_label_smoothing_matches_explicit_formula(eps):
    torch.manual_seed(0)
    logits, y = torch.randn(16, 5), torch.randint(0, 5, (16,))
    logp = logits.log_softmax(1)
    nll = -logp.gather(1, y[:, None]).mean()
    smooth = (-logp).mean(1).mean()  # mean over classes of -log p, averaged over the batch
    expected = eps * smooth + (1 - eps) * nll
    got = torch.nn.CrossEntropyLoss(label_smoothing=eps)(logits, y)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


def test_loop_uses_label_smoothing(tmp_path):
    class Grab(Callback):
        def after_loss(self, loop):
            self.criterion = loop.criterion

    grab = Grab()
    fit(_config(tmp_path, label_smoothing=0.2, max_steps=1), [grab], bundle=synthetic_bundle("image", n=16))
    assert grab.criterion.label_smoothing == 0.2


def test_mixup_batch_is_a_convex_combination_with_a_shuffled_partner():
    x, y = torch.arange(8.0).view(8, 1).repeat(1, 3), torch.arange(8)
    gen = torch.Generator().manual_seed(0)
    xm, ya, yb, lam = mixup_batch(x, y, 0.4, gen)
    assert 0 <= lam <= 1 and torch.equal(ya, y)
    assert sorted(yb.tolist()) == y.tolist()  # a permutation of the batch
    torch.testing.assert_close(xm, lam * x + (1 - lam) * x[yb])  # y == index here, so yb is the permutation


def test_mixup_lambda_is_the_augment_pages_beta_draw():
    """One Beta rule (core.augment.mixup.draw_lambda, tested against scipy there): the batch's lambda is its draw."""
    from core.augment.mixup import draw_lambda

    gen, same = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    for _ in range(5):
        lam = mixup_batch(torch.zeros(4, 1), torch.zeros(4), 0.4, gen)[3]
        assert lam == draw_lambda(0.4, same)
        torch.randperm(4, generator=same)  # the partner shuffle follows the lambda


def test_mixup_loss_equals_cross_entropy_with_mixed_targets():
    torch.manual_seed(0)
    logits, ya, yb, lam = torch.randn(6, 4), torch.randint(0, 4, (6,)), torch.randint(0, 4, (6,)), 0.3
    soft = lam * F.one_hot(ya, 4).float() + (1 - lam) * F.one_hot(yb, 4).float()
    got = mixup_loss(torch.nn.CrossEntropyLoss(), logits, ya, yb, lam)
    torch.testing.assert_close(got, F.cross_entropy(logits, soft))


def test_mixup_refuses_token_ids():
    with pytest.raises(TypeError, match="token ids"):
        mixup_batch(torch.ones(2, 5, dtype=torch.long), torch.zeros(2), 0.4)


# ---- optimizers, schedules, differential LRs, freezing ---------------------------------------------------------------
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_optimizers_and_schedules(optimizer, scheduler):
    model = models.build("mlp", 3, input_shape=(1, 4, 4), hidden=(8,))
    config = TrainConfig(optimizer=optimizer, scheduler=scheduler, lr=0.1, step_size=1, gamma=0.5)
    opt = make_optimizer(model, config)
    if optimizer == "sgd":
        assert opt.param_groups[0]["momentum"] == 0.9
    sched, unit = make_scheduler(opt, config, total_steps=10)
    lrs = []
    for _ in range(10):
        model(torch.rand(2, 1, 4, 4)).sum().backward()
        opt.step()
        lrs.append(opt.param_groups[-1]["lr"])
        if sched is not None:
            sched.step()
    if scheduler == "none":
        assert set(lrs) == {0.1}
    elif scheduler == "step":
        assert unit == "epoch" and lrs[1] == pytest.approx(0.05)
    elif scheduler == "one-cycle":
        assert lrs[0] < 0.1 and max(lrs) == pytest.approx(0.1, rel=0.05) and lrs[-1] < 0.01
    else:
        assert lrs[0] == 0.1 and lrs[-1] < lrs[5] < lrs[0]


def test_group_lrs_formula():
    assert group_lrs(0.09, 3, 3.0) == pytest.approx([0.01, 0.03, 0.09])
    assert group_lrs(0.1, 2, 1.0) == [0.1, 0.1]


def test_differential_lrs_in_optimizer_groups():
    model = models.build("resnet18", 4, input_shape=(3, 32, 32), weights="none")
    opt = make_optimizer(model, TrainConfig(lr=0.09, lr_decay=3.0, scheduler="none"))
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.01, 0.03, 0.09])
    layer4 = {id(p) for p in model.layer4.parameters()}
    head = {id(p) for p in model.head.parameters()}
    assert {id(p) for p in opt.param_groups[1]["params"]} == layer4
    assert {id(p) for p in opt.param_groups[2]["params"]} == head
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))


def test_set_frozen_respects_batch_norm_option():
    model = models.build("cnn", 3, input_shape=(1, 8, 8), width=4)
    set_frozen(model, True, train_bn=True)
    conv, bn = model.features[0][0], model.features[0][1]
    assert not conv.weight.requires_grad and bn.weight.requires_grad
    assert all(p.requires_grad for p in model.classifier.parameters())
    set_frozen(model, True, train_bn=False)
    assert not bn.weight.requires_grad
    set_frozen(model, False)
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("train_bn", [True, False])
def test_frozen_backbone_does_not_change_then_unfreezes(tmp_path, train_bn):
    class Snap(Callback):
        order = 100  # after the Freezer and the checkpointer

        def before_fit(self, loop):
            self.snaps = [{k: v.clone() for k, v in loop.model.state_dict().items()}]

        def after_epoch(self, loop):
            self.snaps.append({k: v.clone() for k, v in loop.model.state_dict().items()})

    snap = Snap()
    fit(_config(tmp_path, freeze_epochs=1, train_bn=train_bn, weight_decay=0.1), [snap],
        bundle=synthetic_bundle("image", n=32))
    start, after1, after2 = snap.snaps
    conv, bn, head = "features.0.0.weight", "features.0.1.weight", "classifier.5.weight"
    assert torch.equal(start[conv], after1[conv])  # frozen: bit for bit, weight decay included
    assert not torch.equal(start[head], after1[head])
    assert torch.equal(start[bn], after1[bn]) != train_bn
    assert torch.equal(start["features.0.1.running_mean"], after1["features.0.1.running_mean"]) != train_bn
    assert not torch.equal(after1[conv], after2[conv])  # unfrozen in epoch 2


# ---- hooks and activation statistics ------------------------------------------------------------------------------
def test_activation_stats_match_torch():
    t = torch.relu(torch.randn(4, 8, 5))
    mean, std, frac = activation_stats(t).tolist()
    assert mean == pytest.approx(t.mean().item()) and std == pytest.approx(t.std().item())
    assert frac == pytest.approx((t.abs() < 1e-3).float().mean().item())


def test_hooks_remove_themselves_even_on_error():
    model = models.build("cnn", 3, input_shape=(1, 8, 8), width=4)
    seen = []
    with pytest.raises(RuntimeError):
        with Hooks(named_layers(model), lambda name, m, out: seen.append(name)):
            model(torch.rand(2, 1, 8, 8))
            raise RuntimeError("boom")
    assert seen == ["features.0", "features.1", "features.2", "avgpool", "classifier"]
    seen.clear()
    model(torch.rand(2, 1, 8, 8))
    assert seen == []  # no hook left behind: a forward pass calls none


def test_named_layers_all_leaves_and_rnn_outputs():
    model = models.build("lstm", 2, vocab_size=20)
    names = [n for n, _ in named_layers(model, all_layers=True)]
    assert names == ["embedding", "rnn", "head.1"]
    out = model.rnn(torch.randn(2, 3, 64))
    assert first_tensor(out).shape == (2, 3, 128)


def test_collapse_hints():
    assert collapse_hint("fc", 0.0, 1e-6, 0.0) and "lower learning rate" in collapse_hint("fc", 0.0, 1e-6, 0.0)
    assert "LeakyReLU" in collapse_hint("relu", 0.0, 0.1, 0.99)
    assert collapse_hint("ok", 0.2, 0.5, 0.4) is None


def test_activation_statistics_recorded_in_store(tmp_path):
    result = fit(_config(tmp_path, stats_every=2, log_every=3, epochs=1), bundle=synthetic_bundle("image", n=96))
    acts = RunStore.open(result.run_dir).activations()
    assert sorted(acts.step.unique()) == [0, 2, 4]
    assert set(acts.layer) == {"features.0", "features.1", "features.2", "avgpool", "classifier"}
    with_params = acts[acts.layer != "avgpool"]
    assert (with_params.grad_norm > 0).all() and (acts["std"] > 0).all()
    assert acts[acts.layer == "avgpool"].grad_norm.isna().all()  # no parameters: no gradient norm
    assert (acts[acts.layer == "features.0"].frac_zero > 0).all()  # ReLU zeros survive max-pooling


def test_activation_stats_fetch_in_batches_and_flag_collapse(monkeypatch):
    spy = HookSpy(monkeypatch)
    class FakeLoop:
        def __init__(self, model):
            self.model, self.step, self.notices, self.events, self.stats_rows = model, 0, [], [], []

        def __call__(self, event):
            self.events.append((event, list(self.stats_rows)))

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())
    with torch.no_grad():
        model[0].bias.fill_(-100.0)  # every ReLU output is zero: dead
    stats, loop = ActivationStats(every=1, fetch_every=3), FakeLoop(model)
    stats.before_fit(loop)
    for step in range(7):
        loop.step = step
        stats.before_batch(loop)
        model(torch.randn(5, 4)).sum().backward()
        stats.after_batch(loop)
    assert [len(rows) for _, rows in loop.events] == [3, 3]  # two fetches of three steps; step 6 pending
    assert len(stats._pending) == 1
    loop.status = "finished"
    stats.after_fit(loop)
    assert [len(rows) for _, rows in loop.events] == [3, 3, 1]
    assert any("dead ReLU" in n or "zero" in n for n in loop.notices)
    assert spy.registered > 0 and spy.calls_in(model, torch.randn(5, 4)) == 0


def test_tensorboard_events_written(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = fit(_config(tmp_path, tensorboard=True, stats_every=1, log_every=2, epochs=1),
                 bundle=synthetic_bundle("image", n=32))
    acc = EventAccumulator(result.run_dir)
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"loss/train_step", "lr", "epoch/val_acc", "epoch/val_loss", "epoch/train_loss"} <= tags
    assert "activations/features.0/mean" in tags and "activations/features.0/std" in tags
    assert len(acc.Scalars("loss/train_step")) == 2


# ---- data preparation: augmentation routing and cached features -----------------------------------------------------
def test_spectrogram_preset_applies_to_cached_features():
    from core.models import CachedFeatures
    from core.train.data import prepare_splits

    bundle = synthetic_bundle("audio", n=8)
    model = models.build_for(bundle, "mel_cnn")
    train, val, notices = prepare_splits(TrainConfig(model="mel_cnn"), bundle, model)
    assert isinstance(train, CachedFeatures) and isinstance(val, CachedFeatures)
    assert train.transform is not None and val.transform is None and bundle.splits["train"].transform is None
    assert notices == []


def test_augmentation_of_the_wrong_kind_is_refused():
    from core.augment import preset
    from core.train.data import prepare_splits

    bundle = synthetic_bundle("audio", n=8)
    model = models.build_for(bundle, "wave_cnn")
    config = TrainConfig(model="wave_cnn", augment=preset("spectrogram").to_dict())
    with pytest.raises(ValueError, match="kind audio"):
        prepare_splits(config, bundle, model)


def test_waveform_augmentation_with_spectrogram_model_is_not_cached():
    from core.augment import preset
    from core.train.data import prepare_splits

    bundle = synthetic_bundle("audio", n=8)
    model = models.build_for(bundle, "mel_cnn")
    train, _, notices = prepare_splits(TrainConfig(model="mel_cnn", augment=preset("audio").to_dict()), bundle, model)
    assert "recomputed every epoch" in notices[0]
    assert train[0][0].shape == model.features_of(bundle.splits["val"][0][0].unsqueeze(0))[0].shape
