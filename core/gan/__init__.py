"""GANs: train one on toy or image data (``fit``), watch for mode collapse, then walk its latent space.

>>> from core.gan import GanConfig, fit, interpolate, combine, z_from_seed
>>> result = fit(GanConfig(data="toy:ring", max_steps=200))                # doctest: +SKIP
>>> path = interpolate(z_from_seed(1, 8), z_from_seed(2, 8), 16)          # (16, 8), slerp by default

Parts: ``config`` (GanConfig, GanResult, ideal loss lines), ``data`` (toy:1010, toy:ring, image sources),
``models`` (MLP GAN, DCGANs; the four switches), ``train`` (the three steps per batch) with ``callbacks``
(recording, progress strip, collapse meter, checkpoints), ``collapse`` and ``judge`` (is it collapsing?),
``latent`` (seeds, lerp / slerp, arithmetic, seed books), ``render`` (grids, PNG, GIF).
"""
from __future__ import annotations

import importlib

from core.gan.config import (ACTIVATIONS, IDEAL_D, IDEAL_LOSS, LOSSES, OPTIMIZERS, TOYS, GanConfig, GanResult,
                             ideal_lines)
from core.gan.latent import (Combination, SeedBook, combine, generate, interpolate, lerp, slerp, typical_norm,
                             z_from_seed, zs_from_seeds)

# names resolved on first use, so `import core.gan` stays light
_LAZY = {"fit": "core.gan.train", "SERIES": "core.gan.train", "load_generator": "core.gan.checkpoint",
         "probe_data": "core.gan.data", "load_gan_data": "core.gan.data", "data_names": "core.gan.data",
         "names": "core.gan.models", "build_gan": "core.gan.models", "recommended": "core.gan.presets",
         "PRESETS": "core.gan.presets", "CollapseReport": "core.gan.collapse", "Judge": "core.gan.judge"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'core.gan' has no attribute {name!r}")


__all__ = ["GanConfig", "GanResult", "ideal_lines", "IDEAL_LOSS", "IDEAL_D", "LOSSES", "ACTIVATIONS", "OPTIMIZERS",
           "TOYS", "interpolate", "combine", "lerp", "slerp", "typical_norm", "z_from_seed", "zs_from_seeds",
           "Combination", "SeedBook", "generate", *_LAZY]
