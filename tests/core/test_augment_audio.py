"""Spectrogram masking (against torchaudio), Griffin-Lim, waveform ops."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchaudio

from core.augment import AugmentError, Pipeline, Step
from core.augment.audio import AUDIO_OPS
from core.augment.spectrogram import (SPEC_OPS, FrequencyMasking, MelSettings, TimeMasking, griffin_lim,
                                      log_mel)

SR = 16000


@pytest.fixture(scope="module")
def tone() -> torch.Tensor:
    t = torch.arange(SR // 2) / SR  # 0.5 s
    return (0.4 * torch.sin(2 * math.pi * 440 * t) + 0.1 * torch.sin(2 * math.pi * 1500 * t)).unsqueeze(0)


@pytest.fixture(scope="module")
def spec(tone) -> torch.Tensor:
    return log_mel(tone)


def test_log_mel_is_a_power_mel_in_db_as_librosa_computes_it(tone, spec):
    """Reference: librosa's mel spectrogram (slaney mel scale and norm off, as torchaudio's defaults) in dB."""
    import librosa

    assert spec.shape == (1, 64, tone.shape[-1] // 160 + 1)
    power = librosa.feature.melspectrogram(y=tone[0].numpy(), sr=SR, n_fft=512, hop_length=160, n_mels=64, fmin=20.0,
                                           fmax=SR / 2, htk=True, norm=None, power=2.0, center=True,
                                           pad_mode="reflect")
    db = 10 * np.log10(power + 1e-10)
    db = np.maximum(db, db.max() - 80.0)
    assert np.allclose(spec[0].numpy(), db, atol=0.05)


@pytest.mark.parametrize("ours, theirs", [(FrequencyMasking, torchaudio.transforms.FrequencyMasking),
                                          (TimeMasking, torchaudio.transforms.TimeMasking)])
@pytest.mark.parametrize("seed", range(5))
def test_single_mask_equals_torchaudio(ours, theirs, seed, spec):
    torch.manual_seed(seed)
    expected = theirs(12)(spec)
    torch.manual_seed(seed)
    assert torch.equal(ours(12, 1, "zero")(spec), expected)


@pytest.mark.parametrize("cls, axis", [(FrequencyMasking, -2), (TimeMasking, -1)])
@pytest.mark.parametrize("max_width, n_masks", [(5, 1), (10, 3), (30, 2)])
def test_masks_have_the_requested_widths(cls, axis, max_width, n_masks, spec):
    for seed in range(10):
        torch.manual_seed(seed)
        op = cls(max_width, n_masks, "mean")
        params = op.make_params(spec)
        assert len(params["bands"]) == n_masks
        assert params["fill"] == pytest.approx(float(spec.mean()))
        out = op.apply(spec, params)
        masked = torch.zeros(spec.shape[axis], dtype=torch.bool)
        for start, end in params["bands"]:
            assert 0 <= end - start < max_width and 0 <= start and end <= spec.shape[axis]
            masked[start:end] = True
        line = out[0, :, 0] if axis == -2 else out[0, 0, :]
        assert torch.equal(line[masked], torch.full((int(masked.sum()),), params["fill"]))
        other = spec[0, :, 0] if axis == -2 else spec[0, 0, :]
        assert torch.equal(line[~masked], other[~masked])


def test_spectrogram_pipeline_records_bands(spec):
    pipe = Pipeline("spectrogram", [Step("FrequencyMasking", {"max_width": 10, "n_masks": 2}),
                                    Step("TimeMasking", {"max_width": 20, "fill": "mean"}, 0.5)])
    draw = pipe.sample(spec, seed=3)
    torch.manual_seed(3)
    assert torch.equal(draw.output, pipe.build()(spec))
    assert len(draw.records[0].params["bands"]) == 2
    assert set(SPEC_OPS) == {"FrequencyMasking", "TimeMasking"}


def test_griffin_lim_has_the_original_length(tone, spec):
    masked = TimeMasking(20, 2)(spec)
    for length in (tone.shape[-1], tone.shape[-1] - 37):
        wave = griffin_lim(masked, length)
        assert wave.shape == (1, length) and torch.isfinite(wave).all()
    # the reconstruction keeps the dominant tone: its spectrum peaks near 440 Hz
    wave = griffin_lim(spec, tone.shape[-1], n_iter=32)
    peak = int(torch.fft.rfft(wave[0]).abs().argmax()) * SR / tone.shape[-1]
    assert abs(peak - 440) < 30


def test_mel_settings_follow_the_sample_rate():
    assert MelSettings(16000).n_fft == 512 and MelSettings(16000).hop_length == 160
    assert MelSettings(22050).n_fft == 1024 and MelSettings(8000).n_fft == 256


@pytest.mark.parametrize("name", sorted(AUDIO_OPS))
def test_waveform_ops_keep_length_and_replay(name, tone):
    pipe = Pipeline("audio", [Step(name, {})], sample_rate=SR)
    draw = pipe.sample(tone, seed=1)
    torch.manual_seed(1)
    again = pipe.build()(tone)
    assert draw.output.shape == tone.shape and torch.allclose(draw.output, again)
    assert draw.records[0].applied and draw.records[0].params


def test_noise_is_added_at_the_drawn_snr(tone):
    op = AUDIO_OPS["AddNoise"].build({"snr_db": (15.0, 15.0)}, 1.0)
    out = op.apply(tone, op.make_params(tone))
    noise = out - tone
    snr = 10 * torch.log10(tone.pow(2).sum() / noise.pow(2).sum())
    assert float(snr) == pytest.approx(15.0, abs=0.01)


def test_gain_and_shift_are_exact(tone):
    gain = AUDIO_OPS["Gain"].build({"gain_db": (-6.0, -6.0)}, 1.0)
    assert torch.allclose(gain.apply(tone, {"gain_db": -6.0}), tone * 10 ** (-6 / 20), atol=1e-6)
    shift = AUDIO_OPS["TimeShift"].build({"max_fraction": 0.1, "wrap": False}, 1.0)
    out = shift.apply(tone, {"shift": 100})
    assert torch.equal(out[:, 100:], tone[:, :-100]) and torch.equal(out[:, :100], torch.zeros(1, 100))


def test_pitch_shift_moves_the_peak(tone):
    op = AUDIO_OPS["PitchShift"].build({"semitones": (12.0, 12.0)}, 1.0, sample_rate=SR)
    out = op.apply(tone, {"semitones": 12.0})
    peak = int(torch.fft.rfft(out[0]).abs().argmax()) * SR / tone.shape[-1]
    assert abs(peak - 880) < 30  # one octave up


def test_audio_params_are_validated():
    with pytest.raises(AugmentError, match="TimeStretch.rate"):
        Pipeline("audio", [Step("TimeStretch", {"rate": [0.0, 1.0]})]).validated()
    with pytest.raises(AugmentError, match="FrequencyMasking.fill must be one of"):
        Pipeline("spectrogram", [Step("FrequencyMasking", {"fill": "noise"})]).validated()


def test_griffin_lim_is_deterministic_and_leaves_the_global_generator_alone(spec, tone):
    state = torch.get_rng_state()
    first = griffin_lim(spec, tone.shape[-1], n_iter=4)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(99)  # whatever the global generator holds, the same reconstruction
    assert torch.equal(griffin_lim(spec, tone.shape[-1], n_iter=4), first)
