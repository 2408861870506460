"""Spectrogram augmentation (SpecAugment masking) on log-mel features, and Griffin-Lim to listen to the result.

The log-mel settings are the spectrogram models' front end's (core.models.audio.MelSettings: 25 ms windows, 10 ms
hop, power mel in dB), so what the page shows is what the model sees. Masks are drawn exactly as torchaudio's
``FrequencyMasking`` / ``TimeMasking`` draw them (same formula, same random calls), but the drawn bands are recorded.
"""
from __future__ import annotations

import torch
import torchaudio

from core.augment.specs import OpSpec, ParamSpec as P, summary_line
from core.models.audio import LogMel, MelSettings  # the models' front end: what is shown here is what the model sees


def log_mel(wave: torch.Tensor, settings: MelSettings = MelSettings()) -> torch.Tensor:
    """Waveform (1, N) -> log-mel power in dB (1, n_mels, T): the spectrogram models' own front end."""
    return LogMel(settings.sample_rate, settings.n_mels, settings.top_db)(wave)


def griffin_lim(log_mel_db: torch.Tensor, length: int, settings: MelSettings = MelSettings(),
                n_iter: int = 32) -> torch.Tensor:
    """Log-mel in dB (1, n_mels, T) -> a waveform (1, length) whose spectrogram approximates it.

    Inverts the mel filter bank (torchaudio ``InverseMelScale``, least squares) and recovers a phase with
    ``GriffinLim``; masked bands come out as what the mask value means in dB (0 dB = power 1). The phase search
    starts from zero phase, not a random one: the result is the same every time and draws no random numbers.
    """
    power = torch.pow(10.0, log_mel_db / 10.0)  # dB -> power
    kw = settings.mel_kwargs()
    inverse = torchaudio.transforms.InverseMelScale(n_stft=settings.n_fft // 2 + 1, n_mels=kw["n_mels"],
                                                    sample_rate=kw["sample_rate"], f_min=kw["f_min"],
                                                    f_max=kw["f_max"])
    linear = inverse(power).clamp_min(0)  # (1, n_mels, T) -> (1, n_fft // 2 + 1, T)
    gl = torchaudio.transforms.GriffinLim(n_fft=settings.n_fft, hop_length=settings.hop_length, power=2.0,
                                          n_iter=n_iter, rand_init=False)
    wave = gl(linear)  # (1, (T - 1) * hop): then cropped or zero-padded to the clip's length
    wave = torch.nn.functional.pad(wave, (0, max(0, length - wave.shape[-1])))[..., :length]
    return wave / wave.abs().max().clamp_min(1e-8) * 0.9  # avoid clipping when played


class _Masking:
    """``n_masks`` bands along ``axis`` (-2 frequency, -1 time), each of width drawn from [0, max_width)."""

    axis = -1

    def __init__(self, max_width: int = 10, n_masks: int = 1, fill: str = "zero"):
        self.max_width, self.n_masks, self.fill = int(max_width), int(n_masks), fill

    def make_params(self, spec: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        size = spec.shape[self.axis]
        bands = []
        for _ in range(self.n_masks):  # torchaudio.functional.mask_along_axis's draws, in its order
            width = torch.rand(1, generator=generator) * self.max_width
            start = torch.rand(1, generator=generator) * (size - width)
            bands.append((int(start.long()), int(start.long() + width.long())))  # [start, end)
        return {"bands": bands, "fill": float(spec.mean()) if self.fill == "mean" else 0.0}

    def apply(self, spec: torch.Tensor, params: dict) -> torch.Tensor:
        index = torch.arange(spec.shape[self.axis], device=spec.device)
        mask = torch.zeros(spec.shape[self.axis], dtype=torch.bool, device=spec.device)
        for start, end in params["bands"]:
            mask |= (index >= start) & (index < end)
        mask = mask.unsqueeze(-1) if self.axis == -2 else mask  # broadcast over the other axis
        return spec.masked_fill(mask, params["fill"])

    def __call__(self, spec: torch.Tensor) -> torch.Tensor:
        return self.apply(spec, self.make_params(spec))


class FrequencyMasking(_Masking):
    """Blank horizontal bands (mel bins) of a (..., n_mels, T) spectrogram."""

    axis = -2


class TimeMasking(_Masking):
    """Blank vertical bands (frames) of a (..., n_mels, T) spectrogram."""

    axis = -1


def _mask_params(what: str, default_width: int) -> tuple:
    return (P("max_width", "int", default_width, 1, 200, f"widest band of {what} (width drawn from [0, max_width))"),
            P("n_masks", "int", 1, 1, 10, "how many bands"),
            P("fill", "choice", "zero", help="masked value: 0 dB, or the spectrogram's mean", choices=("zero", "mean")))


def _masking_entry(cls: type, what: str, default_width: int) -> OpSpec:
    return OpSpec(cls.__name__, summary_line(cls), _mask_params(what, default_width),
                  lambda params, p, **ctx: cls(**params))


SPEC_OPS: dict[str, OpSpec] = {op.name: op for op in [
    _masking_entry(FrequencyMasking, "mel bins", 8),
    _masking_entry(TimeMasking, "frames (10 ms each)", 20),
]}
