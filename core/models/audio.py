"""Audio classifiers: a 1-D CNN on raw waveforms and 2-D CNNs on log-mel spectrograms.

Spectrogram models accept either a waveform ``(B, 1, N)`` (features are computed by their ``frontend``) or the
log-mel features ``(B, 1, n_mels, T)`` themselves; the trainer feeds features cached once per clip
(``core.models.features.CachedFeatures``) so they are not recomputed every epoch.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torchaudio
from torch import nn

from core.models.image import ResNet18Transfer


@dataclass(frozen=True)
class MelSettings:
    """The log-mel front end of the spectrogram models (and of the Augment page's spectrograms)."""

    sample_rate: int = 16000  # Hz of the waveform
    n_mels: int = 64  # mel bands (rows of the spectrogram)
    top_db: float = 80.0  # dynamic range kept below the loudest bin

    @property
    def n_fft(self) -> int:
        """The next power of two >= 25 ms of samples (at least 64): 512 at 16 kHz."""
        return 1 << max(6, round(0.025 * self.sample_rate - 1).bit_length())

    @property
    def hop_length(self) -> int:
        """10 ms of samples (at least 1)."""
        return max(1, self.sample_rate // 100)

    def mel_kwargs(self) -> dict:
        """torchaudio ``MelSpectrogram`` keywords besides n_fft / hop (no more mel bands than FFT bins)."""
        return {"sample_rate": self.sample_rate, "n_mels": min(self.n_mels, self.n_fft // 2 + 1), "f_min": 20.0,
                "f_max": self.sample_rate / 2}


class LogMel(nn.Module):
    """Waveform (B, 1, N) -> log-mel spectrogram in dB (B, 1, n_mels, T), as ``MelSettings`` says."""

    def __init__(self, sample_rate: int = 16000, n_mels: int = 64, top_db: float = 80.0):
        super().__init__()
        settings = MelSettings(sample_rate, n_mels, top_db)
        self.mel = torchaudio.transforms.MelSpectrogram(n_fft=settings.n_fft, hop_length=settings.hop_length,
                                                        **settings.mel_kwargs())
        self.to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=top_db)

    def forward(self, wave):
        return self.to_db(self.mel(wave) + 1e-10)


class WaveCNN(nn.Module):
    """1-D CNN on raw audio in the spirit of "very deep CNNs for raw waveforms" (M5): a wide strided first
    convolution, then conv / batch-norm / ReLU / max-pool stages, global average pooling and a linear head."""

    def __init__(self, num_classes: int, sample_rate: int = 16000, num_samples: int = 16000,
                 width: int = 32, dropout: float = 0.2):
        super().__init__()
        first = max(8, sample_rate // 200)  # 5 ms receptive field for the first convolution
        chans = (width, width, 2 * width, 2 * width)
        self.stage1 = self._stage(1, chans[0], first, stride=max(1, first // 4), pool=4)
        self.stage2 = self._stage(chans[0], chans[1], 3, 1, pool=4)
        self.stage3 = self._stage(chans[1], chans[2], 3, 1, pool=4)
        self.stage4 = self._stage(chans[2], chans[3], 3, 1, pool=1)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten())  # (B, C, T) -> (B, C)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(chans[3], num_classes))

    @staticmethod
    def _stage(cin, cout, kernel, stride, pool):
        layers = [nn.Conv1d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
                  nn.BatchNorm1d(cout), nn.ReLU(inplace=True)]
        return nn.Sequential(*layers, nn.MaxPool1d(pool, ceil_mode=True)) if pool > 1 else nn.Sequential(*layers)

    def forward(self, x):  # (B, 1, N)
        x = self.stage4(self.stage3(self.stage2(self.stage1(x))))
        return self.head(self.pool(x))

    def layer_groups(self):
        return [[self.stage1, self.stage2, self.stage3], [self.stage4], [self.pool, self.head]]


def _block2d(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True))


class _SpectrogramInput(nn.Module):
    """Shared by spectrogram models: a ``frontend`` turning waveforms into log-mel features when needed."""

    def _setup_frontend(self, sample_rate: int, n_mels: int):
        self.frontend = LogMel(sample_rate, n_mels)
        self.input_features = "logmel"  # tells the trainer to cache frontend(x) per clip

    def features_of(self, x):
        """Waveforms (B, 1, N) become log-mel (B, 1, n_mels, T); features pass through unchanged."""
        return self.frontend(x) if x.dim() == 3 else x


class MelCNN(_SpectrogramInput):
    """2-D CNN on log-mel spectrograms: input batch-norm, four conv blocks, global pooling, linear head."""

    def __init__(self, num_classes: int, sample_rate: int = 16000, num_samples: int = 16000, n_mels: int = 64,
                 width: int = 16, dropout: float = 0.3):
        super().__init__()
        self._setup_frontend(sample_rate, n_mels)
        self.input_norm = nn.BatchNorm2d(1)  # dB values are far from unit scale; learn the shift and scale
        self.features = nn.Sequential(_block2d(1, width), _block2d(width, 2 * width),
                                      _block2d(2 * width, 4 * width), _block2d(4 * width, 4 * width))
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())  # (B, C, m, t) -> (B, C)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * width, num_classes))

    def forward(self, x):
        x = self.input_norm(self.features_of(x))
        return self.head(self.pool(self.features(x)))

    def layer_groups(self):
        return [[self.frontend, self.input_norm, *self.features[:-1]], [self.features[-1]], [self.pool, self.head]]


class MelResNet18(_SpectrogramInput):
    """resnet18 (ImageNet weights when available) on 1-channel log-mel spectrograms."""

    def __init__(self, num_classes: int, sample_rate: int = 16000, num_samples: int = 16000, n_mels: int = 64,
                 weights: str | None = "auto", dropout: float = 0.3):
        super().__init__()
        self._setup_frontend(sample_rate, n_mels)
        self.input_norm = nn.BatchNorm2d(1)
        self.net = ResNet18Transfer(num_classes, input_shape=(1, n_mels, 100), weights=weights, dropout=dropout)
        self.net.normalize = nn.Identity()  # input_norm already standardises the dB values
        self.notice, self.pretrained = self.net.notice, self.net.pretrained

    def forward(self, x):
        return self.net(self.input_norm(self.features_of(x)))

    def layer_groups(self):
        groups = self.net.layer_groups()
        return [[self.frontend, self.input_norm, *groups[0]], *groups[1:]]


@torch.no_grad()
def logmel_of(model: nn.Module, waves: torch.Tensor) -> torch.Tensor:
    """Features a spectrogram model computes for waveforms (B, 1, N), without tracking gradients."""
    return model.features_of(waves)
