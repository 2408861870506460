"""Gradient norms per layer: the fused pass against p.grad.norm() by hand, the flags, clipping, a run that breaks."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from core.debug.grads import (exploding_flag, grads_by_layer, layer_norms, param_layers, vanishing_flag)
from core.train import fit, recommended
from core.train.callbacks import Callback
from core.train.store import RunStore


def _tiny_model():
    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 8 * 8, 10))
    for p in model.parameters():
        with torch.no_grad():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return model


def test_layer_norms_equal_grad_norm_by_hand():
    model = _tiny_model()
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    nn.functional.cross_entropy(model(x), torch.arange(5)).backward()
    layers = param_layers(model)
    assert [n for n, _ in layers] == ["0", "1", "4"]
    got = layer_norms(grads_by_layer(layers)).tolist()
    for (name, params), value in zip(layers, got):
        by_hand = math.sqrt(sum(float(p.grad.norm()) ** 2 for p in params))
        assert value == pytest.approx(by_hand, rel=1e-5)
        assert value == pytest.approx(float(torch.nn.utils.get_total_norm([p.grad for p in params])), rel=1e-5)


def test_layer_norms_frozen_layer_and_non_finite():
    a, b = torch.tensor([3.0, 4.0]), torch.tensor([float("inf"), 1.0])
    out = layer_norms([[a], [], [b]]).tolist()
    assert out[0] == pytest.approx(5.0)
    assert math.isnan(out[1]) and math.isinf(out[2])


class _HandNorms(Callback):
    """After GradientStats (order 5): each layer's p.grad.norm() by hand, at the steps it records."""

    order = 50

    def __init__(self):
        self.seen = {}

    def after_backward(self, loop):
        if loop.step % loop.config.grad_every == 0:
            for name, params in param_layers(loop.model):
                self.seen[(loop.step, name)] = math.sqrt(sum(float(p.grad.norm()) ** 2 for p in params))


def test_recorded_norms_equal_hand_norms(tmp_path):
    hand = _HandNorms()
    cfg = recommended("mlp", "builtin:digits", max_steps=6, epochs=1, grad_every=2, runs_dir=str(tmp_path),
                      tensorboard=False, stats_every=0)
    result = fit(cfg, callbacks=[hand])
    grads = RunStore.open(result.run_dir).grads()
    assert sorted(grads["step"].unique()) == [0, 2, 4]
    assert len(grads) == len(hand.seen)
    for row in grads.itertuples():
        assert row.grad_norm == pytest.approx(hand.seen[(row.step, row.layer)], rel=1e-4)
        assert 0 < row.update_ratio < 1  # AdamW at 3e-3 moves each layer by a small fraction of its weights


def test_exploding_flag_names_first_jumping_layer():
    names = ["a", "b", "c"]
    assert exploding_flag(5, names, [1.0, 1.0, 1.0], {"a": 0.9, "b": 1.0, "c": 1.1}, {"a": 1, "b": 1, "c": 1}) is None
    flag = exploding_flag(5, names, [1.0, 30.0, float("nan")], {"a": 1, "b": 2, "c": 1}, {"a": 1, "b": 2, "c": 1})
    assert (flag.kind, flag.layer, flag.step) == ("exploding", "b", 5)
    flag = exploding_flag(6, names, [1.0, 2.0, float("inf")], {"a": 1, "b": 2, "c": 1}, {"a": 1, "b": 2, "c": 1})
    assert flag.layer == "c" and "non-finite" in flag.message


def test_vanishing_flag():
    assert vanishing_flag(0, ["a", "b"], [1e-3, 1e-1]) is None
    flag = vanishing_flag(0, ["a", "b", "c"], [1e-9, 1e-3, 1e-1])
    assert (flag.kind, flag.layer) == ("vanishing", "a")


def test_lr_10_digits_cnn_flagged_exploding(tmp_path):
    cfg = recommended("cnn", "builtin:digits", lr=10.0, max_steps=30, epochs=1, runs_dir=str(tmp_path),
                      tensorboard=False, stats_every=0)
    result = fit(cfg)
    notes = RunStore.open(result.run_dir).notes()
    exploding = [m for m in notes["message"] if m.startswith("exploding gradients")]
    assert len(exploding) == 1 and "layer features." in exploding[0]
    assert notes[notes["message"] == exploding[0]]["level"].iloc[0] == "warning"


def test_default_digits_cnn_not_flagged(tmp_path):
    cfg = recommended("cnn", "builtin:digits", max_steps=40, epochs=1, runs_dir=str(tmp_path), tensorboard=False,
                      stats_every=0)
    assert not [n for n in fit(cfg).notices if "gradients" in n]


def test_deep_sigmoid_mlp_flagged_vanishing(tmp_path):
    cfg = recommended("mlp_sigmoid", "builtin:digits", max_steps=2, epochs=1, runs_dir=str(tmp_path),
                      model_opts={"hidden": [32] * 29}, tensorboard=False, stats_every=0, grad_every=1)
    notes = [n for n in fit(cfg).notices if n.startswith("vanishing gradients")]
    assert len(notes) == 1 and "layer body.0's" in notes[0]


@pytest.mark.parametrize("clip, expected", [(1e-6, 1.0), (1e6, 0.0)])
def test_clipped_fraction(tmp_path, clip, expected):
    cfg = recommended("mlp", "builtin:digits", max_steps=10, epochs=1, runs_dir=str(tmp_path), grad_clip=clip,
                      tensorboard=False, stats_every=0, grad_every=5)
    scalars = RunStore.open(fit(cfg).run_dir).scalars()
    assert scalars["grad_clipped_frac"].dropna().iloc[-1] == pytest.approx(expected)


class _PoisonLayer(Callback):
    """Makes the second Linear's weights NaN after step 3's update: the loss goes NaN at the next step."""

    def after_batch(self, loop):
        if loop.step == 3:
            with torch.no_grad():
                loop.model.body[3].weight.fill_(float("nan"))


def test_failed_run_names_first_non_finite_layer(tmp_path):
    cfg = recommended("mlp", "builtin:digits", max_steps=20, epochs=1, runs_dir=str(tmp_path), tensorboard=False,
                      stats_every=0, grad_every=10)
    result = fit(cfg, callbacks=[_PoisonLayer()])
    assert result.status == "failed"
    notes = [m for m in RunStore.open(result.run_dir).notes()["message"] if m.startswith("exploding")]
    assert len(notes) == 1 and "layer body.3 " in notes[0] and "weights became non-finite" in notes[0]
    grads = RunStore.open(result.run_dir).grads()
    assert grads["step"].max() == 4  # the step that broke is recorded too (between two regular records)


def test_cli_train_options_reach_the_config():
    import argparse

    from core.cli.train import add_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--data", "builtin:digits", "--model", "mlp", "--grad-clip", "1.0", "--grad-every",
                              "5", "--checkpoint-segments", "2"])
    cfg = config_from_args(args)
    assert (cfg.grad_clip, cfg.grad_every, cfg.checkpoint_segments) == (1.0, 5, 2)
