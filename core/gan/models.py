"""Generator / discriminator pairs by name: an MLP GAN for every kind of data and DCGANs for images.

Every model takes the switches of the teaching material: the hidden ``activation`` (sigmoid | leaky_relu) and
``layer_norm`` (an MLP gets LayerNorm after each hidden layer; a DCGAN gets LayerNorm instead of its batch-norm).
The loss and the optimizer are the trainer's switches. Discriminators return one logit per sample: D(x) is its
sigmoid. Weights are initialised from an explicit ``torch.Generator``:

- MLP: PyTorch's own Linear initialisation (Kaiming-uniform, a = sqrt(5); bias U(+-1/sqrt(fan_in))), drawn from it;
- DCGAN: conv weights N(0, 0.02), batch-norm weights N(1, 0.02) and biases 0 (Radford et al., 2015).

The layers are made on the meta device and every value is then drawn from that generator, so building a GAN never
touches the global random state (sessions of the app are threads of one process).

>>> g, d = build_gan(GanConfig(data="toy:ring"), "points", (2,), generator=torch.Generator().manual_seed(0))
>>> d(g(torch.zeros(5, 8))).shape
torch.Size([5])
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from core.gan.specs import IMAGE_SIZES

LEAKY_SLOPE = 0.2  # LeakyReLU negative slope (the DCGAN value)
DCGAN_STD = 0.02  # DCGAN init: N(0, 0.02) weights, N(1, 0.02) batch-norm scales
LATENT = {"pattern": 1, "points": 8, "image": 100}  # default size of z per data kind
MLP_HIDDEN = {"pattern": [3], "points": [128, 128], "image": [200]}  # 1 -> 3 -> 4 / 4 -> 3 -> 1; 100 -> 200 -> 784


def activation(name: str) -> nn.Module:
    """The hidden-layer activation module for a switch value."""
    return nn.LeakyReLU(LEAKY_SLOPE) if name == "leaky_relu" else nn.Sigmoid()


def _output(kind: str) -> nn.Module:
    """The generator's last activation: values in [0, 1] (pattern), [-1, 1] (images), anywhere (points)."""
    return {"pattern": nn.Sigmoid(), "image": nn.Tanh()}.get(kind, nn.Identity())


def _mlp(sizes: list[int], act: str, layer_norm: bool) -> list[nn.Module]:
    """Linear -> activation (-> LayerNorm) for each hidden size after the first entry (the input width)."""
    layers = []
    for cin, cout in zip(sizes, sizes[1:]):
        layers += [nn.Linear(cin, cout), activation(act)] + ([nn.LayerNorm(cout)] if layer_norm else [])
    return layers


class MLPGenerator(nn.Module):
    """z (B, latent) -> hidden blocks -> Linear -> output activation -> (B, *sample_shape)."""

    def __init__(self, latent_dim: int, sample_shape: tuple, kind: str, hidden: list[int], act: str,
                 layer_norm: bool):
        super().__init__()
        self.latent_dim, self.sample_shape = latent_dim, tuple(sample_shape)
        width = [latent_dim, *hidden]
        self.net = nn.Sequential(*_mlp(width, act, layer_norm), nn.Linear(width[-1], math.prod(sample_shape)),
                                 _output(kind))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.sample_shape)  # (B, prod) -> (B, *sample_shape)


class MLPDiscriminator(nn.Module):
    """x (B, *sample_shape) -> flatten -> hidden blocks -> Linear -> (B,) logits."""

    def __init__(self, sample_shape: tuple, hidden: list[int], act: str, layer_norm: bool):
        super().__init__()
        width = [math.prod(sample_shape), *hidden]
        self.net = nn.Sequential(nn.Flatten(), *_mlp(width, act, layer_norm), nn.Linear(width[-1], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)  # (B, 1) -> (B,)


def dcgan_plan(size: int) -> tuple[int, int]:
    """(start side, doublings) with start * 2**doublings == size: 64 -> (4, 4), 28 -> (7, 2), 8 -> (2, 2).

    The most doublings that leave a start side of at least 4, and at least two where the side allows (8x8: from 2).
    ``ValueError`` for a side no start of 2..8 reaches by doubling.
    """
    n, side = 0, size
    while side % 2 == 0 and side // 2 >= 4:
        side, n = side // 2, n + 1
    while n < 2 and side % 2 == 0 and side >= 4:  # small sides: two layers each way, from a 2..3 pixel start
        side, n = side // 2, n + 1
    if n < 1 or side > 8:
        raise ValueError(f"a DCGAN cannot make {size}x{size} images (it doubles a 2..8 pixel start); "
                         f"use one of {', '.join(map(str, IMAGE_SIZES))}")
    return side, n


def _norm(channels: int, side: int, layer_norm: bool) -> nn.Module:
    return nn.LayerNorm([channels, side, side]) if layer_norm else nn.BatchNorm2d(channels)


class DCGANGenerator(nn.Module):
    """z (B, latent) -> (B, latent, 1, 1) -> ConvTranspose up to (B, C, size, size), Tanh."""

    def __init__(self, latent_dim: int, channels: int, size: int, width: int, act: str, layer_norm: bool):
        super().__init__()
        self.latent_dim = latent_dim
        side, n = dcgan_plan(size)
        c = width * 2 ** (n - 1)
        layers = [nn.ConvTranspose2d(latent_dim, c, side, 1, 0, bias=False), _norm(c, side, layer_norm),
                  activation(act)]  # (B, latent, 1, 1) -> (B, c, side, side)
        for _ in range(n - 1):  # each doubles the side and halves the channels
            side *= 2
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), _norm(c // 2, side, layer_norm),
                       activation(act)]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1, bias=False), nn.Tanh()]  # -> (B, C, size, size)
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.latent_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """x (B, C, size, size) -> strided convs (no norm on the first) -> a conv over the last side -> (B,) logits."""

    def __init__(self, channels: int, size: int, width: int, act: str, layer_norm: bool):
        super().__init__()
        side, n = dcgan_plan(size)
        s, c = size // 2, width
        layers = [nn.Conv2d(channels, c, 4, 2, 1, bias=False), activation(act)]  # (B, C, size) -> (B, w, size/2)
        for _ in range(n - 1):
            s //= 2
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), _norm(2 * c, s, layer_norm), activation(act)]
            c *= 2
        layers += [nn.Conv2d(c, 1, side, 1, 0, bias=False), nn.Flatten()]  # (B, c, side, side) -> (B, 1)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)  # (B, 1) -> (B,)


_NORMS = (nn.LayerNorm, nn.BatchNorm2d)
_INIT_FREE = (nn.Sequential, nn.Flatten, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.Identity, *_NORMS)


def _check_covered(module: nn.Module, handled: tuple) -> None:
    """Every layer with parameters must be initialised here (they are built on the meta device: no values yet)."""
    for m in module.modules():
        if not isinstance(m, handled + _INIT_FREE) and list(m.parameters(recurse=False)):
            raise TypeError(f"no initialisation for {type(m).__name__}")


def init_default(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's Linear initialisation, drawn from ``generator`` (norm layers: scale 1, shift 0)."""
    _check_covered(module, (nn.Linear,))
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                bound = 1 / math.sqrt(m.in_features)
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, _NORMS):
            m.reset_parameters()  # ones and zeros (and fresh running statistics): no randomness


def init_dcgan(module: nn.Module, generator: torch.Generator) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02); batch-norm weights N(1, 0.02), biases 0."""
    _check_covered(module, (nn.Conv2d, nn.ConvTranspose2d))
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, DCGAN_STD, generator=generator)
        elif isinstance(m, _NORMS):
            m.reset_parameters()
            if isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, DCGAN_STD, generator=generator)


@dataclass(frozen=True)
class GanModelSpec:
    """A registry entry: how to build a (generator, discriminator) pair and what it suits."""

    name: str  # registry label (GanConfig.model)
    summary: str  # one line for menus
    kinds: tuple[str, ...]  # data kinds it accepts: 'pattern', 'points', 'image'
    build: Callable[..., tuple[nn.Module, nn.Module]]  # (kind, sample_shape, latent, act, layer_norm, **opts)
    init: Callable[[nn.Module, torch.Generator], None]  # weight initialisation from a generator
    size: int | None = None  # fixed image side (dcgan-8 ...); None: any (sized to the data)
    defaults: dict[str, Any] = field(default_factory=dict)  # GanConfig fields of its recipe ('improved' preset)


def _build_mlp(kind, sample_shape, latent, act, layer_norm, hidden=None):
    hidden = list(hidden or MLP_HIDDEN[kind])
    return (MLPGenerator(latent, sample_shape, kind, hidden, act, layer_norm),
            MLPDiscriminator(sample_shape, hidden, act, layer_norm))


def default_width(size: int) -> int:
    """DCGAN feature width (ngf = ndf) for a side: 64 as in the paper, 32 for the small sides (fast on a CPU)."""
    return 64 if size >= 28 else 32


def _build_dcgan(kind, sample_shape, latent, act, layer_norm, width=None):
    c, size, _ = sample_shape
    width = int(width or default_width(size))
    return (DCGANGenerator(latent, c, size, width, act, layer_norm),
            DCGANDiscriminator(c, size, width, act, layer_norm))


MODELS: dict[str, GanModelSpec] = {}
DCGAN_RECIPE = dict(loss="bce", activation="leaky_relu", layer_norm=False, optimizer="adam", lr_g=2e-4, lr_d=2e-4,
                    betas=[0.5, 0.999])


def register(spec: GanModelSpec) -> GanModelSpec:
    """Add ``spec`` to the registry and return it."""
    MODELS[spec.name] = spec
    return spec


register(GanModelSpec("mlp", "fully connected G and D (1->3->4 for 1010; 100->200->784 style for images)",
                      ("pattern", "points", "image"), _build_mlp, init_default))
register(GanModelSpec("dcgan", "DCGAN sized to the data: transposed convs up, strided convs down",
                      ("image",), _build_dcgan, init_dcgan, defaults=DCGAN_RECIPE))
for _size in (8, 28, 32, 64):
    register(GanModelSpec(f"dcgan-{_size}", f"DCGAN for {_size}x{_size} images", ("image",), _build_dcgan,
                          init_dcgan, size=_size, defaults=DCGAN_RECIPE))


def names(kind: str | None = None) -> list[str]:
    """Model names for a data kind ('pattern', 'points', 'image'), or all."""
    return [n for n, s in MODELS.items() if kind is None or kind in s.kinds]


def spec(name: str) -> GanModelSpec:
    """The registry entry for ``name``; ``KeyError`` naming the known ones otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown GAN model {name!r}; known: {', '.join(MODELS)}") from None


def latent_dim(config, kind: str) -> int:
    """The size of z: the config's, else the default for the data kind."""
    return int(config.latent_dim or LATENT[kind])


def build_gan(config, kind: str, sample_shape: tuple, generator: torch.Generator | None = None):
    """(generator network, discriminator network) for ``config`` on data of ``kind`` / ``sample_shape``, with
    their weights initialised from ``generator`` (a fixed seed when None)."""
    s = spec(config.model)
    if kind not in s.kinds:
        raise ValueError(f"{config.model} is for {' / '.join(s.kinds)} data, not {kind}")
    generator = generator if generator is not None else torch.Generator().manual_seed(config.seed)
    with torch.device("meta"):  # no values yet: the layers' own initialisation would draw from the global RNG
        g, d = s.build(kind, tuple(sample_shape), latent_dim(config, kind), config.activation, config.layer_norm,
                       **config.model_opts)
    g, d = g.to_empty(device="cpu"), d.to_empty(device="cpu")
    s.init(g, generator)
    s.init(d, generator)
    return g, d


def model_problems(config, probe=None) -> list[str]:
    """Why ``config.model`` cannot be trained on the probed data (empty list when it can)."""
    try:
        s = spec(config.model)
    except KeyError as err:
        return [err.args[0]]
    if probe is None:
        return []
    if probe.error:
        return [probe.error]
    if probe.kind not in s.kinds:
        return [f"{s.name} makes {' / '.join(s.kinds)} data but {probe.source} is {probe.kind} data; "
                f"choose {' or '.join(names(probe.kind))}"]
    out = []
    if probe.kind == "image":
        if s.size and probe.size != s.size:
            out.append(f"{s.name} makes {s.size}x{s.size} images but {probe.source} is {probe.native_size}x"
                       f"{probe.native_size} (trained at {probe.size}x{probe.size}); choose dcgan (sized to the "
                       f"data), or set the image size to {s.size} to resize the data")
        elif s.build is _build_dcgan:
            try:
                dcgan_plan(probe.size)
            except ValueError as err:
                out.append(str(err))
    return out
