"""Real data for GANs: the registry of sources (``toy:1010``, ``toy:ring``, any image source ``core.data.load``
reads), each turned into a ``GanData`` the trainer draws batches from.

- ``toy:1010``: the four values ``1 0 1 0`` with noise (ones in U(0.8, 1), zeros in U(0, 0.2)), as in the original
  exercise; values in [0, 1], so the generator ends in a sigmoid.
- ``toy:ring``: 2-D points from 8 Gaussians on a circle, where mode collapse is easy to see and to count.
- images: the train split of a built-in set or the user's ImageFolder (grey or colour), at one square size, scaled
  to [-1, 1] (the DCGAN convention; the generator ends in a tanh).

>>> data = load_gan_data("toy:ring", samples=256, generator=torch.Generator().manual_seed(0))
>>> data.kind, data.sample_shape, len(data)
('points', (2,), 256)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from core.gan.specs import IMAGE_SIZES, TOYS

PATTERN = (1.0, 0.0, 1.0, 0.0)  # toy:1010
# toy:ring: 8 Gaussians on the unit circle (the data at the scale of a freshly initialised generator's output;
# at radius 2 the improved GAN collapsed onto 2-5 modes in bench runs, at radius 1 it covers 7-8)
RING_MODES, RING_RADIUS, RING_STD = 8, 1.0, 0.05
MAX_PIXEL_MB = 512  # real images are kept in memory as uint8; a larger set is subsampled (with a notice)


@dataclass
class DataProbe:
    """What a source is, found cheaply (image headers only) so a form can refuse impossible settings."""

    source: str  # as asked for
    kind: str | None  # 'pattern' | 'points' | 'image'; None when the source cannot be used
    size: int | None = None  # images: the square side they will be trained at
    native_size: int | None = None  # images: their own typical shorter side
    channels: int | None = None  # images: 1 (grey) or 3 (colour)
    classes: list[str] = field(default_factory=list)  # images: class folder names (for a judge)
    error: str | None = None  # why the source cannot be used


@dataclass
class GanData:
    """Real samples in the generator's output range, with what the collapse measures need."""

    source: str  # as asked for
    kind: str  # 'pattern' | 'points' | 'image'
    sample_shape: tuple  # one sample: (4,), (2,) or (C, H, W)
    values: torch.Tensor  # (N, *sample_shape): float for toys, uint8 pixels for images
    classes: list[str] = field(default_factory=list)  # images: class names
    targets: torch.Tensor | None = None  # images: (N,) class ids
    modes: torch.Tensor | None = None  # toy:ring: (8, 2) centres of the Gaussians
    mode_std: float = 0.0  # toy:ring: the Gaussians' standard deviation
    notices: list[str] = field(default_factory=list)  # e.g. subsampled to fit in memory

    def __len__(self) -> int:
        return self.values.shape[0]

    def batch(self, index: torch.Tensor) -> torch.Tensor:
        """Real samples ``index`` as float, in the generator's range (images: uint8 -> [-1, 1])."""
        x = self.values[index]
        return x.float() / 127.5 - 1.0 if self.values.dtype == torch.uint8 else x

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` real samples drawn without replacement (all of them when there are fewer)."""
        index = torch.randperm(len(self), generator=generator)[:n]
        return self.batch(index)


@dataclass(frozen=True)
class ToySpec:
    """A generated data set: its kind, a line for menus, real samples per epoch, and how to draw them."""

    kind: str  # 'pattern' | 'points'
    summary: str  # one line for menus
    samples: int  # real samples per epoch by default
    make: Callable[[int, torch.Generator, bool], "GanData"]  # (n, generator, noise) -> GanData


def data_names() -> list[str]:
    """The sources a menu offers: the toys and the built-in image sets (any image folder works too)."""
    from core.data import BUILTINS
    from core.data.builtin import KINDS

    return list(TOYS) + [f"builtin:{n}" for n in BUILTINS if KINDS[n] == "image"]


def describe(source: str) -> str:
    """One line about a source, for menus."""
    from core.data import BUILTINS

    if source in TOY_DATA:
        return TOY_DATA[source].summary
    name = source.split(":", 1)[1] if source.startswith("builtin:") else None
    return BUILTINS.get(name, "your images (class folders, grey or colour)") if name else "your images"


def snap_size(native: float) -> int:
    """The registered size an image of side ``native`` trains at: the largest one not above it (at least 8)."""
    fitting = [s for s in IMAGE_SIZES if s <= native]
    return fitting[-1] if fitting else IMAGE_SIZES[0]


def _native_size(bundle) -> int:
    """Typical shorter side of the images, from the headers the loader read (median over classes by count)."""
    sides = []
    for stats in bundle.stats.get("images", {}).values():
        sides += [min(stats["width"]["median"], stats["height"]["median"])] * int(stats["n"])
    sides.sort()
    return int(sides[len(sides) // 2]) if sides else int(bundle.input_shape[-1])


def probe_data(source: str, image_size: int = 0, data_opts: dict | None = None) -> DataProbe:
    """Kind, size and channels of ``source`` (image headers only; never raises: ``error`` says what is wrong)."""
    if source in TOY_DATA:
        return DataProbe(source, TOY_DATA[source].kind)
    from core.data import DataError, load

    try:
        opts = {k: v for k, v in (data_opts or {}).items() if k != "image_size"}
        bundle = load(source, verify=False, cache_mb=0, **opts)
    except (DataError, OSError, ValueError) as err:
        return DataProbe(source, None, error=f"cannot use {source}: {err}")
    if bundle.kind != "image":
        return DataProbe(source, None, error=f"{source} holds {bundle.kind} data; a GAN here needs images "
                                             "(or toy:1010 / toy:ring)")
    native = _native_size(bundle)
    return DataProbe(source, "image", size=int(image_size or snap_size(native)), native_size=native,
                     channels=int(bundle.input_shape[0]), classes=list(bundle.classes))


def load_gan_data(source: str, *, samples: int = 0, image_size: int = 0, data_opts: dict | None = None,
                  generator: torch.Generator | None = None, noise: bool = True) -> GanData:
    """The real data of ``source``; toys are drawn from ``generator`` (``samples`` of them), images loaded.

    ``noise=False`` gives the toys without their noise (the exact pattern / the mode centres, for tests).
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    if source in TOY_DATA:
        spec = TOY_DATA[source]
        return spec.make(samples or spec.samples, generator, noise)
    return _images(source, image_size, data_opts or {}, generator)


def _pattern(n: int, generator: torch.Generator, noise: bool) -> GanData:
    """(n, 4): ones from U(0.8, 1.0), zeros from U(0.0, 0.2) (or exactly 1 0 1 0 without noise)."""
    pattern = torch.tensor(PATTERN).expand(n, 4)
    u = torch.rand(n, 4, generator=generator) * 0.2 if noise else torch.zeros(n, 4)
    values = torch.where(pattern > 0.5, 1.0 - u, u)
    return GanData("toy:1010", "pattern", (4,), values)


def ring_modes() -> torch.Tensor:
    """(8, 2) centres of the ring's Gaussians, the first on the positive x axis, counter-clockwise."""
    angles = torch.arange(RING_MODES, dtype=torch.float32) * (2 * math.pi / RING_MODES)
    return RING_RADIUS * torch.stack([angles.cos(), angles.sin()], dim=1)


def _ring(n: int, generator: torch.Generator, noise: bool = True) -> GanData:
    """(n, 2): a uniformly chosen mode plus N(0, RING_STD^2) noise per point (exactly on the modes without noise)."""
    modes = ring_modes()
    which = torch.randint(RING_MODES, (n,), generator=generator)
    points = modes[which] + (RING_STD if noise else 0.0) * torch.randn(n, 2, generator=generator)
    return GanData("toy:ring", "points", (2,), points, modes=modes, mode_std=RING_STD)


# the toy registry: menus and the loader are drawn from it (image sources go to core.data.load)
TOY_DATA: dict[str, ToySpec] = {
    "toy:1010": ToySpec("pattern", "the pattern 1 0 1 0 with a little noise (4 values; the first GAN exercise)",
                        1000, _pattern),
    "toy:ring": ToySpec("points", "2-D points from a ring of 8 Gaussians (mode collapse is easy to see and count)",
                        16384, _ring),
}
assert tuple(TOY_DATA) == TOYS


def _images(source: str, image_size: int, data_opts: dict, generator: torch.Generator) -> GanData:
    """The train split at the run's size, as uint8 pixels (subsampled, seeded, when over MAX_PIXEL_MB)."""
    from core.data import DataError, load

    probe = probe_data(source, image_size, data_opts)
    if probe.error:
        raise DataError(probe.error)
    opts = {k: v for k, v in data_opts.items() if k != "image_size"}
    bundle = load(source, kind="image", image_size=probe.size, **opts)
    train = bundle.splits["train"]
    c, h, w = bundle.input_shape
    keep = len(train)
    budget = MAX_PIXEL_MB * 2**20 // (c * h * w)
    notices = []
    index = torch.arange(keep)
    if keep > budget:
        index = torch.randperm(keep, generator=generator)[:budget].sort().values
        notices.append(f"{keep} training images at {h}x{w} do not fit in {MAX_PIXEL_MB} MB; a random "
                       f"{budget} of them are used")
    pixels = torch.empty((len(index), c, h, w), dtype=torch.uint8)
    for row, i in enumerate(index.tolist()):
        x, _ = train[i]  # float (C, H, W) in [0, 1], decoded from uint8: *255 is exact
        pixels[row] = (x * 255).round().to(torch.uint8)
    targets = torch.as_tensor([train.targets[i] for i in index.tolist()], dtype=torch.long)
    if bundle.skipped:
        notices.append(f"{len(bundle.skipped)} unreadable file(s) skipped (see the Datasets page)")
    return GanData(source, "image", (c, h, w), pixels, classes=list(bundle.classes), targets=targets,
                   notices=notices)
