"""Audio attacks: the waveform is perturbed (epsilon in waveform units, full scale = 1); how loud the perturbation
is compared to the clip is its signal-to-noise ratio.

    SNR_dB = 10 * log10( sum(x^2) / sum((x_adv - x)^2) )

Spectrogram models take the waveform through their own differentiable log-mel front end (``features_of``), so the
same ``fgsm`` / ``pgd`` calls work on them unchanged; see core.attacks.target.
"""
from __future__ import annotations

import math

import torch


def snr_db(x: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor:
    """Per clip (first axis) SNR in dB of the perturbation ``x_adv - x`` against the clean ``x``; inf when the
    perturbation is zero.

    >>> float(snr_db(torch.ones(1, 4), torch.ones(1, 4) * 1.1))   # 10 log10(4 / 0.04) = 20 dB
    20.0...
    """
    x, noise = x.detach().double(), (x_adv - x).detach().double()
    signal = x.flatten(1).pow(2).sum(1)
    power = noise.flatten(1).pow(2).sum(1)
    return torch.where(power > 0, 10 * torch.log10(signal / power.clamp_min(1e-300)), math.inf)


def eps_for_snr(x: torch.Tensor, snr: float) -> float:
    """The eps of a sign perturbation (every sample moved by +-eps) that gives ``snr`` dB on clip ``x``: the
    perturbation's power per sample is eps^2, so eps = rms(x) / 10^(snr / 20). A guide for choosing eps."""
    rms = float(x.detach().double().pow(2).mean().sqrt())
    return rms / 10 ** (snr / 20)
