"""GAN models and config: the four switches build what they say, shapes for every size, the DCGAN and PyTorch
initialisation statistics, the loss formulas, the config's JSON round-trip and its refusals with reasons."""
from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from core.gan import GanConfig, ideal_lines
from core.gan.data import DataProbe, probe_data
from core.gan.models import MODELS, build_gan, dcgan_plan, model_problems, names
from core.gan.train import gan_loss, make_optimizer

CASES = [("mlp", "pattern", (4,)), ("mlp", "points", (2,)), ("mlp", "image", (1, 8, 8)),
         ("dcgan", "image", (1, 8, 8)), ("dcgan", "image", (3, 16, 16)), ("dcgan-28", "image", (1, 28, 28)),
         ("dcgan-32", "image", (3, 32, 32)), ("dcgan-64", "image", (3, 64, 64))]


def _count(module: nn.Module, kind) -> int:
    return sum(isinstance(m, kind) for m in module.modules())


@pytest.mark.parametrize("model,kind,shape", CASES)
def test_generator_makes_samples_of_the_data_shape_and_d_gives_one_logit(model, kind, shape):
    cfg = GanConfig(data="x", model=model, model_opts={"width": 8} if "dcgan" in model else {})
    g, d = build_gan(cfg, kind, shape)
    z = torch.randn(3, g.latent_dim)
    x = g(z)
    assert x.shape == (3, *shape) and d(x).shape == (3,)
    if kind == "image":  # tanh output: images in [-1, 1]
        assert x.abs().max() <= 1


@pytest.mark.parametrize("model,kind,shape", CASES)
@pytest.mark.parametrize("act", ["sigmoid", "leaky_relu"])
@pytest.mark.parametrize("layer_norm", [False, True])
def test_switches_build_what_they_say(model, kind, shape, act, layer_norm):
    cfg = GanConfig(model=model, activation=act, layer_norm=layer_norm,
                    model_opts={"width": 8} if "dcgan" in model else {})
    g, d = build_gan(cfg, kind, shape)
    for net, is_g in ((g, True), (d, False)):
        leaky, sig = _count(net, nn.LeakyReLU), _count(net, nn.Sigmoid)
        out_sigmoid = int(is_g and kind == "pattern")  # toy:1010's generator ends in a sigmoid (values in [0, 1])
        if act == "leaky_relu":
            assert leaky > 0 and sig == out_sigmoid
        else:
            assert leaky == 0 and sig - out_sigmoid > 0
        assert (_count(net, nn.LayerNorm) > 0) == layer_norm
        if "dcgan" in model:  # the DCGAN's batch-norm is what LayerNorm replaces
            assert (_count(net, nn.BatchNorm2d) > 0) == (not layer_norm)
        else:
            assert _count(net, nn.BatchNorm2d) == 0


def test_toy_1010_networks_are_those_of_the_exercise():
    g, d = build_gan(GanConfig(data="toy:1010", activation="sigmoid", layer_norm=False), "pattern", (4,))
    assert [(m.in_features, m.out_features) for m in g.modules() if isinstance(m, nn.Linear)] == [(1, 3), (3, 4)]
    assert [(m.in_features, m.out_features) for m in d.modules() if isinstance(m, nn.Linear)] == [(4, 3), (3, 1)]


def test_mlp_image_gan_is_100_200_784_style():
    g, d = build_gan(GanConfig(), "image", (1, 28, 28))
    assert [(m.in_features, m.out_features) for m in g.modules() if isinstance(m, nn.Linear)] == \
        [(100, 200), (200, 784)]
    assert [(m.in_features, m.out_features) for m in d.modules() if isinstance(m, nn.Linear)] == \
        [(784, 200), (200, 1)]


def test_dcgan_plan_for_the_registered_sizes():
    assert {s: dcgan_plan(s) for s in (8, 16, 28, 32, 64)} == {8: (2, 2), 16: (4, 2), 28: (7, 2), 32: (4, 3),
                                                               64: (4, 4)}
    with pytest.raises(ValueError, match="cannot make 30x30"):
        dcgan_plan(30)
    g, _ = build_gan(GanConfig(model="dcgan-64"), "image", (3, 64, 64))
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64, 3]  # the DCGAN paper's generator, ngf = 64


def test_dcgan_initialisation_statistics():
    g, d = build_gan(GanConfig(model="dcgan-64", layer_norm=False), "image", (3, 64, 64),
                     torch.Generator().manual_seed(0))
    for net in (g, d):
        conv = torch.cat([m.weight.detach().flatten() for m in net.modules()
                          if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
        assert abs(float(conv.mean())) < 1e-3 and float(conv.std()) == pytest.approx(0.02, rel=0.02)
        bn = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        scale = torch.cat([m.weight.detach() for m in bn])
        assert float(scale.mean()) == pytest.approx(1.0, abs=0.005)
        assert float(scale.std()) == pytest.approx(0.02, rel=0.2)
        assert all(float(m.bias.detach().abs().max()) == 0 for m in bn)


def test_mlp_initialisation_is_pytorch_default_from_the_explicit_generator():
    _, d = build_gan(GanConfig(), "image", (1, 28, 28), torch.Generator().manual_seed(0))
    first = d.net[1]
    bound = 1 / math.sqrt(784)  # kaiming_uniform(a=sqrt(5)) -> U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    weight = first.weight.detach()
    assert float(weight.abs().max()) <= bound
    assert float(weight.std()) == pytest.approx(bound / math.sqrt(3), rel=0.01)
    assert float(first.bias.detach().abs().max()) <= bound


def test_weights_depend_only_on_the_explicit_generator():
    state = torch.get_rng_state()
    build_gan(GanConfig(model="dcgan-28"), "image", (1, 28, 28), torch.Generator().manual_seed(5))
    build_gan(GanConfig(), "points", (2,), torch.Generator().manual_seed(5))
    assert torch.equal(torch.get_rng_state(), state)  # the global random state is not touched
    torch.manual_seed(1)
    a = build_gan(GanConfig(model="dcgan-28"), "image", (1, 28, 28), torch.Generator().manual_seed(5))
    torch.manual_seed(2)
    b = build_gan(GanConfig(model="dcgan-28"), "image", (1, 28, 28), torch.Generator().manual_seed(5))
    c = build_gan(GanConfig(model="dcgan-28"), "image", (1, 28, 28), torch.Generator().manual_seed(6))
    for x, y in zip(a[0].state_dict().values(), b[0].state_dict().values()):
        assert torch.equal(x, y)
    assert not torch.equal(a[0].net[0].weight, c[0].net[0].weight)


def test_the_loss_switch():
    logits, target = torch.tensor([-2.0, 0.0, 3.0]), torch.tensor([1.0, 0.0, 1.0])
    p = torch.sigmoid(logits)
    assert gan_loss("mse")(logits, target) == pytest.approx(float(((p - target) ** 2).mean()))
    assert gan_loss("bce")(logits, target) == pytest.approx(float(F.binary_cross_entropy(p, target)))
    half = torch.zeros(4)  # D = 0.5 everywhere: the balanced game
    assert gan_loss("mse")(half, torch.ones(4)) == pytest.approx(ideal_lines("mse")["g_loss"])
    assert gan_loss("bce")(half, torch.zeros(4)) == pytest.approx(ideal_lines("bce")["d_loss_fake"])


def test_the_optimizer_switch():
    params = [nn.Parameter(torch.zeros(2))]
    adam = make_optimizer(params, GanConfig(optimizer="adam", betas=[0.5, 0.999]), 2e-4)
    sgd = make_optimizer(params, GanConfig(optimizer="sgd", momentum=0.0), 0.01)
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["betas"] == (0.5, 0.999)
    assert adam.defaults["lr"] == 2e-4
    assert type(sgd) is torch.optim.SGD and sgd.defaults["momentum"] == 0.0 and sgd.defaults["lr"] == 0.01


def test_ideal_lines():
    assert ideal_lines("mse") == {"d_loss_real": 0.25, "d_loss_fake": 0.25, "g_loss": 0.25, "d_real": 0.5,
                                  "d_fake": 0.5}
    assert ideal_lines("bce")["g_loss"] == pytest.approx(0.6931, abs=1e-4)
    assert ideal_lines("bce", summed=True)["d_loss"] == pytest.approx(2 * math.log(2))
    assert ideal_lines("mse", summed=True)["d_loss"] == 0.5


def test_config_json_round_trip_and_unknown_fields():
    cfg = GanConfig(data="builtin:digits", model="dcgan", judge="runs/x", betas=[0.5, 0.9], model_opts={"width": 16})
    assert GanConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="unknown GanConfig field"):
        GanConfig.from_dict({"data": "toy:ring", "colour": "red"})


def test_config_problems_say_why():
    bad = GanConfig(loss="hinge", optimizer="rmsprop", batch_size=0, lr_g=-1, d_steps=0, noise_input=True)
    text = " | ".join(bad.problems())
    for reason in ("loss must be one of mse, bce", "optimizer must be one of sgd, adam",
                   "batch size must be at least 1", "learning rates must be positive", "d steps must be at least 1",
                   "noise input is a toy:1010"):
        assert reason in text, reason
    assert GanConfig(model="nope").problems() == ["unknown GAN model 'nope'; known: " + ", ".join(MODELS)]
    assert GanConfig().problems() == []


def test_model_against_data_problems():
    shapes = probe_data("builtin:shapes")
    assert shapes.kind == "image" and shapes.size == 64 and shapes.channels == 3
    small = model_problems(GanConfig(data="builtin:shapes", model="dcgan-8"), shapes)
    assert small and "dcgan-8 makes 8x8 images" in small[0] and "trained at 64x64" in small[0]
    assert model_problems(GanConfig(data="builtin:shapes", model="dcgan-64"), shapes) == []
    assert model_problems(GanConfig(data="builtin:shapes", model="dcgan"), shapes) == []
    resized = probe_data("builtin:shapes", image_size=8)
    assert model_problems(GanConfig(data="builtin:shapes", model="dcgan-8", image_size=8), resized) == []
    digits = probe_data("builtin:digits")
    assert digits.size == 8 and digits.native_size == 8  # digits train at their own 8x8, not the classifier's 32
    ring = probe_data("toy:ring")
    assert "choose mlp" in model_problems(GanConfig(data="toy:ring", model="dcgan"), ring)[0]
    assert set(names("points")) == {"mlp"} and {"dcgan", "dcgan-8", "dcgan-64"} <= set(names("image"))
    odd = DataProbe("x", "image", size=30, native_size=30, channels=1)
    assert "cannot make 30x30" in model_problems(GanConfig(model="dcgan"), odd)[0]


def test_unreadable_sources_are_refused_with_the_reason(tmp_path):
    missing = probe_data(str(tmp_path / "nope"))
    assert missing.kind is None and "does not exist" in missing.error
    assert GanConfig(data=str(tmp_path / "nope")).problems(missing) == [missing.error]
    audio = probe_data("builtin:sounds")
    assert "holds audio data" in audio.error
