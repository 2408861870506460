"""Starting points the page and the CLI pre-fill: the plain GAN of the teaching material and the improved one, per
data source (lengths and learning rates that work on the built-in data; bench/bench_gan.py checks the outcomes).

>>> recommended("toy:ring", preset="plain").optimizer
'sgd'
"""
from __future__ import annotations

from core.gan.config import GanConfig

# the four switches: all off (the plain GAN) or all on (its four improvements)
PRESETS = {
    "plain": dict(loss="mse", activation="sigmoid", layer_norm=False, optimizer="sgd", lr_g=0.01, lr_d=0.01),
    "improved": dict(loss="bce", activation="leaky_relu", layer_norm=True, optimizer="adam", lr_g=1e-4, lr_d=1e-4),
}
# per data source: how long and how big (any model)
DATA_DEFAULTS = {
    "toy:1010": dict(batch_size=1, epochs=10, snapshot_every=500, checkpoint_every=2000, log_every=50),
    "toy:ring": dict(batch_size=256, epochs=80, samples=16384, snapshot_every=250, checkpoint_every=1000,
                     log_every=20),
}
# per data source and preset: learning rates found in bench runs (ring: 1e-4 too slow, 1e-3 collapses; 1010: at
# 1e-4 with batch 1 the discriminator wins and the generator is still 0.4 off the pattern after 10000 steps)
TUNED = {"toy:ring": {"improved": dict(lr_g=2e-4, lr_d=2e-4)}, "toy:1010": {"improved": dict(lr_g=1e-3, lr_d=1e-3)}}
IMAGE_DEFAULTS = dict(batch_size=32, epochs=60, snapshot_every=200, checkpoint_every=500)


def recommended(data: str = "toy:ring", model: str = "mlp", preset: str = "improved", **overrides) -> GanConfig:
    """A config for ``data`` and ``model`` with the ``preset`` switches ('plain' | 'improved'); a model with a recipe
    of its own (the DCGANs: Adam 2e-4, betas (0.5, 0.999), batch-norm) uses it as its 'improved' preset."""
    from core.gan.models import spec

    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, not {preset!r}")
    switches = dict(PRESETS[preset])
    if preset == "improved":
        switches.update(spec(model).defaults)
    sizes = DATA_DEFAULTS.get(data, IMAGE_DEFAULTS)
    tuned = TUNED.get(data, {}).get(preset, {})
    return GanConfig(data=data, model=model, **{**sizes, **switches, **tuned, **overrides})
