"""core.inspect.layer_table: receptive-field known answers, an empirical check of the arithmetic, parameter counts
(tied weights once), multiply-adds against torch's FLOP counter, global layers."""
from __future__ import annotations

import math

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from core import models
from core.inspect import layer_table, layer_totals
from tests.hook_spy import HookSpy


def _by_name(rows):
    return {r.name: r for r in rows if r.call == 0}


@pytest.fixture(scope="module")
def resnet18_rows():
    return layer_table(torchvision.models.resnet18(), (3, 224, 224))


@pytest.mark.parametrize("name, field, jump", [("conv1", 7, 2), ("maxpool", 11, 4), ("layer1", 43, 4),
                                               ("layer2", 99, 8), ("layer3", 211, 16), ("layer4", 435, 32)])
def test_resnet18_known_receptive_fields(resnet18_rows, name, field, jump):
    row = _by_name(resnet18_rows)[name]
    assert row.receptive_field == (field, field)
    assert row.jump == (jump, jump)
    assert row.field_text == str(field)


def test_resnet18_head_is_global_and_shapes(resnet18_rows):
    rows = _by_name(resnet18_rows)
    assert rows["avgpool"].global_field and rows["fc"].global_field and rows["avgpool"].receptive_field is None
    assert rows["avgpool"].field_text == "global"
    assert rows["layer4"].output_shape == (1, 512, 7, 7)
    assert rows["layer1.0.relu"].depth == 2 and not rows["layer1"].leaf and rows["conv1"].leaf
    # the residual block takes the larger field: main branch (67) over the 1x1 stride-2 shortcut (43)
    assert rows["layer2.0.downsample"].receptive_field == (43, 43)
    assert rows["layer2.0"].receptive_field == (67, 67)
    # ReLU runs twice per block: one row per call, the second call counts no parameters again
    relus = [r for r in resnet18_rows if r.name == "layer1.0.relu"]
    assert [r.call for r in relus] == [0, 1]


def test_dilated_conv_and_stride_two_pool():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, dilation=2, padding=2), nn.MaxPool2d(2, 2), nn.Conv2d(4, 4, 3, padding=1))
    rows = _by_name(layer_table(net, (1, 32, 32)))
    # r = 1 + (3-1)*2*1 = 5; pool: 5 + (2-1)*1 = 6, j = 2; conv: 6 + (3-1)*1*2 = 10
    assert [rows[n].receptive_field for n in ("0", "1", "2")] == [(5, 5), (6, 6), (10, 10)]
    assert [rows[n].jump for n in ("0", "1", "2")] == [(1, 1), (2, 2), (2, 2)]
    # start: 0.5 + ((3-1)*2/2 - 2)*1 = 0.5; pool: 0.5 + (0.5 - 0)*1 = 1.0; conv: 1.0 + (1 - 1)*2 = 1.0
    assert [rows[n].start for n in ("0", "1", "2")] == [(0.5, 0.5), (1, 1), (1, 1)]


def _footprint(net: nn.Module, size: int, unit: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Input pixels that unit ``unit`` of the output depends on, measured with a gradient."""
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    out = net(x)
    out[0, 0, unit[0], unit[1]].backward()
    rows, cols = torch.nonzero(x.grad[0, 0], as_tuple=True)
    return (int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max()))


def _padded_net():
    return nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2, padding=2, bias=False),
                         nn.Conv2d(1, 1, 5, stride=2, padding=1, bias=False), nn.AvgPool2d(3, 2, padding=1),
                         nn.Conv2d(1, 1, 3, padding=1, bias=False))


def _same_padded_net():
    """TensorFlow "SAME" convolutions (EfficientNet-Lite0's) pad inside their forward: the padding is inferred."""
    from core.models.efficientnet import Conv2dSame

    return nn.Sequential(Conv2dSame(1, 1, 3, stride=2), Conv2dSame(1, 1, 5), Conv2dSame(1, 1, 3, stride=2))


def _even_same_net():
    """padding='same' with even kernels: torch pads (k - 1) // 2 before the first pixel and the rest after."""
    return nn.Sequential(nn.Conv2d(1, 1, 4, padding="same", bias=False), nn.Conv2d(1, 1, 2, padding="same", bias=False),
                         nn.Conv2d(1, 1, (4, 6), padding="same", dilation=(1, 2), bias=False))


def _upsampling_net(factor, mode):
    """A decoder-like stack: the upsampling spreads each unit over ``factor`` outputs (and mixes two for bilinear)."""
    return lambda: nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1, bias=False),
                                 nn.Upsample(scale_factor=factor, mode=mode), nn.Conv2d(1, 1, 3, padding=1, bias=False))


@pytest.mark.parametrize("make", [_padded_net, _same_padded_net, _even_same_net], ids=["padded", "tf-same", "even-same"])
@pytest.mark.parametrize("unit", [(0, 0), (1, 2), (3, 3), (7, 10)])
def test_field_box_matches_the_gradient_footprint(make, unit):
    """The box drawn on the page (field, jump and start) is the set of pixels the unit really depends on.

    Positive weights and average pooling: every pixel inside the field gets a non-zero gradient."""
    net = make()
    for m in net:
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0)
    size = 48
    last = layer_table(net, (1, size, size))[-1]
    assert last.box(unit, (size, size)) == _footprint(net, size, unit)


@pytest.mark.parametrize("factor,mode", [(2, "nearest"), (3, "nearest"), (2, "bilinear")])
@pytest.mark.parametrize("unit", [(0, 0), (1, 2), (3, 3), (7, 10), (20, 13)])
def test_upsampled_field_box_covers_the_gradient_footprint(factor, mode, unit):
    """After an upsampling the units no longer sit on an even grid of input pixels (unit i reads unit i / f, rounded):
    a box of fixed size and jump cannot be exact. It covers every pixel the unit depends on, and overshoots by less
    than the grid step before the upsampling (2 pixels here) on each side."""
    net = _upsampling_net(factor, mode)()
    for m in net:
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0)
    size = 32
    box, true = layer_table(net, (1, size, size))[-1].box(unit, (size, size)), _footprint(net, size, unit)
    for (lo, hi), (tlo, thi) in zip(box, true):
        assert lo <= tlo and hi >= thi, (box, true)
        assert tlo - lo < 2 and hi - thi < 2, (box, true)


class _Tied(nn.Module):
    """Embedding and output layer share one weight; one Linear is called twice; part is frozen."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.mix = nn.Linear(8, 8)
        self.out = nn.Linear(8, 20, bias=False)
        self.out.weight = self.embed.weight  # tied
        self.unused = nn.Linear(3, 3)  # never called

    def forward(self, ids):
        h = self.mix(torch.relu(self.mix(self.embed(ids))))
        return self.out(h).mean(1)


def test_parameters_counted_once_with_tied_weights_and_repeats():
    model = _Tied()
    model.mix.bias.requires_grad_(False)
    rows = layer_table(model, (), example=torch.tensor([[1, 2, 3]]))
    unique = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    assert unique == 20 * 8 + 8 * 8 + 8 + 3 * 3 + 3
    totals = layer_totals(model, rows)
    assert totals.params == unique
    assert totals.frozen == 8 and totals.trainable == unique - 8
    assert totals.outside_layers == 12  # the never-called Linear(3, 3)
    assert sum(r.params for r in rows) == unique - 12
    counts = [(r.name, r.call, r.params) for r in rows]
    assert counts == [("embed", 0, 160), ("mix", 0, 72), ("mix", 1, 0), ("out", 0, 0)]


def test_block_rows_sum_the_calls_inside_them(resnet18_rows):
    net = torchvision.models.resnet18()
    rows = _by_name(resnet18_rows)
    for name in ("layer1", "layer2.0", "layer4"):
        assert rows[name].params == sum(p.numel() for p in net.get_submodule(name).parameters())
    top = [r for r in resnet18_rows if r.depth == 0]
    assert sum(r.params for r in top) == sum(p.numel() for p in net.parameters())


def test_mult_adds_match_torch_flop_counter(resnet18_rows):
    """Convolutions and linear layers: FLOPs (torch.utils.flop_counter) are two per multiply-add."""
    net = torchvision.models.resnet18().eval()
    with FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, 3, 224, 224))
    totals = layer_totals(net, resnet18_rows)
    assert totals.mult_adds == counter.get_total_flops() // 2
    assert totals.param_megabytes == pytest.approx(11_689_512 * 4 / 2**20)


def test_mult_adds_of_one_dimensional_convolutions():
    net = models.build("wave_cnn", 3, sample_rate=8000, num_samples=4000).eval()
    with FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, 1, 4000))
    assert layer_totals(net, layer_table(net, (1, 4000))).mult_adds == counter.get_total_flops() // 2


class _Attend(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3, padding=1)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):  # (B, 4, T)
        h = self.conv(x).transpose(1, 2)  # (B, 8, T) -> (B, T, 8)
        return self.attn(h, h, h)[0]


def test_attention_and_recurrent_layers_are_global():
    rows = _by_name(layer_table(_Attend(), (4, 10)))
    assert rows["conv"].receptive_field == (3,) and rows["attn"].global_field
    assert rows["attn"].params == sum(p.numel() for p in _Attend().attn.parameters())  # out_proj included
    lstm = models.build("lstm", 2, vocab_size=30)
    rows = _by_name(layer_table(lstm, (), example=torch.tensor([[3, 4, 5, 6]])))
    assert rows["rnn"].global_field and rows["embedding"].receptive_field == (1,)
    assert rows["head.0"].global_field  # made from the LSTM's final state, not its outputs
    assert rows["rnn"].mult_adds == 2 * 4 * 64 * (64 + 64) * 4  # 2 directions, 4 gates, 4 steps


class _SumBlock(nn.Module):
    """Out-of-place residual sum with the larger field on the shortcut."""

    def __init__(self):
        super().__init__()
        self.branch = nn.Conv2d(2, 2, 1)
        self.skip = nn.Conv2d(2, 2, 5, padding=2)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.branch(x) + self.skip(x))


def test_residual_sum_takes_the_larger_branch_whichever_it_is():
    rows = _by_name(layer_table(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), _SumBlock()), (1, 16, 16)))
    assert rows["1.branch"].receptive_field == (3, 3) and rows["1.skip"].receptive_field == (7, 7)
    assert rows["1.act"].receptive_field == (7, 7) and rows["1"].receptive_field == (7, 7)


def test_model_mode_is_restored_and_no_gradients_left(monkeypatch):
    net = models.build("cnn", 3, input_shape=(1, 8, 8)).train()
    net.features.eval()  # a frozen part of a training model stays frozen
    spy = HookSpy(monkeypatch)
    layer_table(net, (1, 8, 8))
    assert net.training and all(p.grad is None for p in net.parameters())
    assert not any(m.training for m in net.features.modules()) and net.classifier.training
    assert spy.registered > 0 and spy.calls_in(net, torch.zeros(1, 1, 8, 8)) == 0
    net.eval()
    layer_table(net, (1, 8, 8))
    assert not net.training


def _example(name: str):
    kind = models.spec(name).kind
    if kind == "image":
        return models.build(name, 3, input_shape=(3, 32, 32), **({"weights": None} if "resnet" in name else {})), \
            torch.zeros(1, 3, 32, 32)
    if kind == "audio":
        opts = {"sample_rate": 8000, "num_samples": 4000, **({"weights": None} if "resnet" in name else {})}
        net = models.build(name, 3, **opts)
        x = torch.zeros(1, 1, 4000)
        return net, (net.features_of(x).detach() if hasattr(net, "features_of") else x)
    return models.build(name, 3, vocab_size=30), torch.tensor([[2, 3, 4]])


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_registered_model_has_a_complete_table(name):
    net, x = _example(name)
    rows = layer_table(net, (), example=x)
    totals = layer_totals(net, rows)
    assert totals.params == sum(p.numel() for p in net.parameters())
    assert totals.outside_layers == 0 or name in ("mel_cnn", "mel_resnet18")  # the unused waveform frontend
    assert rows[-1].global_field  # every classifier ends by mixing everything
    assert all(r.output_shape for r in rows if r.depth == 0)
    assert math.prod(rows[0].output_shape) > 0
