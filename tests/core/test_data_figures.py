"""Figure builders draw exactly what the summaries say (no computing of their own)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from core.data import load
from core.data.features import mel_view
from ui import data_figures as figs
from ui.data_ui import wav_bytes


def test_image_figures_follow_the_summary():
    s = load("builtin:shapes").summary()
    balance = figs.class_balance(s)
    assert [t.name for t in balance.data] == list(s["counts"])
    assert list(balance.data[0].y) == list(s["counts"]["train"].values())
    sizes = figs.image_sizes(s)
    assert sum(len(t.x) for t in sizes.data) == sum(len(d["sizes"]) for d in s["images"].values())


def test_text_figures_follow_the_summary():
    s = load("builtin:reviews").summary()
    assert sum(figs.token_lengths(s).data[0].y) == s["total"]
    curve = figs.vocab_curve(s)
    assert len(curve.data) == 3 and list(curve.data[0].y) == [p["vocab_size"] for p in s["vocab_curve"]]
    assert len(figs.top_tokens(s).data) == len(s["classes"])


def test_audio_figures_and_a_tone_in_its_mel_band():
    s = load("builtin:sounds").summary()
    assert sum(sum(t.y) for t in figs.durations(s).data) == s["total"]
    assert sum(figs.sample_rates(s).data[0].y) == s["total"]
    rate = 16000
    tone = torch.sin(2 * torch.pi * 1000 * torch.arange(rate) / rate)
    view = mel_view(tone, rate)
    assert view.mel.shape == view.log_mel.shape == (64, rate // 256 + 1)
    assert abs(view.mel_hz[view.mel[:, 10].argmax()] - 1000) < 60  # the 1 kHz tone lands in the 1 kHz band
    heat = figs.spectrogram(view.log_mel, view.hop_seconds, view.mel_hz, "log-mel", "dB")
    assert np.asarray(heat.data[0].z).shape == (64, rate // 256 + 1)
    stops = heat.data[0].colorscale  # explicit stops: a named scale was redrawn wrongly in the served app
    assert stops[0] == (0.0, "rgb(68, 1, 84)") and stops[-1] == (1.0, "rgb(253, 231, 37)")
    assert len(figs.waveform(tone.numpy(), rate, max_points=1000).data[0].x) <= 1001


def test_durations_chart_is_not_empty_when_every_clip_is_equally_long():
    s = {"durations": {"min": 1.0, "max": 1.0}, "clip_seconds": 1.0,
         "durations_by_class": {"beep": [1.0, 1.0, 1.0], "hum": [1.0, 1.0]}}
    bars = figs.durations(s).data
    assert [list(b.y) for b in bars] == [[3], [2]]  # one bar per class, every clip counted
    assert bars[0].width[0] == pytest.approx(0.01) and bars[0].x[0] == pytest.approx(1.0)


def test_wav_bytes_keep_the_true_level_and_survive_silence(tmp_path):
    quiet = 0.1 * np.sin(np.linspace(0, 100, 8000)).astype(np.float32)
    (tmp_path / "q.wav").write_bytes(wav_bytes(quiet, 8000))
    back, rate = sf.read(tmp_path / "q.wav", dtype="float32")
    assert rate == 8000 and np.abs(back - quiet).max() < 1e-3
    assert len(wav_bytes(np.zeros(100), 8000)) > 44


def test_mel_view_matches_librosa():
    import librosa

    rate = 16000
    x = np.random.RandomState(0).randn(rate).astype(np.float32) * 0.1
    view = mel_view(torch.from_numpy(x), rate)
    ref = librosa.feature.melspectrogram(y=x, sr=rate, n_fft=1024, hop_length=256, n_mels=64, htk=True, norm=None,
                                         pad_mode="reflect", power=2.0)
    assert np.abs(view.mel - ref).max() <= 1e-4 * ref.max()
    ref_db = librosa.power_to_db(ref, ref=1.0, amin=1e-10, top_db=80.0)
    assert np.abs(view.log_mel - ref_db).max() < 1e-3
