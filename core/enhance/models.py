"""The upsamplers, in a registry: low-resolution (B, C, h, w) in [0, 1] -> high-resolution (B, C, h*s, w*s).

Adding a model is one entry in ``MODELS``: its constructor ``(scale, channels) -> nn.Module`` and a description
that says what it is, its parameters and its receptive field (in low-resolution pixels).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


class BookUpsampler(nn.Module):
    """The book's super-resolution network, as it has it: an encoder of strided convolutions (8x8 stride 4, then
    two 2x2) and a mirrored decoder of transposed convolutions, the last one strided so the output is ``scale``
    times the input. Kernel sizes that the strides do not divide evenly in the decoder leave the checkerboard
    pattern the chapter warns about. Inputs are padded to a multiple of 4 (``multiple``) and the output cropped.
    """

    multiple = 4  # the encoder divides by 4

    def __init__(self, scale: int = 2, channels: int = 3):
        super().__init__()
        self.scale = scale
        self.features = nn.Sequential(  # (B, C, h, w) -> (B, 256, h/4 + 6, w/4 + 6)
            nn.Conv2d(channels, 64, kernel_size=8, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.Conv2d(64, 192, kernel_size=2, padding=2), nn.ReLU(inplace=True),
            nn.Conv2d(192, 256, kernel_size=2, padding=2), nn.ReLU(inplace=True))
        self.upsample = nn.Sequential(  # -> (B, 64, h/4, w/4) -> (B, C, h*s, w*s)
            nn.ConvTranspose2d(256, 192, kernel_size=2, padding=2), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(192, 64, kernel_size=2, padding=2), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(64, channels, kernel_size=6 * scale, stride=4 * scale, padding=scale))

    def forward(self, x):
        return self.upsample(self.features(x))


class SRCNN(nn.Module):
    """SRCNN (Dong et al. 2014), the 9-5-5 variant: bicubic upsampling first, then three convolutions at the high
    resolution (patch extraction 9x9 -> 64, non-linear mapping 5x5 -> 32, reconstruction 5x5 -> C). The network
    predicts the residual over bicubic (as VDSR does), which trains in minutes instead of days."""

    multiple = 1

    def __init__(self, scale: int = 2, channels: int = 3):
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(nn.Conv2d(channels, 64, 9, padding=4), nn.ReLU(inplace=True),
                                  nn.Conv2d(64, 32, 5, padding=2), nn.ReLU(inplace=True),
                                  nn.Conv2d(32, channels, 5, padding=2))
        self.residual_out = self.body[-1]

    def forward(self, x):
        up = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)  # (B,C,h,w)->(B,C,hs,ws)
        return up + self.body(up)


class ESPCN(nn.Module):
    """ESPCN (Shi et al. 2016): convolutions at the low resolution (5x5 -> 64, 3x3 -> 32, 3x3 -> C*s^2, tanh between
    them as the paper has it) and a sub-pixel convolution, ``nn.PixelShuffle(s)``, which rearranges C*s^2 channels
    into an s-times larger image. Predicts the residual over bicubic (so a few minutes of CPU training suffice)."""

    multiple = 1

    def __init__(self, scale: int = 2, channels: int = 3):
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(nn.Conv2d(channels, 64, 5, padding=2), nn.Tanh(),
                                  nn.Conv2d(64, 32, 3, padding=1), nn.Tanh(),
                                  nn.Conv2d(32, channels * scale * scale, 3, padding=1))
        self.shuffle = nn.PixelShuffle(scale)  # (B, C*s*s, h, w) -> (B, C, h*s, w*s)
        self.residual_out = self.body[-1]

    def forward(self, x):
        up = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return up + self.shuffle(self.body(x))


class ResizeConv(nn.Module):
    """Resize-then-convolve (Odena et al. 2016, "Deconvolution and checkerboard artifacts"): features at the low
    resolution (5x5 -> 64), nearest-neighbour upsampling, then convolutions (3x3 -> 32, 3x3 -> C). Every output
    pixel sees the same number of kernel taps, so no checkerboard. Predicts the residual over bicubic."""

    multiple = 1

    def __init__(self, scale: int = 2, channels: int = 3):
        super().__init__()
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(channels, 64, 5, padding=2), nn.ReLU(inplace=True))
        self.tail = nn.Sequential(nn.Upsample(scale_factor=scale, mode="nearest"),
                                  nn.Conv2d(64, 32, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(32, channels, 3, padding=1))
        self.residual_out = self.tail[-1]

    def forward(self, x):
        up = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return up + self.tail(self.head(x))


@dataclass(frozen=True)
class ModelEntry:
    build: Callable[[int, int], nn.Module]  # (scale, channels) -> module
    label: str  # for menus
    about: str  # what it is, its receptive field


MODELS: dict[str, ModelEntry] = {
    "book": ModelEntry(BookUpsampler, "The book's upsampler (strided conv + transposed conv)",
                       "encoder 8x8/4, 2x2, 2x2; decoder of transposed convolutions; receptive field about 28 low-res "
                       "pixels (16 in the encoder); shows checkerboard artefacts"),
    "srcnn": ModelEntry(SRCNN, "SRCNN (bicubic, then 3 convolutions)",
                        "9-5-5 convolutions at the high resolution; receptive field 17 high-res pixels "
                        "(17/s low-res)"),
    "espcn": ModelEntry(ESPCN, "ESPCN (sub-pixel convolution, PixelShuffle)",
                        "5-3-3 convolutions at the low resolution, then PixelShuffle; receptive field 9 low-res "
                        "pixels; the fastest"),
    "resize_conv": ModelEntry(ResizeConv, "Resize-then-convolve (the checkerboard fix)",
                              "5x5 at the low resolution, nearest upsampling, 3-3 at the high resolution; "
                              "receptive field 5 + 4/s low-res pixels"),
}


def names() -> list[str]:
    """The registered model names, in menu order."""
    return list(MODELS)


def build_model(name: str, scale: int, channels: int, generator: torch.Generator | None = None) -> nn.Module:
    """The model ``name`` for ``scale`` and ``channels`` (1 for Y, 3 for RGB); its weights drawn from ``generator``
    (PyTorch's default initialisation, replayed on an explicit generator) so runs are reproducible."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    model = MODELS[name].build(scale, channels)
    if generator is not None:
        for module in model.modules():  # uniform(+-1/sqrt(fan_in)) for weight and bias: PyTorch's default bound
            weight = getattr(module, "weight", None)
            if isinstance(weight, torch.Tensor) and weight.dim() > 1:
                bound = 1.0 / weight[0].numel() ** 0.5  # fan_in as torch computes it (also for transposed convs)
                with torch.no_grad():
                    for p in (weight, getattr(module, "bias", None)):
                        if p is not None:
                            p.copy_(torch.rand(p.shape, generator=generator) * 2 * bound - bound)
        last = getattr(model, "residual_out", None)
        if last is not None:  # the residual starts at zero: the untrained model is exactly bicubic
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
    model.model_name = name
    return model


def parameters(model: nn.Module) -> int:
    """The number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def run_model(model: nn.Module, lr: torch.Tensor) -> torch.Tensor:
    """``model(lr)`` for any input size: padded (reflect) to the model's ``multiple`` and the output cropped back;
    (B, C, h, w) -> (B, C, h*s, w*s)."""
    m, s = getattr(model, "multiple", 1), model.scale
    h, w = lr.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    if ph or pw:
        lr = F.pad(lr, (0, pw, 0, ph), mode="replicate")
    return model(lr)[..., : h * s, : w * s]
