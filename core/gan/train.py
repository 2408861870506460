"""GAN training: ``fit(config, callbacks)`` -> ``GanResult``, recorded in the run store (kind "gan").

Each generator step follows the three steps of the teaching material, each network with its own optimizer:

1. the discriminator on a real batch, target 1 (its optimizer steps);
2. the discriminator on a generated batch, target 0 -- the fakes are made under ``no_grad``, so the generator gets
   no gradient and is not updated (its optimizer does not step);
3. the generator through the discriminator, target 1 -- the discriminator's parameters are frozen for this step
   and its optimizer does not step, so it is not updated.

Steps 1-2 run ``d_steps`` (k) times, each on a fresh real batch, before each step 3. Everything around this --
recording, the progress strip, the collapse meter, checkpoints, the stop flag -- is a callback
(core.gan.callbacks). Randomness comes only from explicit ``torch.Generator`` objects seeded from ``config.seed``.
"""
from __future__ import annotations

import time
from typing import Callable

import torch
from torch.nn import functional as F

from core.device import pick_device
from core.gan.checkpoint import load_gan_checkpoint
from core.gan.config import GanConfig, GanResult
from core.gan.data import GanData, load_gan_data
from core.gan.models import build_gan, latent_dim
from core.gan.specs import SERIES
from core.train.callbacks import StopTraining, finish_callbacks

EVENTS = ("before_fit", "after_step", "after_epoch", "after_fit")


def gan_loss(name: str):
    """loss(logits, target) on the discriminator's logits: BCE on the logits, or MSE on D = sigmoid(logits)."""
    if name == "bce":
        return F.binary_cross_entropy_with_logits
    return lambda logits, target: F.mse_loss(torch.sigmoid(logits), target)


def make_optimizer(params, config: GanConfig, lr: float) -> torch.optim.Optimizer:
    """Adam(lr, betas) or SGD(lr, momentum), as the config's optimizer switch says."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(config.betas))
    return torch.optim.SGD(params, lr=lr, momentum=config.momentum)


class GanLoop:
    """The state of one GAN run, shared with the callbacks (they read it; a callback stops it by raising
    ``StopTraining``)."""

    def __init__(self, config: GanConfig, data: GanData, device: torch.device, callbacks=(), seed_offset: int = 0):
        self.config, self.data, self.device = config, data, device
        self.callbacks = sorted(callbacks, key=lambda cb: getattr(cb, "order", 0))
        self.latent_dim = latent_dim(config, data.kind)
        self.constant_input = data.kind == "pattern" and not config.noise_input  # toy:1010: G gets 0.5
        self.g, self.d = build_gan(config, data.kind, data.sample_shape,
                                   torch.Generator().manual_seed(config.seed + seed_offset))
        self.g.to(device)
        self.d.to(device)
        self.g_opt = make_optimizer(self.g.parameters(), config, config.lr_g)
        self.d_opt = make_optimizer(self.d.parameters(), config, config.lr_d)
        self.criterion = gan_loss(config.loss)
        self.data_gen = torch.Generator().manual_seed(config.seed + 1)  # order of the real batches
        self.z_gen = torch.Generator(device=device).manual_seed(config.seed + 2)  # z of the training steps
        batches = len(data) // config.batch_size
        self.steps_per_epoch = batches // config.d_steps
        total = config.epochs * self.steps_per_epoch
        self.total_steps = min(total, config.max_steps) if config.max_steps else total
        self.step = self.epochs_done = self.start_epoch = 0
        # the epoch in progress: batches done in it, the data order's random state at its start and its sums so far
        # (saved in checkpoints, so a run stopped mid-epoch resumes at the next batch of the same order)
        self.epoch_step, self.epoch_rng = 0, None
        self.epoch_sums = torch.zeros(len(SERIES), device=device)
        self.history, self.notices = [], list(data.notices)
        self.status, self.error, self.stop_reason = "running", None, None
        self.report = None  # the latest CollapseReport (set by the collapse meter)
        self.last_checkpoint = None
        self.stats = torch.zeros(len(SERIES), device=device)  # the last step's values (on the device)
        self._ones = torch.ones(config.batch_size, device=device)
        self._zeros = torch.zeros(config.batch_size, device=device)

    def __call__(self, event: str) -> None:
        """Run ``event`` on every callback that has it, in ``order``."""
        for cb in self.callbacks:
            fn = getattr(cb, event, None)
            if fn is not None:
                fn(self)

    # ---- the three steps ------------------------------------------------------------------------------------
    def z(self, n: int) -> torch.Tensor:
        """Generator input for ``n`` samples (B, latent): N(0, I) from the loop's z generator (or 0.5 constant)."""
        if self.constant_input:
            return torch.full((n, self.latent_dim), 0.5, device=self.device)
        return torch.randn(n, self.latent_dim, generator=self.z_gen, device=self.device)

    def d_step_real(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Step 1: the discriminator on real data with target 1. Returns (loss, mean D(x)), detached."""
        self.d_opt.zero_grad(set_to_none=True)
        logits = self.d(real)
        loss = self.criterion(logits, self._ones[: len(real)])
        loss.backward()
        self.d_opt.step()
        return loss.detach(), torch.sigmoid(logits.detach()).mean()

    def d_step_fake(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Step 2: the discriminator on generated data with target 0; the generator is not updated."""
        with torch.no_grad():
            fake = self.g(self.z(n))  # no graph back into G: it gets no gradient from this step
        self.d_opt.zero_grad(set_to_none=True)
        logits = self.d(fake)
        loss = self.criterion(logits, self._zeros[:n])
        loss.backward()
        self.d_opt.step()
        return loss.detach(), torch.sigmoid(logits.detach()).mean()

    def g_step(self, n: int) -> torch.Tensor:
        """Step 3: the generator through the discriminator with target 1; the discriminator is not updated."""
        self.d.requires_grad_(False)  # D's parameters get no gradient; only G's optimizer steps
        try:
            self.g_opt.zero_grad(set_to_none=True)
            loss = self.criterion(self.d(self.g(self.z(n))), self._ones[:n])
            loss.backward()
            self.g_opt.step()
        finally:
            self.d.requires_grad_(True)
        return loss.detach()

    def train_step(self, reals: list[torch.Tensor]) -> torch.Tensor:
        """k discriminator steps (one per real batch in ``reals``) then one generator step; returns the step's
        series (5,) on the device: mean D losses on real and fake, G loss, mean D(x), mean D(G(z))."""
        d = torch.zeros(4, device=self.device)
        for real in reals:
            loss_real, d_real = self.d_step_real(real)
            loss_fake, d_fake = self.d_step_fake(len(real))
            d += torch.stack([loss_real, loss_fake, d_real, d_fake])
        d /= len(reals)
        g_loss = self.g_step(len(reals[-1]))
        return torch.stack([d[0], d[1], g_loss, d[2], d[3]])

    # ---- the loop -------------------------------------------------------------------------------------------
    def fit(self) -> None:
        """Train for the configured epochs / steps; sets ``status`` ('finished', 'stopped', 'failed')."""
        try:
            self("before_fit")
            for epoch in range(self.start_epoch, self.config.epochs):
                if self._limit_reached():
                    break
                means = self._epoch()
                complete = self.epoch_step >= self.steps_per_epoch  # else the step limit ended it part-way
                if complete:  # a part epoch is recorded, but not done: a resume finishes it
                    self.epoch_step = 0
                    self.epochs_done = epoch + 1
                self.history.append({"epoch": epoch, **means, **(self.report.scalars() if self.report else {})})
                self("after_epoch")
                if not complete:
                    break
            self.status = "finished"
            if self._limit_reached() and self.config.max_steps:
                self.stop_reason = f"step limit reached ({self.config.max_steps} steps)"
        except StopTraining as stop:
            self.status, self.stop_reason = stop.status, stop.reason
            self.error = stop.reason if stop.status == "failed" else None
        except BaseException:
            self.status = "failed"
            finish_callbacks(self, raise_errors=False)
            raise
        finish_callbacks(self, raise_errors=True)

    def _limit_reached(self) -> bool:
        return bool(self.config.max_steps) and self.step >= self.config.max_steps

    def _epoch(self) -> dict[str, float]:
        """One pass over the real data in shuffled batches, from batch ``epoch_step`` on (0, or where a resumed run
        stopped); returns the epoch's mean of each series."""
        self.g.train()
        self.d.train()
        bs, k = self.config.batch_size, self.config.d_steps
        if self.epoch_step == 0:
            self.epoch_rng = self.data_gen.get_state()
            self.epoch_sums = torch.zeros(len(SERIES), device=self.device)
        order = torch.randperm(len(self.data), generator=self.data_gen)
        batches = order[: self.steps_per_epoch * k * bs].view(self.steps_per_epoch, k, bs)  # (steps, k, B)
        for index in batches[self.epoch_step:]:
            if self._limit_reached():
                break
            reals = [self.data.batch(i).to(self.device, non_blocking=True) for i in index]
            self.stats = self.train_step(reals)
            self.epoch_sums += self.stats
            self.epoch_step += 1
            self.step += 1
            self("after_step")
        means = (self.epoch_sums / max(self.epoch_step, 1)).tolist()
        self._check_finite(means)
        return dict(zip(SERIES, means))

    def _check_finite(self, values) -> None:
        if not all(v == v and abs(v) != float("inf") for v in values):
            raise StopTraining(
                f"a loss became NaN/infinite by step {self.step}: the networks' weights are no longer usable. "
                "Try lower learning rates, BCE instead of MSE, or Adam instead of SGD.", status="failed")


def _resume(loop: GanLoop, where: str) -> None:
    """Load both networks, optimizers, random states and counters from the last checkpoint of ``where``."""
    ckpt = load_gan_checkpoint(where, map_location=loop.device)
    old = ckpt["config"]
    for name, mine in (("model", loop.config.model), ("data", loop.config.data)):
        if old.get(name) != mine:
            raise ValueError(f"the checkpoint in {where} is for {name} {old.get(name)!r}, not {mine!r}")
    if list(ckpt["sample_shape"]) != list(loop.data.sample_shape) or ckpt["latent_dim"] != loop.latent_dim:
        raise ValueError(f"the checkpoint in {where} was made for another sample shape or latent size")
    loop.g.load_state_dict(ckpt["generator"])
    loop.d.load_state_dict(ckpt["discriminator"])
    loop.g_opt.load_state_dict(ckpt["g_optimizer"])
    loop.d_opt.load_state_dict(ckpt["d_optimizer"])
    loop.data_gen.set_state(ckpt["rng"]["data"].cpu())
    loop.z_gen.set_state(ckpt["rng"]["z"].cpu())
    loop.step, loop.epochs_done = int(ckpt["step"]), int(ckpt["epoch"])
    loop.start_epoch = loop.epochs_done
    if int(ckpt.get("epoch_step", 0)) > 0:  # stopped mid-epoch: the same order again, from the next batch
        loop.epoch_step = int(ckpt["epoch_step"])
        loop.data_gen.set_state(ckpt["rng"]["data_epoch"].cpu())
        loop.epoch_sums = ckpt["epoch_sums"].to(loop.device)
    loop.notices.append(f"resumed from {where} after {loop.step} steps ({loop.epochs_done} epochs)")


def fit(config: GanConfig, callbacks=(), *, run=None, data: GanData | None = None,
        on_result: Callable[[GanResult], None] | None = None) -> GanResult:
    """Train a GAN on ``config.data``, recording into a run directory; returns a ``GanResult``.

    ``run``: a RunStore already created (the worker's job store); otherwise one is created under
    ``config.runs_dir``. ``data``: real data to use instead of loading ``config.data`` (tests). ``on_result``:
    called with the result just before the run's final status is written (the job writes its result.json there).
    A crash records status 'failed' with the error and re-raises; a NaN loss returns status 'failed' with advice.

    >>> fit(GanConfig(data="toy:ring", max_steps=50)).status                 # doctest: +SKIP
    'finished'
    """
    from core.gan.callbacks import default_callbacks

    start = time.time()
    run = run if run is not None else _create_run(config)
    try:
        config.check()
        device = pick_device(config.device)
        if data is None:
            data = load_gan_data(config.data, samples=config.samples, image_size=config.image_size,
                                 data_opts=config.data_opts, generator=torch.Generator().manual_seed(config.seed + 3))
        if len(data) < config.batch_size * config.d_steps:
            raise ValueError(f"batch size {config.batch_size} x {config.d_steps} discriminator step(s) needs "
                             f"{config.batch_size * config.d_steps} real samples per step, but the data has "
                             f"{len(data)}")
        loop = GanLoop(config, data, device, default_callbacks(config, run) + list(callbacks))
        if config.resume_from:
            _resume(loop, config.resume_from)
        run.set_status("running")
        loop.fit()
        result = _result(loop, run, start)
        if on_result is not None:  # before the final status: a reader that sees 'finished' finds the result
            on_result(result)
        run.set_status(loop.status, error=loop.error)
        return result
    except KeyboardInterrupt:
        run.set_status("stopped", error="interrupted from the keyboard")
        raise
    except BaseException as err:
        run.set_status("failed", error=f"{type(err).__name__}: {err}")
        raise


def _create_run(config: GanConfig):
    from core.settings import load_settings
    from core.train.store import RunStore

    return RunStore.create(config.runs_dir or load_settings().runs_dir, config.to_dict(), kind="gan")


def _result(loop: GanLoop, run, start: float) -> GanResult:
    return GanResult(run_dir=str(run.run_dir), status=loop.status, steps=loop.step, epochs_done=loop.epochs_done,
                     history=loop.history, collapse=loop.report.to_dict() if loop.report else None,
                     error=loop.error, stop_reason=loop.stop_reason, notices=list(loop.notices),
                     last_checkpoint=loop.last_checkpoint, seconds=time.time() - start)
