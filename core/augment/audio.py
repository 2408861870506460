"""Waveform augmentations on (1, N) float tensors: noise at an SNR, gain, time shift, pitch shift, time stretch.

Each op draws its parameters in ``make_params(wave, generator)`` (from that ``torch.Generator``, or torch's global
one when None, so a seed replays a draw and the page can show it) and applies them in ``apply`` with torchaudio /
librosa. Every op keeps the clip length, because the Dataset's clips have a fixed length.
"""
from __future__ import annotations

import librosa
import numpy as np
import torch
import torchaudio.functional as AF

from core.augment.specs import OpSpec, ParamSpec as P, summary_line


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return float(torch.empty(1).uniform_(low, high, generator=generator)) if high > low else float(low)


def _fit_length(wave: np.ndarray, n: int) -> np.ndarray:
    """Crop or zero-pad the last axis to ``n`` samples."""
    if wave.shape[-1] >= n:
        return wave[..., :n]
    return np.pad(wave, [(0, 0)] * (wave.ndim - 1) + [(0, n - wave.shape[-1])])


class AddNoise:
    """White noise at a signal-to-noise ratio drawn from ``snr_db`` (torchaudio.functional.add_noise)."""

    def __init__(self, snr_db=(10.0, 30.0), sample_rate: int = 16000):
        self.snr_db = tuple(snr_db)

    def make_params(self, wave: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        return {"snr_db": _uniform(*self.snr_db, generator), "noise": torch.randn(wave.shape, generator=generator)}

    def apply(self, wave: torch.Tensor, params: dict) -> torch.Tensor:
        if float(wave.pow(2).sum()) == 0.0:
            return wave  # silence has no SNR; leave it
        snr = torch.full(wave.shape[:-1], params["snr_db"])
        return AF.add_noise(wave, params["noise"].to(wave), snr)


class Gain:
    """Louder or quieter by a gain in dB drawn from ``gain_db`` (torchaudio.functional.gain), clipped to [-1, 1]."""

    def __init__(self, gain_db=(-6.0, 6.0), sample_rate: int = 16000):
        self.gain_db = tuple(gain_db)

    def make_params(self, wave: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        return {"gain_db": _uniform(*self.gain_db, generator)}

    def apply(self, wave: torch.Tensor, params: dict) -> torch.Tensor:
        return AF.gain(wave, params["gain_db"]).clamp(-1, 1)


class TimeShift:
    """Shift in time by up to ``max_fraction`` of the clip either way; wrap around or fill with silence."""

    def __init__(self, max_fraction: float = 0.1, wrap: bool = False, sample_rate: int = 16000):
        self.max_fraction, self.wrap = max_fraction, wrap

    def make_params(self, wave: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        limit = int(self.max_fraction * wave.shape[-1])
        return {"shift": int(torch.randint(-limit, limit + 1, (), generator=generator))}  # samples; > 0 = later

    def apply(self, wave: torch.Tensor, params: dict) -> torch.Tensor:
        shift = params["shift"]
        out = torch.roll(wave, shift, dims=-1)
        if not self.wrap and shift > 0:
            out[..., :shift] = 0
        elif not self.wrap and shift < 0:
            out[..., shift:] = 0
        return out


class PitchShift:
    """Raise or lower the pitch by semitones drawn from ``semitones``, keeping the duration (librosa)."""

    def __init__(self, semitones=(-2.0, 2.0), sample_rate: int = 16000):
        self.semitones, self.sample_rate = tuple(semitones), sample_rate

    def make_params(self, wave: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        return {"semitones": _uniform(*self.semitones, generator)}

    def apply(self, wave: torch.Tensor, params: dict) -> torch.Tensor:
        y = librosa.effects.pitch_shift(wave.cpu().numpy(), sr=self.sample_rate, n_steps=params["semitones"])
        return torch.from_numpy(_fit_length(y, wave.shape[-1]).astype(np.float32)).to(wave.device)


class TimeStretch:
    """Speed up or slow down by a rate drawn from ``rate`` without changing pitch (librosa), then crop/pad."""

    def __init__(self, rate=(0.8, 1.25), sample_rate: int = 16000):
        self.rate = tuple(rate)

    def make_params(self, wave: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        return {"rate": _uniform(*self.rate, generator)}

    def apply(self, wave: torch.Tensor, params: dict) -> torch.Tensor:
        y = librosa.effects.time_stretch(wave.cpu().numpy(), rate=params["rate"])
        return torch.from_numpy(_fit_length(y, wave.shape[-1]).astype(np.float32)).to(wave.device)


def _entry(cls: type, params: tuple, default_p: float = 1.0) -> OpSpec:
    return OpSpec(cls.__name__, summary_line(cls), params,
                  lambda params, p, **ctx: cls(**params, sample_rate=ctx.get("sample_rate", 16000)),
                  default_p=default_p)


AUDIO_OPS: dict[str, OpSpec] = {op.name: op for op in [
    _entry(AddNoise, (P("snr_db", "range", (10.0, 30.0), -10, 80, "signal-to-noise ratio in dB (lower = noisier)"),)),
    _entry(Gain, (P("gain_db", "range", (-6.0, 6.0), -40, 40, "gain in dB"),)),
    _entry(TimeShift, (P("max_fraction", "float", 0.1, 0, 0.5, "largest shift as a fraction of the clip"),
                       P("wrap", "bool", False, help="wrap around instead of filling with silence"))),
    _entry(PitchShift, (P("semitones", "range", (-2.0, 2.0), -12, 12, "pitch change in semitones"),), 0.5),
    _entry(TimeStretch, (P("rate", "range", (0.8, 1.25), 0.25, 4, "speed factor (> 1 = faster)",
                           strictly_positive=True),), 0.5),
]}
