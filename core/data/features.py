"""Spectrograms for looking at audio (the Datasets page): mel power and log-mel, via torchaudio."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchaudio.transforms as T


@dataclass
class MelView:
    """A clip's mel spectrogram, ready to draw."""

    mel: np.ndarray  # (n_mels, frames) power
    log_mel: np.ndarray  # (n_mels, frames) decibels, top 80 dB kept
    hop_seconds: float  # time between frames
    mel_hz: np.ndarray  # (n_mels,) centre frequency of each mel band


def mel_view(wave: torch.Tensor, sample_rate: int, n_mels: int = 64, n_fft: int = 1024, hop: int = 256) -> MelView:
    """Mel and log-mel spectrograms of a mono waveform (N,) or (1, N).

    >>> mel_view(torch.zeros(16000), 16000).mel.shape
    (64, 63)
    """
    wave = wave.reshape(-1).float()
    with torch.no_grad():
        mel = T.MelSpectrogram(sample_rate, n_fft=n_fft, hop_length=hop, n_mels=n_mels)(wave)  # (N,) -> (M, F)
        log_mel = T.AmplitudeToDB("power", top_db=80.0)(mel)
    edges = T.MelScale(n_mels, sample_rate, n_stft=n_fft // 2 + 1).fb  # (n_freqs, n_mels) filter bank
    freqs = torch.linspace(0, sample_rate / 2, edges.shape[0])
    centres = (edges * freqs[:, None]).sum(0) / edges.sum(0).clamp_min(1e-12)
    return MelView(mel.numpy(), log_mel.numpy(), hop / sample_rate, centres.numpy())
