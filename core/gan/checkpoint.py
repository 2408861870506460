"""GAN checkpoints: both networks' and both optimizers' state_dicts plus what is needed to rebuild them, as plain
values loadable with ``torch.load(path, weights_only=True)``.

>>> g, info = load_generator("runs/20260101-120000-dcgan-digits")       # doctest: +SKIP
>>> g(z_from_seed(3, info.latent_dim)[None]).shape                       # doctest: +SKIP
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from core.gan.config import GanConfig
from core.train.checkpoint import find_checkpoint, save_checkpoint

LAST = "last.pt"


def gan_state(loop) -> dict:
    """Everything worth saving about a GAN loop's state, as weights_only-loadable values."""
    state = {
        "generator": loop.g.state_dict(), "discriminator": loop.d.state_dict(),
        "g_optimizer": loop.g_opt.state_dict(), "d_optimizer": loop.d_opt.state_dict(),
        "config": loop.config.to_dict(), "kind": loop.data.kind, "sample_shape": list(loop.data.sample_shape),
        "latent_dim": int(loop.latent_dim), "classes": list(loop.data.classes), "step": int(loop.step),
        "epoch": int(loop.epochs_done), "rng": {"data": loop.data_gen.get_state(), "z": loop.z_gen.get_state()},
    }
    if loop.epoch_step:  # mid-epoch: where in which order, so a resume takes the next batch of the same order
        state.update(epoch_step=int(loop.epoch_step), epoch_sums=loop.epoch_sums.detach().cpu())
        state["rng"]["data_epoch"] = loop.epoch_rng
    return state


def save_gan(loop, directory: str | os.PathLike) -> Path:
    """Write ``directory/last.pt`` atomically; returns its path."""
    return save_checkpoint(gan_state(loop), Path(directory) / LAST)


def load_gan_checkpoint(where: str | os.PathLike, map_location="cpu") -> dict:
    """A GAN checkpoint (a file, or a run directory's ``checkpoints/last.pt``), loaded with ``weights_only=True``."""
    ckpt = torch.load(find_checkpoint(where, LAST), map_location=map_location, weights_only=True)
    if "generator" not in ckpt:
        raise ValueError(f"{where} is not a GAN checkpoint (no generator in it)")
    return ckpt


@dataclass
class GeneratorInfo:
    """What comes with a loaded generator: how to feed it and what it makes."""

    run: str  # the run's directory name
    config: GanConfig  # the run's config
    kind: str  # 'pattern' | 'points' | 'image'
    sample_shape: tuple  # one output
    latent_dim: int  # size of z
    classes: list[str]  # images: the data's classes
    step: int  # generator steps the weights have had
    constant_input: bool  # toy:1010 without noise: the generator always gets 0.5, seeds change nothing


def load_generator(where: str | os.PathLike, map_location="cpu"):
    """(generator network in eval mode, ``GeneratorInfo``) from a GAN run directory or checkpoint file."""
    from core.gan.models import build_gan

    ckpt = load_gan_checkpoint(where, map_location)
    config = GanConfig.from_dict(ckpt["config"])
    g, _ = build_gan(config, ckpt["kind"], tuple(ckpt["sample_shape"]))
    g.load_state_dict(ckpt["generator"])
    run = Path(where).name if Path(where).is_dir() else Path(where).parent.parent.name
    info = GeneratorInfo(run, config, ckpt["kind"], tuple(ckpt["sample_shape"]), int(ckpt["latent_dim"]),
                         list(ckpt.get("classes") or []), int(ckpt["step"]),
                         ckpt["kind"] == "pattern" and not config.noise_input)
    return g.eval(), info


def generator_input(info: GeneratorInfo, z: torch.Tensor) -> torch.Tensor:
    """What the generator is fed for latent vectors ``z`` (N, latent): z itself, or 0.5 for the constant-input toy."""
    return torch.full_like(z, 0.5) if info.constant_input else z
