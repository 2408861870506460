"""core.models.init: initial weights and dropout masks from an explicit generator."""
from __future__ import annotations

import math

import pytest
import torch
import torchvision
from torch import nn

from core import models
from core.models.init import GeneratorDropout, init_weights, seeded_dropout
from tests.core.test_models import _input, _opts

LAYERS = {
    "linear": lambda: nn.Linear(7, 5), "linear_no_bias": lambda: nn.Linear(7, 5, bias=False),
    "conv1d": lambda: nn.Conv1d(3, 4, 5), "conv2d": lambda: nn.Conv2d(3, 4, 3), "conv3d": lambda: nn.Conv3d(2, 3, 2),
    "conv_transpose2d": lambda: nn.ConvTranspose2d(3, 4, 3),
    "embedding": lambda: nn.Embedding(20, 6, padding_idx=3),
    "lstm": lambda: nn.LSTM(5, 6, num_layers=2, bidirectional=True), "gru": lambda: nn.GRU(5, 6),
    "rnn": lambda: nn.RNN(5, 6), "batchnorm": lambda: nn.BatchNorm2d(4), "layernorm": lambda: nn.LayerNorm(6),
}


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_layer_gets_exactly_pytorchs_own_initialisation(layer):
    """Reference: the layer as PyTorch constructs it after torch.manual_seed(s)."""
    for seed in (0, 7):
        torch.manual_seed(seed)
        reference = LAYERS[layer]()
        ours = LAYERS[layer]()  # drawn from the global generator, then redrawn from ours
        init_weights(ours, torch.Generator().manual_seed(seed))
        for (name, want), got in zip(reference.state_dict().items(), ours.state_dict().values()):
            assert torch.equal(got, want), (layer, name)


def test_an_unknown_layer_type_is_refused():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))

    with pytest.raises(TypeError, match="no seeded initialisation for Scale"):
        init_weights(nn.Sequential(nn.Linear(3, 3), Scale()), torch.Generator())


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_registered_model_is_drawn_from_the_generator_alone(name):
    kind = models.spec(name).kind
    built = []
    for seed, global_seed in ((5, 1), (5, 2), (6, 1)):
        torch.manual_seed(global_seed)  # whatever the global generator holds
        built.append(models.build(name, 3, generator=torch.Generator().manual_seed(seed), **_opts(kind)))
    same, other = built[0].state_dict(), built[2].state_dict()
    assert all(torch.equal(same[k], v) for k, v in built[1].state_dict().items())
    assert any(not torch.equal(other[k], v) for k, v in same.items() if v.is_floating_point())
    built[0].eval()
    assert built[0](_input(kind)).shape == (2, 3)


def test_a_random_resnet_backbone_follows_torchvisions_rule():
    model = models.build("resnet18", 3, generator=torch.Generator().manual_seed(0), weights="none",
                         input_shape=(3, 32, 32))
    conv = model.layer3[0].conv1.weight.detach()  # kaiming_normal_(fan_out, relu): std sqrt(2 / (out_channels * k * k))
    assert float(conv.std()) == pytest.approx(math.sqrt(2 / (conv.shape[0] * 9)), rel=0.05)


def test_pretrained_weights_are_kept(tmp_path):
    weights = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(weights, tmp_path / "r18.pth")
    model = models.build("resnet18", 3, generator=torch.Generator().manual_seed(0), weights=str(tmp_path / "r18.pth"),
                         input_shape=(3, 32, 32))
    assert model.pretrained and torch.equal(model.layer4[1].conv2.weight, weights["layer4.1.conv2.weight"])
    head = models.build("resnet18", 3, generator=torch.Generator().manual_seed(0), weights=str(tmp_path / "r18.pth"),
                        input_shape=(3, 32, 32)).head[0].weight
    assert torch.equal(model.head[0].weight, head)  # the new head comes from the generator


def test_a_pretrained_model_that_does_not_name_its_weights_is_refused():
    net = nn.Sequential(nn.Linear(3, 3))
    net.pretrained = True
    with pytest.raises(ValueError, match="pretrained weights"):
        init_weights(net, torch.Generator())


def test_seeded_dropout_masks_come_from_the_generator():
    model = models.build("mlp", 3, generator=torch.Generator().manual_seed(0), input_shape=(1, 8, 8))
    assert seeded_dropout(model, torch.Generator().manual_seed(1)) == []
    assert any(isinstance(m, GeneratorDropout) for m in model.modules())
    x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    outputs = []
    for global_seed in (3, 4):
        torch.manual_seed(global_seed)
        for m in model.modules():
            if isinstance(m, GeneratorDropout):
                m.generator.manual_seed(1)
        outputs.append(model.train()(x))
    assert torch.equal(outputs[0], outputs[1])
    drop = GeneratorDropout(0.25, torch.Generator().manual_seed(0)).train()
    kept = drop(torch.ones(20000))
    assert kept.unique().tolist() == pytest.approx([0.0, 4 / 3])  # kept values scaled by 1 / (1 - p)
    assert float((kept == 0).float().mean()) == pytest.approx(0.25, abs=0.02)


def test_seeded_dropout_reports_what_it_cannot_seed():
    model = nn.Sequential(nn.LSTM(4, 4, num_layers=2, dropout=0.5), nn.Dropout2d(0.1))
    assert seeded_dropout(model, torch.Generator()) == ["0", "1"]
