"""Super-resolution training: ``fit(config)`` -> ``EnhanceResult``, recorded in the run store (kind "enhance").

Each step draws fresh random pairs (core.enhance.data), and

1. with a critic: the critic on real high-resolution crops (target real) and on the upsampler's output made under
   ``no_grad`` (target fake), its optimizer steps (the GAN page's first two steps);
2. the upsampler: pixel loss (+ perceptual) (+ adversarial through the critic, whose parameters are frozen).

Every ``eval_every`` steps: PSNR of the model and of bicubic on fixed held-out crops (series ``psnr``,
``psnr_bicubic``), and the strip (``strip/step_NNNNNNN.png``: bicubic, model, original of the same fixed crops).
At the end: checkpoint, and the whole held-out images measured and written (``heldout/NAME_model.png`` ...).
"""
from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import Callable

import torch

from core.device import pick_device
from core.enhance.apply import LAST, evaluate_images
from core.jobs.job import write_json
from core.enhance.config import EnhanceConfig, EnhanceResult
from core.enhance.data import SRImages, downscale, fixed_crops, load_images, random_pairs, to_y, upscale
from core.enhance.losses import Critic, LiteFeatures, critic_losses, generator_adversarial, perceptual_distance
from core.enhance.losses import pixel_loss
from core.enhance.metrics import psnr
from core.enhance.models import build_model, parameters, run_model

STRIP_DIR, HELD_DIR, EVAL_NAME = "strip", "heldout", "evaluation.json"
STRIP_CROPS, STRIP_SIDE = 3, 96  # the strip: 3 fixed held-out crops of 96 x 96 high-resolution pixels
_STRIP_NAME = re.compile(r"step_(\d{7})\.png$")


def cosine_lr(lr: float, step: int, total: int, floor: float = 0.01) -> float:
    """The learning rate at ``step`` of ``total``: from ``lr`` down to ``lr * floor`` along half a cosine."""
    t = min(1.0, step / max(1, total))
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


class EnhanceLoop:
    """The state of one run: networks, optimizers, generators, counters."""

    def __init__(self, config: EnhanceConfig, images: SRImages, device: torch.device, need_features: bool):
        self.config, self.images, self.device = config, images, device
        c = 1 if config.channels == "y" else 3
        self.model = build_model(config.model, config.scale, c, torch.Generator().manual_seed(config.seed)).to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.critic = self.critic_opt = None
        if config.critic != "none":
            self.critic = Critic(c).to(device)
            self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=config.lr_critic, betas=(0.9, 0.999))
        self.features = LiteFeatures().to(device) if need_features else None
        self.crop_gen = torch.Generator().manual_seed(config.seed + 1)
        self.step = 0
        side = min([STRIP_SIDE] + [min(img.shape[-2:]) for img in images.held_out[:STRIP_CROPS]])
        side -= side % config.scale  # smaller held-out images: smaller crops
        self.strip_hr = fixed_crops(images.held_out, side, STRIP_CROPS)  # (k, 3, side, side)
        self.notices: list[str] = []

    def pairs(self):
        cfg = self.config
        lr, hr = random_pairs(self.images.train, cfg.batch_size, cfg.patch, cfg.scale, self.crop_gen, cfg.channels)
        return lr.to(self.device), hr.to(self.device)

    def train_step(self, lr: torch.Tensor, hr: torch.Tensor) -> dict[str, torch.Tensor]:
        """One step (critic first when there is one, then the upsampler); returns the step's losses, detached."""
        cfg, out = self.config, {}
        for group in self.opt.param_groups:
            group["lr"] = cosine_lr(cfg.lr, self.step, cfg.total_steps)
        self.model.train()
        if self.critic is not None:
            with torch.no_grad():
                fake = self.model(lr)
            self.critic_opt.zero_grad(set_to_none=True)
            loss_c = critic_losses(cfg.critic, self.critic(hr), self.critic(fake))
            loss_c.backward()
            self.critic_opt.step()
            out["critic_loss"] = loss_c.detach()
        self.opt.zero_grad(set_to_none=True)
        sr = self.model(lr)
        loss = pix = pixel_loss(cfg.pixel_loss, sr, hr)
        out["pixel_loss"] = pix.detach()
        if cfg.perceptual_weight > 0:
            perc = perceptual_distance(self.features, sr, hr)
            loss = loss + cfg.perceptual_weight * perc
            out["perceptual_loss"] = perc.detach()
        if self.critic is not None:
            self.critic.requires_grad_(False)  # the critic is not updated by the upsampler's step
            try:
                with torch.no_grad():
                    real_logits = self.critic(hr)
                adv = generator_adversarial(cfg.critic, real_logits, self.critic(sr))
            finally:
                self.critic.requires_grad_(True)
            loss = loss + cfg.adversarial_weight * adv
            out["adversarial_loss"] = adv.detach()
        loss.backward()
        self.opt.step()
        out["loss"] = loss.detach()
        return out

    @torch.no_grad()
    def measure(self) -> tuple[dict[str, float], torch.Tensor | None]:
        """PSNR (Y, border cropped) of the model and bicubic on the strip's fixed crops; and the strip image
        (3 rows: bicubic, model, original; one column per crop) as (3, 3*side, k*side)."""
        from core.enhance.apply import enhance

        if not len(self.strip_hr):
            return {}, None
        self.model.eval()
        s, hr = self.config.scale, self.strip_hr
        lr = downscale(hr, s)
        cpu_model = self.model.to("cpu")
        sr = torch.cat([enhance(cpu_model, self.config, lr[i:i + 1]) for i in range(len(lr))])
        self.model.to(self.device)
        bic = upscale(lr, s)
        values = {"psnr": psnr(sr, hr, s), "psnr_bicubic": psnr(bic, hr, s)}
        rows = [torch.cat(list(t), dim=2) for t in (bic, sr, hr)]  # each (3, side, k*side)
        return values, torch.cat(rows, dim=1)


def strip_path(run_dir, step: int) -> Path:
    return Path(run_dir) / STRIP_DIR / f"step_{step:07d}.png"


def list_strips(run_dir) -> list[tuple[int, Path]]:
    """(step, path) of the strip images written so far, in step order."""
    folder = Path(run_dir) / STRIP_DIR
    found = [(int(m.group(1)), p) for p in folder.glob("step_*.png") if (m := _STRIP_NAME.search(p.name))]
    return sorted(found)


def _write_strip(run_dir, step: int, strip: torch.Tensor) -> None:
    from PIL import Image

    path = strip_path(run_dir, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name)
    Image.fromarray(strip.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()).save(tmp, format="PNG")
    os.replace(tmp, path)


def _save(loop: EnhanceLoop, run_dir) -> Path:
    from core.train.checkpoint import save_checkpoint

    state = {"upsampler": loop.model.state_dict(), "optimizer": loop.opt.state_dict(),
             "critic": loop.critic.state_dict() if loop.critic is not None else None,
             "critic_optimizer": loop.critic_opt.state_dict() if loop.critic_opt is not None else None,
             "config": loop.config.to_dict(), "step": int(loop.step), "crop_rng": loop.crop_gen.get_state(),
             "model_name": loop.config.model, "parameters": parameters(loop.model)}
    return save_checkpoint(state, Path(run_dir) / "checkpoints" / LAST)


def _resume(loop: EnhanceLoop, where: str) -> None:
    path = Path(where) / "checkpoints" / LAST
    ckpt = torch.load(path, map_location=loop.device, weights_only=True)
    old = ckpt["config"]
    for name in ("model", "scale", "channels", "critic"):
        if old.get(name) != getattr(loop.config, name):
            raise ValueError(f"the checkpoint in {Path(where).name} is for {name} {old.get(name)!r}, "
                             f"not {getattr(loop.config, name)!r}")
    loop.model.load_state_dict(ckpt["upsampler"])
    loop.opt.load_state_dict(ckpt["optimizer"])
    if loop.critic is not None and ckpt.get("critic") is not None:
        loop.critic.load_state_dict(ckpt["critic"])
        loop.critic_opt.load_state_dict(ckpt["critic_optimizer"])
    loop.crop_gen.set_state(ckpt["crop_rng"].cpu())
    loop.step = int(ckpt["step"])
    loop.notices.append(f"resumed from {Path(where).name} after {loop.step} steps")


def fit(config: EnhanceConfig, *, run=None, progress: Callable[[int, int, str], None] | None = None,
        on_result: Callable[[EnhanceResult], None] | None = None, images: SRImages | None = None) -> EnhanceResult:
    """Train an upsampler on ``config.data``, recording into ``run`` (a RunStore; created under ``runs_dir`` when
    None); returns an ``EnhanceResult``. ``progress(done, total, text)`` is called every step (a job's
    ``progress``: it raises ``JobStopped`` on a stop request; the checkpoint is written before that passes on).
    ``images``: use these instead of loading ``config.data`` (tests).

    >>> fit(EnhanceConfig(max_steps=20)).status             # doctest: +SKIP
    'finished'
    """
    start = time.time()
    config.check()
    run = run if run is not None else _create_run(config)
    device = pick_device(config.device)
    images = images if images is not None else load_images(config.data)
    loop = EnhanceLoop(config, images, device, need_features=config.perceptual_weight > 0)
    if config.resume_from:
        _resume(loop, config.resume_from)
    for name, reason in images.skipped:
        loop.notices.append(f"skipped {name}: {reason}")
    for n in loop.notices:
        run.note(n)
    total = config.total_steps
    run.set_plan(steps_per_epoch=config.steps_per_epoch, total_steps=total)
    run.set_status("running")
    status, reason = "finished", None
    try:
        while loop.step < total:
            if loop.step % config.eval_every == 0:
                _record_eval(loop, run)
            stats = loop.train_step(*loop.pairs())
            loop.step += 1
            run.log_scalars(loop.step, stats)
            if loop.step % config.steps_per_epoch == 0:
                run.log_epoch(loop.step // config.steps_per_epoch - 1, {k: float(v) for k, v in stats.items()})
            if loop.step % config.checkpoint_every == 0:
                _save(loop, run.run_dir)
            if progress is not None:
                progress(loop.step, total, f"step {loop.step} of {total}")
    except BaseException as err:
        _save(loop, run.run_dir)  # a stop keeps what was learnt; resume continues from here
        run.flush()
        if type(err).__name__ == "JobStopped":
            raise
        run.set_status("failed", error=f"{type(err).__name__}: {err}")
        raise
    _record_eval(loop, run)
    _save(loop, run.run_dir)
    features = loop.features
    if features is None and config.perceptual_eval:
        features = LiteFeatures()
    report = evaluate_images(loop.model.cpu().eval(), config, images.held_out, images.held_names, features,
                             save_dir=Path(run.run_dir) / HELD_DIR, source=images.source)
    write_json(Path(run.run_dir) / EVAL_NAME, report.to_dict())  # the page's comparisons read it
    result = EnhanceResult(str(run.run_dir), status, loop.step, time.time() - start, report.to_dict(), reason,
                           loop.notices)
    run.flush()
    if on_result is not None:
        on_result(result)
    run.set_status(status)
    return result


def _record_eval(loop: EnhanceLoop, run) -> None:
    values, strip = loop.measure()
    if values:
        run.log_scalars(loop.step, values)
        _write_strip(run.run_dir, loop.step, strip)


def _create_run(config: EnhanceConfig):
    from core.settings import load_settings
    from core.train.store import RunStore

    return RunStore.create(config.runs_dir or load_settings().runs_dir, config.to_dict(), kind="enhance")


def read_result(run_dir) -> EnhanceResult | None:
    """The result a finished run wrote (``result.json``), or None."""
    path = Path(run_dir) / "result.json"
    return EnhanceResult.from_dict(json.loads(path.read_text())) if path.is_file() else None
