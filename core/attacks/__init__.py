"""Adversarial attacks in input units (pixels in [0, 1], waveform samples), batched, on any device.

>>> from core.attacks import fgsm, pgd, minimal_eps, sweep, load_run_target
>>> target = load_run_target("runs/20260101-120000-cnn-digits")              # doctest: +SKIP
>>> x_adv = fgsm(target.model, x, y, 0.1)                                    # doctest: +SKIP
>>> eps, x_adv = minimal_eps(target.model, x)                                # doctest: +SKIP
>>> sweep(target.model, loader, [0, 0.05, 0.1], method="pgd").accuracy       # doctest: +SKIP

Formulas are in core.attacks.methods; the normalisation wrapper (so epsilon is always in pixel units) in
core.attacks.target; audio (waveform attacks, SNR) in core.attacks.audio.
"""
from __future__ import annotations

from core.attacks.audio import eps_for_snr, snr_db
from core.attacks.methods import (METHODS, PIXEL_BOUNDS, PRESETS, WAVE_BOUNDS, AttackMethod, Preset, attack,
                                  attack_method, attack_mode, bim, register_attack,
                                  default_alpha, eps_problems, fgsm, input_gradient, pgd, preset_for,
                                  project)
from core.attacks.minimal import EpsDistribution, distribution, minimal_eps
from core.attacks.sweep import SweepExamples, SweepResult, sweep
from core.attacks.target import (AttackRefused, AttackTarget, PixelModel,
                                 load_pretrained_target, load_run_target, run_problems)

__all__ = ["fgsm", "bim", "pgd", "attack", "minimal_eps", "sweep", "SweepResult", "SweepExamples", "PixelModel",
           "AttackTarget", "AttackRefused", "load_run_target", "load_pretrained_target", "run_problems",
           "snr_db", "eps_for_snr", "distribution", "EpsDistribution", "PRESETS", "Preset",
           "METHODS", "PIXEL_BOUNDS", "WAVE_BOUNDS", "attack_mode", "input_gradient", "project",
           "default_alpha", "eps_problems", "preset_for", "AttackMethod", "attack_method", "register_attack"]
