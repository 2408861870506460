"""AppTest of the Adversarial page with trained runs injected into a runs root."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.attack_helpers import config_only_run, trained_run

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/6_Adversarial.py")


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory):
    """One trained digits run (and nothing else), made once for the module."""
    runs = tmp_path_factory.mktemp("adv-runs")
    trained_run(runs, steps=60)
    return runs


def _app(monkeypatch, runs: Path) -> AppTest:
    monkeypatch.setenv("DLLAB_RUNS", str(runs))
    return AppTest.from_file(PAGE, default_timeout=90).run()


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _image_captions(at: AppTest) -> list[str]:
    return [i.caption for block in at.get("imgs") for i in block.proto.imgs]


def _verdict(at: AppTest) -> str:
    return next(m.value for m in at.markdown if " at eps " in m.value)


def test_without_runs_says_what_to_do():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    _no_errors(at)
    assert any("No finished runs yet" in i.value for i in at.info)


def test_one_sample_slider_method_target_and_smallest_eps(monkeypatch, shared_runs):
    at = _app(monkeypatch, shared_runs)
    _no_errors(at)
    captions = _image_captions(at)
    assert len(captions) == 12 + 3 and captions[-1] == "Adversarial"  # the validation grid and the three views
    assert at.slider(key="adv-eps-255").value == 76.5  # MNIST-scale preset for 8x8 grey digits: 0.3
    at.slider(key="adv-eps-255").set_value(0.0).run()
    _no_errors(at)
    assert "eps 0 (0/255)" in _verdict(at) and "not fooled" in _verdict(at)
    assert "Perturbation: none (eps 0)" in _image_captions(at)
    at.slider(key="adv-eps-255").set_value(128.0).run()
    strong = _verdict(at)
    assert "eps 0.502 (128/255)" in strong and "fooled ✅" in strong  # half the pixel range fools this small CNN
    at.radio(key="adv-method").set_value("pgd").run()
    _no_errors(at)
    assert at.number_input(key="adv-steps").value == 40  # the preset's steps
    assert "PGD at eps" in _verdict(at)
    at.radio(key="adv-units").set_value("fraction").run()
    at.slider(key="adv-eps-frac").set_value(0.2).run()
    at.radio(key="adv-goal").set_value("a target class").run()
    at.selectbox(key="adv-tclass").set_value(7).run()
    _no_errors(at)
    assert "target 7" in _verdict(at)
    charts = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Before: top classes" in charts and "After: top classes" in charts
    at.button(key="adv-find").click().run()
    _no_errors(at)
    found = [s.value for s in at.success if "Smallest epsilon" in s.value]
    assert found and "/255" in found[0]


def test_impossible_runs_are_refused_with_reasons(monkeypatch, tmp_path):
    runs = tmp_path / "refusals"
    config_only_run(runs, "cnn", "builtin:digits", status="stopped")
    at = _app(monkeypatch, runs)
    _no_errors(at)
    assert any("saved no checkpoint" in e.value for e in at.error)
    config_only_run(runs, "lstm", "builtin:reviews")  # newest: selected first
    at = _app(monkeypatch, runs)
    _no_errors(at)
    assert any("token ids, which are discrete" in e.value for e in at.error)


def test_audio_run_plays_both_clips_and_states_the_snr(monkeypatch, tmp_path):
    runs = tmp_path / "audio"
    trained_run(runs, model="wave_cnn", source="builtin:sounds", steps=2)
    at = _app(monkeypatch, runs)
    _no_errors(at)
    assert len(at.get("audio")) == 2
    assert any("SNR" in m.value and "dB" in m.value for m in at.markdown)
    assert "Waveform and perturbation" in " ".join(c.proto.spec for c in at.get("plotly_chart"))
