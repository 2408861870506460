"""Attacking recorded runs: loading on pixels, refusals with reasons, the attack command."""
from __future__ import annotations

import json
import time

import pytest

from core.__main__ import main
from core.attacks.jobs import KIND, read_sweep, sweep_config_for
from core.jobs import launch, log_tail
from core.train.store import ACTIVE, RunStore, list_runs
from core.attacks import AttackRefused, load_run_target, run_problems
from core.attacks.runs import SweepConfig, run_sweep, split_samples
from core.train.evaluate import evaluate, load_run_model
from tests.attack_helpers import config_only_run, trained_run


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return trained_run(tmp_path_factory.mktemp("runs"), steps=40)


def test_run_target_and_sweep_eps0_equal_the_runs_own_evaluation(digits_run):
    target = load_run_target(digits_run)
    assert target.kind == "image" and target.bounds == (0.0, 1.0) and len(target.classes) == 10
    assert not target.model.normalized and not target.notes
    assert all(not p.requires_grad for p in target.model.parameters())
    model, bundle = load_run_model(digits_run)
    clean = evaluate(model, bundle).accuracy  # the Train page's number, computed by core.train.evaluate
    result = run_sweep(SweepConfig(str(digits_run), epsilons=[0.0, 0.1], methods=["fgsm"]), target=target)
    assert result["fgsm"].accuracy[0] == pytest.approx(clean, abs=1e-12)
    assert result["fgsm"].accuracy[1] < clean
    sub = split_samples(target, "val", limit=50, seed=1)
    assert len(sub) == 50 and len(set(sub.indices)) == 50 and sub.indices != sorted(sub.indices)
    assert split_samples(target, "val", limit=50, seed=1).indices == sub.indices  # seeded: the same subset


def test_a_normalize_step_is_left_out_of_training_so_the_run_is_attacked_on_pixels(tmp_path):
    pipeline = {"kind": "image", "steps": [{"name": "Normalize", "params": {"mean": [0.5], "std": [0.25]}, "p": 1}]}
    run = trained_run(tmp_path, model="mlp", steps=5, augment=pipeline, augment_preset=False)
    assert RunStore.open(run).notes()["message"].str.contains("Normalize removed").any()  # the run says so
    target = load_run_target(run)
    assert not target.model.normalized  # the model learned on pixels: nothing goes in front of it
    model, bundle = load_run_model(run)
    clean = evaluate(model, bundle).accuracy
    result = run_sweep(SweepConfig(str(run), epsilons=[0.0], methods=["fgsm"]), target=target)
    assert result["fgsm"].accuracy[0] == pytest.approx(clean, abs=1e-12)


def test_refusals_say_why(tmp_path):
    text = config_only_run(tmp_path, "lstm", "builtin:reviews")
    assert "token ids, which are discrete" in " ".join(run_problems(text))
    empty = config_only_run(tmp_path, "cnn", "builtin:digits", status="failed")
    assert "saved no checkpoint" in " ".join(run_problems(empty))
    with pytest.raises(AttackRefused, match="no checkpoint"):
        load_run_target(empty)
    assert "not a run directory" in " ".join(run_problems(tmp_path / "nowhere"))
    problems = SweepConfig(str(empty), epsilons=[0.1, 1.5], methods=["fgsm", "cw"]).problems()
    joined = " ".join(problems)
    assert "saved no checkpoint" in joined and "between 0 and 1" in joined and "cw" in joined


def test_attack_command(digits_run, capsys):
    assert main(["attack", str(digits_run), "--eps", "0,0.1,0.2", "--limit", "60", "--minimal", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["eps"] for r in out["rows"]] == [0.0, 0.1, 0.2] and out["n"] == 60
    acc = [r["accuracy"] for r in out["rows"]]
    assert acc[0] >= acc[1] >= acc[2]
    m = out["minimal"]
    assert 0 <= m["never_fooled"] <= 1 and (m["median"] is None or m["q1"] <= m["median"] <= m["q3"])
    assert main(["attack", str(digits_run), "--method", "bim", "--eps", "0,0.05", "--limit", "20"]) == 0
    text = capsys.readouterr().out
    assert "bim, 10 steps on 20 val samples" in text and "12.8" in text  # 0.05 = 12.75/255
    assert main(["attack", str(digits_run), "--eps", "0,1.5"]) == 2
    assert "between 0 and 1" in capsys.readouterr().out
    sweeps = list_runs(digits_run.parent, kind="attack_sweep")  # the two sweeps were recorded as jobs
    assert len(sweeps) == 2 and all(r.status == "finished" and r.data == "builtin:digits" for r in sweeps)
    assert main(["attack", str(digits_run.parent / "nowhere"), "--json"]) == 2
    assert "not a run directory" in capsys.readouterr().out


def test_sweep_job_in_a_worker_writes_results_per_method(digits_run, tmp_path):
    config = sweep_config_for(digits_run, epsilons=[0.0, 0.1], methods=["fgsm", "pgd"], steps=2, limit=40,
                              examples=3)
    assert (config.data, config.model) == ("builtin:digits", "cnn")
    run_dir = launch(KIND, config.to_dict(), owner="ann", runs_dir=tmp_path)
    deadline = time.time() + 180
    while RunStore.open(run_dir).info().status in ACTIVE and time.time() < deadline:
        time.sleep(0.5)
    info = RunStore.open(run_dir).info()
    assert info.status == "finished", (info.error, log_tail(run_dir))
    assert info.kind == KIND and info.owner == "ann" and info.progress_done == info.progress_total == 80
    results = read_sweep(run_dir)
    assert list(results) == ["fgsm", "pgd"] and results["pgd"].n == 40 and results["fgsm"].examples.labels
    assert results["fgsm"].accuracy[0] == results["pgd"].accuracy[0]
    with pytest.raises(ValueError, match="between 0 and 1"):
        launch(KIND, {**config.to_dict(), "epsilons": [2.0]}, runs_dir=tmp_path)


def test_audio_run_is_attacked_on_the_waveform(tmp_path):
    run = trained_run(tmp_path, model="mel_cnn", source="builtin:sounds", steps=2)
    target = load_run_target(run)
    assert target.kind == "audio" and target.bounds == (-1.0, 1.0) and target.sample_rate
    result = run_sweep(SweepConfig(str(run), epsilons=[0.0, 0.01], methods=["fgsm"], limit=8, examples=2),
                       target=target)["fgsm"]
    ex = result.examples
    assert ex.originals.shape == (2, *target.input_shape) and ex.adversarial.shape == (2, 2, *target.input_shape)
    delta = ex.adversarial[1].astype("float32") - ex.originals.astype("float32")
    assert abs(delta).max() == pytest.approx(0.01, abs=1e-3)  # float16 storage
