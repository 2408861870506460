"""Everything around the GAN loop, as callbacks on its events (``before_fit``, ``after_step``, ``after_epoch``,
``after_fit``): the per-step series into the run store, the stop flag, the progress strip, the collapse meter and
checkpoints. ``loop.step`` is the number of generator steps done; series and snapshots are keyed by it.
"""
from __future__ import annotations

import torch

from core.gan.checkpoint import save_gan
from core.gan.collapse import JUDGE_SAMPLES, SAMPLES, early_steps, judge_verdict, measure_images, measure_pattern, measure_points
from core.gan.latent import generate, zs_from_seeds
from core.gan.snapshots import PREVIEW, save_seeds, write_report, write_snapshot
from core.gan.specs import SERIES
from core.train.callbacks import StopTraining

MEASURE_SEED = 1_000_003  # the collapse meter always measures the same z (so readings are comparable over time)
JUDGE_REAL = 2000  # real images whose judge features the Frechet distance compares against


class Recorder:
    """The per-step series (D losses on real / fake, G loss, D(x), D(G(z))) into ``run.log_scalars``, fetched from
    the device every ``every`` steps; per-epoch means into ``run.log_epoch``; the loop's notices as notes."""

    order = 10

    def __init__(self, run, every: int = 10):
        self.run, self.every = run, max(1, every)
        self._pending: list[tuple[int, int, torch.Tensor]] = []
        self._noted = 0

    def before_fit(self, loop):
        self.run.set_plan(steps_per_epoch=loop.steps_per_epoch, total_steps=loop.total_steps)
        self._notes(loop)

    def after_step(self, loop):
        self._pending.append((loop.step, loop.epochs_done, loop.stats))
        if len(self._pending) >= self.every:
            self._flush(loop)

    def after_epoch(self, loop):
        self._flush(loop)
        self.run.log_epoch(loop.history[-1]["epoch"], {k: v for k, v in loop.history[-1].items() if k != "epoch"})
        self._notes(loop)

    def after_fit(self, loop):
        pending, self._pending = self._pending, []
        self._write(pending, loop)
        self._notes(loop)
        self.run.flush()

    def _flush(self, loop):
        pending, self._pending = self._pending, []
        rows = self._write(pending, loop)
        for row in rows:
            loop._check_finite(row)

    def _write(self, pending, loop) -> list[list[float]]:
        if not pending:
            return []
        rows = torch.stack([p[2] for p in pending]).cpu().tolist()  # one transfer for ``every`` steps
        for (step, epoch, _), row in zip(pending, rows):
            self.run.log_scalars(step, dict(zip(SERIES, row)))
            self.run.log_step(step - 1, epoch, row[2], loop.config.lr_g)  # G loss: the runs table's last loss
        step = pending[-1][0]
        self.run.set_progress(step, loop.total_steps, f"generator step {step} of {loop.total_steps}")
        return rows

    def _notes(self, loop):
        for message in loop.notices[self._noted:]:
            self.run.note(message)
        self._noted = len(loop.notices)


class StopFlag:
    """Stop after the current step when a stop was requested (Stop button, SIGTERM, the time limit); it runs after
    the other callbacks, so the step it stops after is recorded like any other."""

    order = 100

    def __init__(self, run):
        self.run = run

    def after_step(self, loop):
        if self.run.stop_requested():
            raise StopTraining("stopped on request", status="stopped")


def preview_count(config, kind: str, constant: bool) -> int:
    """Fixed seeds per snapshot: the config's, else the kind's default (1 when the input is constant)."""
    return 1 if constant else (config.preview or PREVIEW[kind])


class Snapshots:
    """The generator's output for fixed seeds (stored with the run) before training and every ``every`` steps."""

    order = 20

    def __init__(self, run_dir, every: int):
        self.run_dir, self.every, self._last = run_dir, max(1, every), None

    def before_fit(self, loop):
        n = preview_count(loop.config, loop.data.kind, loop.constant_input)
        seeds = list(range(n))
        z = zs_from_seeds(seeds, loop.latent_dim)
        save_seeds(self.run_dir, seeds, z)
        self.z = torch.full_like(z, 0.5) if loop.constant_input else z
        self._shoot(loop)

    def after_step(self, loop):
        if loop.step % self.every == 0:
            self._shoot(loop)

    def after_fit(self, loop):
        if self._last != loop.step and loop.status != "failed":
            self._shoot(loop)

    def _shoot(self, loop):
        write_snapshot(self.run_dir, loop.step, loop.data.kind, generate(loop.g, self.z))
        self._last = loop.step


class CollapseMeter:
    """Measures collapse every ``every`` steps on the same z (see core.gan.collapse), with the judge when the
    config names one; the report goes to ``loop.report``, the run directory and the run's scalars."""

    order = 30

    def __init__(self, run, every: int):
        self.run, self.every, self._last = run, max(1, every), None
        self.judge = self.metric = None

    def before_fit(self, loop):
        kind, cfg = loop.data.kind, loop.config
        n = JUDGE_SAMPLES if cfg.judge else SAMPLES[kind]
        z_gen = torch.Generator().manual_seed(MEASURE_SEED)
        self.z = torch.randn(n, loop.latent_dim, generator=z_gen)
        if loop.constant_input:
            self.z = torch.full((SAMPLES[kind], loop.latent_dim), 0.5)
        self.real = loop.data.sample(SAMPLES[kind], torch.Generator().manual_seed(MEASURE_SEED)) \
            if kind in ("image", "points") else None
        if cfg.judge:
            from core.gan.judge import Judge, frechet_metric

            self.judge = Judge.load(cfg.judge).to(loop.device)
            real = loop.data.sample(JUDGE_REAL, torch.Generator().manual_seed(MEASURE_SEED)).to(loop.device)
            self.metric = frechet_metric(self.judge, real).to(loop.device)
        self._measure(loop)

    def after_step(self, loop):
        if loop.step % self.every == 0:
            self._measure(loop)

    def after_fit(self, loop):
        if self._last != loop.step and loop.status != "failed":
            self._measure(loop)

    def _measure(self, loop):
        out = generate(loop.g, self.z)
        kind = loop.data.kind
        if kind == "points":
            report = measure_points(out, loop.data.modes, loop.data.mode_std, loop.step, self.real)
        elif kind == "pattern":
            report = measure_pattern(out, loop.step)
        else:
            judged = out.to(loop.device) if self.judge is not None else None
            report = measure_images(out[: SAMPLES[kind]], self.real, loop.step, self.judge, self.metric, judged)
        previous = loop.report.score if getattr(loop, "report", None) is not None else None
        judge_verdict(report, loop.config.improvements(), loop.config.lr_g, early_steps(loop.total_steps), previous)
        loop.report, self._last = report, loop.step
        write_report(self.run.run_dir, report)
        self.run.log_scalars(loop.step, report.scalars())


class Checkpoints:
    """Both networks and optimizers into ``checkpoints/last.pt`` every ``every`` steps, at each epoch's end and
    at the end (not after a failure: the last good checkpoint stays)."""

    order = 40

    def __init__(self, directory, every: int):
        self.directory, self.every, self._last = directory, max(1, every), None

    def after_step(self, loop):
        if loop.step % self.every == 0:
            self._save(loop)

    def after_epoch(self, loop):
        self._save(loop)

    def after_fit(self, loop):
        if loop.status != "failed" and self._last != loop.step and loop.step > 0:
            self._save(loop)

    def _save(self, loop):
        loop.last_checkpoint = str(save_gan(loop, self.directory))
        self._last = loop.step


def default_callbacks(config, run) -> list:
    """The callbacks every recorded GAN run gets, from its config."""
    every = config.collapse_every or config.snapshot_every
    return [StopFlag(run), Recorder(run, config.log_every), Snapshots(run.run_dir, config.snapshot_every),
            CollapseMeter(run, every), Checkpoints(run.checkpoint_dir, config.checkpoint_every)]
