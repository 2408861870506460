"""Adversarial training in the one training loop: it raises PGD accuracy on a toy problem, records the robust
accuracy per epoch, is refused where it cannot work, and is reachable from the command line."""
from __future__ import annotations

import json

import pytest
import torch

from core.__main__ import main
from core.models import build_for
from core.train import TrainConfig
from core.train.adversarial import AdversarialConfig, adversarial_problems, robust_accuracy
from core.train.loop import fit
from core.train.store import RunStore
from core.train.synthetic import synthetic_bundle

EPS = 0.15
_OPTS = {"hidden": [32]}


def _train(tmp_path, adversarial):
    bundle = synthetic_bundle("image", n=256, classes=2, seed=0)
    cfg = TrainConfig(model="mlp", model_opts=_OPTS, epochs=4, batch_size=32, lr=3e-3, stats_every=0,
                      tensorboard=False, augment_preset=False, adversarial=adversarial, runs_dir=str(tmp_path))
    result = fit(cfg, bundle=bundle)
    model = build_for(bundle, "mlp", **_OPTS)
    model.load_state_dict(torch.load(result.last_checkpoint, weights_only=True)["model"])
    return result, model.eval(), bundle


def test_adversarial_training_raises_pgd_accuracy(tmp_path):
    plain, plain_model, bundle = _train(tmp_path, None)
    adv, adv_model, _ = _train(tmp_path, {"method": "fgsm", "eps": EPS, "alpha": 1.25 * EPS, "random_start": True})
    val = bundle.splits["val"]
    plain_robust = robust_accuracy(plain_model, val, EPS, steps=10)
    adv_robust = robust_accuracy(adv_model, val, EPS, steps=10)
    assert plain.history[-1]["val_acc"] > 0.9 and adv.history[-1]["val_acc"] > 0.9  # both learned the task
    assert adv_robust > plain_robust + 0.25, (plain_robust, adv_robust)
    # the run recorded robust accuracy beside clean accuracy every epoch, measured on the last epoch's weights
    assert all("val_robust_acc" in h for h in adv.history) and "val_robust_acc" not in plain.history[-1]
    assert adv.history[-1]["val_robust_acc"] == pytest.approx(adv_robust)
    epochs = RunStore.open(adv.run_dir).epochs()
    assert list(epochs["val_robust_acc"]) == pytest.approx([h["val_robust_acc"] for h in adv.history])
    assert any("adversarial training: fgsm at eps 0.15" in n for n in adv.notices)


def test_pgd_training_and_audio_spectrogram_model_run(tmp_path):
    bundle = synthetic_bundle("audio", n=16, classes=2, shape=(1, 800))
    cfg = TrainConfig(model="mel_cnn", epochs=1, batch_size=8, stats_every=0, tensorboard=False,
                      adversarial={"method": "pgd", "eps": 0.01, "steps": 2, "eval_subset": 4, "eval_steps": 2},
                      runs_dir=str(tmp_path))
    result = fit(cfg, bundle=bundle)
    assert result.status == "finished" and 0 <= result.history[0]["val_robust_acc"] <= 1
    assert any("computed from the attacked waveforms" in n for n in result.notices)


def test_adversarial_settings_are_checked():
    assert adversarial_problems(None) == [] and adversarial_problems({"eps": 0.1}) == []
    assert "not available for text" in " ".join(adversarial_problems({"eps": 0.1}, "text"))
    assert "between 0 and 1" in " ".join(adversarial_problems({"eps": 1.5}))
    assert "between 0 and 1" in " ".join(adversarial_problems({"eps": -0.1}))
    assert "one of fgsm, pgd" in " ".join(adversarial_problems({"method": "cw"}))
    assert "unknown adversarial setting(s): epsilon" in " ".join(adversarial_problems({"epsilon": 0.1}))
    problems = TrainConfig(adversarial={"eps": 2}).problems("image")
    assert any("adversarial epsilon" in p for p in problems)
    assert TrainConfig.from_dict(TrainConfig(adversarial={"eps": 0.1}).to_dict()).adversarial == {"eps": 0.1}
    assert AdversarialConfig(eps=0.1).step == pytest.approx(0.125)
    assert AdversarialConfig(method="pgd", eps=0.1, steps=5).step == pytest.approx(0.05)


def test_cli_adversarial_eps(tmp_path, capsys):
    code = main(["train", "--data", "builtin:digits", "--model", "mlp", "--max-steps", "3", "--adversarial-eps",
                 "0.1", "--runs-dir", str(tmp_path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["status"] == "finished"
    assert 0 <= out["epochs"][0]["val_robust_acc"] <= 1
    cfg = RunStore.open(out["run_dir"]).config()
    assert cfg["adversarial"] == {"method": "fgsm", "eps": 0.1, "alpha": pytest.approx(0.125), "random_start": True}
    code = main(["train", "--data", "builtin:reviews", "--model", "lstm", "--adversarial-eps", "0.1",
                 "--runs-dir", str(tmp_path), "--json"])
    assert code == 2 and "not available for text" in json.loads(capsys.readouterr().out)["error"]
    assert len(list(tmp_path.glob("*/config.json"))) == 1  # refused before anything was recorded (model: text)
