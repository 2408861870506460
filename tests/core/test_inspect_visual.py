"""class_visual raises the target logit and leaves the model alone; the sigmoid MLP's exact inverse."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from core import models
from core.inspect import class_visual, invert_mlp


@pytest.fixture(scope="module")
def trained_cnn():
    """A cnn fitted for a few steps on two synthetic classes: bright left half vs bright right half."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(32, 1, 8, 8, generator=g) * 0.3
    y = torch.arange(32) % 2
    x[y == 0, :, :, :4] += 0.6
    x[y == 1, :, :, 4:] += 0.6
    torch.manual_seed(0)  # test-only: fixed initial weights
    net = models.build("cnn", 2, input_shape=(1, 8, 8), width=8)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(20):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    return net.eval()


def test_class_visual_raises_the_target_logit(trained_cnn):
    vis = class_visual(trained_cnn, [0, 1], steps=40, input_shape=(1, 8, 8),
                       generator=torch.Generator().manual_seed(1))
    assert vis.images.shape == (2, 1, 8, 8) and vis.targets == [0, 1]
    for start, end in zip(vis.start_logits, vis.end_logits):
        assert end > start + 1.0
    assert all(p > 0.9 for p in vis.end_probs)
    assert len(vis.history) == 40
    assert vis.images.min() >= 0 and vis.images.max() <= 1  # clipped to the image range
    # the model's idea of class 0 is brighter on the left than on the right, and the other way round for class 1
    left, right = vis.images[..., :4].mean((1, 2, 3)), vis.images[..., 4:].mean((1, 2, 3))
    assert left[0] > right[0] and right[1] > left[1]


def test_class_visual_leaves_the_model_alone_and_is_reproducible(trained_cnn):
    net = copy.deepcopy(trained_cnn).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    a = class_visual(net, 1, steps=5, input_shape=(1, 8, 8), generator=torch.Generator().manual_seed(3))
    b = class_visual(net, 1, steps=5, input_shape=(1, 8, 8), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a.images, b.images)
    assert net.training and all(p.grad is None for p in net.parameters())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # batch-norm statistics too


def test_class_visual_on_spectrogram_features():
    torch.manual_seed(0)  # test-only: fixed random weights
    net = models.build("mel_cnn", 3, sample_rate=8000, num_samples=8000).eval()
    feats = net.features_of(torch.randn(1, 1, 8000))
    vis = class_visual(net, 2, steps=10, input_shape=tuple(feats.shape[1:]), start=float(feats.mean()), lr=0.02,
                       value_range=(float(feats.min()), float(feats.max())), jitter=0)
    assert vis.end_logits[0] > vis.start_logits[0] + 0.1
    assert vis.images.shape == (1, *feats.shape[1:])


def _sigmoid_mlp(hidden, input_shape=(1, 8, 8)):
    torch.manual_seed(0)  # test-only: fixed random weights
    return models.build("mlp_sigmoid", 3, input_shape=input_shape, hidden=hidden).eval()


def _well_conditioned(net):
    """Orthogonal rows of length 4 and biases that send 0.5 to 0: wanted logits are reachable from (0, 1)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for lin in (m for m in net.modules() if isinstance(m, torch.nn.Linear)):
            q, _ = torch.linalg.qr(torch.randn(lin.in_features, lin.out_features, generator=g))
            lin.weight.copy_(4 * q.T)
            lin.bias.copy_(-lin.weight.sum(1) * 0.5)
    return net


def test_exact_inverse_of_a_narrowing_sigmoid_mlp():
    """64 -> 32 -> 16 -> 3: every layer is wider in than out, so each one can be solved exactly."""
    net = _well_conditioned(_sigmoid_mlp((32, 16)))
    for target in range(3):
        inv = invert_mlp(net, target, (1, 8, 8), margin=1.0)
        assert inv.clipped == 0 and inv.exact
        torch.testing.assert_close(inv.logits, inv.wanted, atol=1e-4, rtol=0)
        assert int(inv.logits.argmax()) == target
        # an independent check of the answer: the forward pass written out by hand
        h = inv.image.flatten()
        for lin in (net.body[0], net.body[3]):
            h = torch.sigmoid(lin.weight @ h + lin.bias)
        torch.testing.assert_close(net.head.weight @ h + net.head.bias, inv.wanted, atol=1e-4, rtol=0)


def test_inverse_restores_every_submodule_mode():
    net = _well_conditioned(_sigmoid_mlp((32, 16))).train()
    net.body.eval()  # a part set to eval inside a training model
    invert_mlp(net, 0, (1, 8, 8), margin=1.0)
    assert net.training and net.head.training and not any(m.training for m in net.body.modules())


def test_inverse_says_when_it_is_not_exact():
    wide = invert_mlp(_sigmoid_mlp((256,)), 1, (1, 8, 8), margin=0.5)  # 64 inputs cannot set 256 hidden units
    assert wide.clipped == 0 and not wide.exact
    far = invert_mlp(_sigmoid_mlp((32, 16)), 1, (1, 8, 8), margin=20.0)  # logits out of these weights' reach
    assert far.clipped > 0 and not far.exact
    with pytest.raises(ValueError, match="sigmoid MLP"):
        invert_mlp(models.build("mlp", 3, input_shape=(1, 8, 8)), 0, (1, 8, 8))
