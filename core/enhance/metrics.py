"""Image quality: PSNR written plainly (on Y or RGB, the border cropped by the scale, as the SR papers do), SSIM from
torchmetrics (tested against scikit-image), and a perceptual distance on EfficientNet-Lite0 features.

>>> psnr(sr, hr, scale=2)          # doctest: +SKIP   dB on the Y channel, 2 px border cropped
"""
from __future__ import annotations

import math

import torch

from core.enhance.data import to_y

SSIM_RADIUS = 5  # the Gaussian window's radius (11 taps): pixels nearer the border are left out of the mean


def prepare(img: torch.Tensor, scale: int, on: str) -> torch.Tensor:
    """What the papers measure: ``img`` (B, 3, H, W) in [0, 1] (or already (B, 1, H, W) Y) as Y when ``on`` is
    'y', with ``scale`` pixels cropped from every border (the upsampler cannot know what lies beyond the edge)."""
    if on == "y" and img.shape[1] == 3:
        img = to_y(img)
    return img[..., scale:-scale, scale:-scale] if scale > 0 else img


def psnr(sr: torch.Tensor, hr: torch.Tensor, scale: int = 0, on: str = "y") -> float:
    """Peak signal-to-noise ratio in dB of ``sr`` against ``hr`` (both in [0, 1]): 10 log10(1 / MSE), the MSE over
    all pixels (and channels) after ``prepare``. Infinite for identical images."""
    a, b = prepare(sr.double(), scale, on), prepare(hr.double(), scale, on)
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def ssim(sr: torch.Tensor, hr: torch.Tensor, scale: int = 0, on: str = "y") -> float:
    """Structural similarity (Wang et al. 2004: Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, data range 1) after
    ``prepare``: torchmetrics' SSIM map averaged over the pixels whose window lies inside the image (as the
    reference MATLAB code and scikit-image do; torchmetrics' own mean also counts the reflect-padded border)."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    a, b = prepare(sr.double(), scale, on), prepare(hr.double(), scale, on)
    _, full = structural_similarity_index_measure(a, b, data_range=1.0, gaussian_kernel=True, sigma=1.5,
                                                  kernel_size=11, return_full_image=True)
    r = SSIM_RADIUS
    return float(full[..., r:-r, r:-r].mean())


def sharpness(img: torch.Tensor) -> float:
    """Mean gradient magnitude of the Y channel (finite differences): how much fine detail an image has."""
    y = to_y(img) if img.shape[1] == 3 else img
    dx, dy = y[..., :, 1:] - y[..., :, :-1], y[..., 1:, :] - y[..., :-1, :]
    return float(dx.abs().mean() + dy.abs().mean())
