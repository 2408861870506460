"""Gradient checkpointing: bitwise-equal gradients, less saved-tensor memory, BatchNorm / Dropout kept out."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from core.debug.checkpointing import (KEEP_OUT_REASON, CheckpointedSequential, SavedTensorMeter, checkpoint_problem,
                                      measure_memory, segment_plan, with_checkpointing)
from core.models import build


def _convs(n: int = 16, c: int = 4) -> nn.Sequential:
    torch.manual_seed(0)  # test-only: the reference model and its copy start equal anyway
    layers = [nn.Conv2d(1, c, 3, padding=1), nn.ReLU()]
    for _ in range(n - 1):
        layers += [nn.Conv2d(c, c, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))


def _batch(shape=(4, 1, 8, 8)):
    g = torch.Generator().manual_seed(3)
    return torch.randn(*shape, generator=g), torch.randint(0, 10, (shape[0],), generator=g)


def _grads(model, x, y):
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("segments", [2, 4, 8])
def test_gradients_bitwise_equal_and_less_saved_memory(segments):
    plain = _convs()
    ckpt = with_checkpointing(copy.deepcopy(plain), segments)
    assert isinstance(ckpt, CheckpointedSequential)
    assert list(ckpt.state_dict()) == list(plain.state_dict())  # same parameter names: checkpoints still load
    x, y = _batch()
    for a, b in zip(_grads(plain, x, y), _grads(ckpt, x, y)):
        assert torch.equal(a, b)
    with SavedTensorMeter(plain) as m0:
        plain(x)
    with SavedTensorMeter(ckpt) as m1:
        ckpt(x)
    assert 0 < m1.bytes < m0.bytes


def test_saved_tensor_meter_counts_by_hand():
    lin = nn.Linear(4, 3)
    x = torch.randn(5, 4)
    with SavedTensorMeter(lin) as meter:
        torch.relu(lin(x))
    # Linear saves its input x (5x4) -- not its weight (a parameter); ReLU saves its output (5x3): float32
    assert meter.bytes == (5 * 4 + 5 * 3) * 4


def test_batchnorm_and_dropout_stay_out_and_running_stats_update_once():
    layers = [nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.0), nn.Linear(8, 8), nn.ReLU(),
              nn.Linear(8, 4), nn.ReLU()]
    plan = segment_plan(layers, 2)
    checkpointed = [i for ckpt, idx in plan if ckpt for i in idx]
    assert 1 not in checkpointed and 3 not in checkpointed and checkpointed  # BN (1), Dropout (3) run plainly
    assert [i for _, idx in plan for i in idx] == list(range(8))  # every layer once, in order
    plain = nn.Sequential(*layers)
    ckpt = with_checkpointing(copy.deepcopy(plain), 2)
    assert ckpt.keep_out_note == KEEP_OUT_REASON
    x = torch.randn(6, 8, generator=torch.Generator().manual_seed(0))
    plain(x).sum().backward()
    ckpt(x).sum().backward()
    assert torch.equal(plain[1].running_mean, ckpt[1].running_mean)
    assert int(ckpt[1].num_batches_tracked) == 1


def test_registry_models_checkpoint_their_chain_in_place():
    mlp = build("mlp", 10, input_shape=(1, 8, 8))
    keys = list(mlp.state_dict())
    assert with_checkpointing(mlp, 2) is mlp and isinstance(mlp.body, CheckpointedSequential)
    assert list(mlp.state_dict()) == keys
    assert checkpoint_problem(build("cnn", 10, input_shape=(1, 8, 8))) is None
    assert "no long chain of layers" in checkpoint_problem(nn.Linear(3, 3))
    assert "no long chain" in checkpoint_problem(build("resnet18", 10, input_shape=(3, 32, 32), weights=None))


def test_measure_memory_points():
    x, y = _batch((4, 1, 8, 8))
    result = measure_memory(_convs(8), x, y, segments=(0, 2, 4), repeats=1)
    sizes = {p.segments: p.activation_bytes for p in result.points}
    assert sizes[4] < sizes[0] and sizes[2] < sizes[0]
    assert all(p.step_ms > 0 for p in result.points) and result.device == "cpu"


def test_training_with_checkpointing_matches_plain_training(tmp_path):
    from core.train import fit, recommended
    from core.train.store import RunStore

    losses = []
    for segments in (0, 2):
        cfg = recommended("mlp", "builtin:digits", max_steps=4, epochs=1, runs_dir=str(tmp_path), stats_every=0,
                          tensorboard=False, checkpoint_segments=segments, deterministic=True)
        result = fit(cfg)
        assert result.status == "finished"
        losses.append(list(RunStore.open(result.run_dir).steps()["loss"]))
        if segments:
            assert any("gradient checkpointing in 2 segments" in n for n in result.notices)
    assert losses[0] == losses[1]  # the same numbers, step by step


@pytest.mark.parametrize("segments", [2, 4])
def test_mlp_with_in_place_relu_and_dropout_trains_the_same(segments):
    plain = build("mlp", 10, input_shape=(1, 8, 8), generator=torch.Generator().manual_seed(0), dropout=0.0)
    ckpt = with_checkpointing(copy.deepcopy(plain), segments)
    x, y = _batch((4, 1, 8, 8))
    for a, b in zip(_grads(plain, x, y), _grads(ckpt, x, y)):
        assert torch.equal(a, b)
