"""Black-box transfer attacks: the table's diagonal is the white-box sweep, off-diagonal cells are the target's
accuracy on inputs another run attacked, the job and the command line, refusals with reasons."""
from __future__ import annotations

import json

import pytest
import torch

from core.__main__ import main
from core.attacks import attack, load_run_target
from core.attacks.runs import SweepConfig, run_sweep, split_samples
from core.attacks.transfer import KIND, TransferConfig, config_for, read_transfer, transfer_table
from core.jobs import run_inline
from tests.attack_helpers import config_only_run, trained_run


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return runs, [trained_run(runs, model="cnn", steps=30), trained_run(runs, model="mlp", steps=30)]


def test_diagonal_equals_the_white_box_sweep_at_that_eps(two_runs):
    _, runs = two_runs
    cfg = config_for(runs, runs, eps=0.15, limit=120, batch_size=50, steps=3, seed=2, device="cpu")
    result = transfer_table(cfg)
    for i, run in enumerate(runs):
        sweep = run_sweep(SweepConfig(str(run), epsilons=[0.15], methods=["fgsm", "pgd"], limit=120, batch_size=50,
                                      steps=3, seed=2, examples=0, device="cpu"))
        for method in ("fgsm", "pgd"):
            assert result.accuracy[method][i][i] == pytest.approx(sweep[method].accuracy[0], abs=1e-12)
            assert result.white_box(method)[run.name] == result.accuracy[method][i][i]
    assert result.n == 120 and result.surrogates == result.targets == [r.name for r in runs]


def test_off_diagonal_cell_is_the_targets_accuracy_on_the_surrogates_attack(two_runs):
    _, (cnn, mlp) = two_runs
    cfg = config_for([cnn], [mlp], eps=0.2, methods=["fgsm"], limit=64, batch_size=64, device="cpu")
    result = transfer_table(cfg)
    # by hand: FGSM on the CNN, then count the MLP's correct predictions
    surrogate, target = load_run_target(cnn), load_run_target(mlp)
    x, y = next(iter(torch.utils.data.DataLoader(split_samples(surrogate, "val", 64, 0), batch_size=64)))
    x_adv = (x + 0.2 * _grad(surrogate.model, x, y).sign()).clamp(0, 1)
    assert torch.equal(x_adv, attack(surrogate.model, x, y, 0.2, method="fgsm"))
    expected = float((target.model(x_adv).argmax(1) == y).float().mean())
    assert result.accuracy["fgsm"] == [[pytest.approx(expected, abs=1e-12)]]
    assert result.clean == [pytest.approx(float((target.model(x).argmax(1) == y).float().mean()), abs=1e-12)]


def _grad(model, x, y):
    x = x.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    return x.grad


def test_refusals_say_why(two_runs, tmp_path):
    _, (cnn, _) = two_runs
    other = config_only_run(tmp_path, "cnn", "builtin:shapes")
    text = config_only_run(tmp_path, "lstm", "builtin:reviews")
    assert "choose at least one surrogate" in " ".join(TransferConfig([], [str(cnn)]).problems())
    assert "no checkpoint" in " ".join(config_for([cnn], [other]).problems())
    assert "token ids" in " ".join(config_for([cnn], [text]).problems())
    bad = " ".join(config_for([cnn], [cnn], eps=1.5, methods=["cw"]).problems())
    assert "epsilon must be between 0 and 1" in bad and "cw" in bad
    with pytest.raises(ValueError, match="unknown TransferConfig field"):
        TransferConfig.from_dict({"surrogates": [], "targets": [], "colour": 1})


def test_runs_on_different_data_are_refused(two_runs, tmp_path):
    _, (cnn, _) = two_runs
    shapes = trained_run(tmp_path, model="mlp", source="builtin:shapes", steps=2)
    assert "same data" in " ".join(config_for([cnn], [shapes]).problems())


def test_job_and_command_line(two_runs, capsys):
    runs_dir, (cnn, mlp) = two_runs
    job = run_inline(KIND, config_for([cnn], [cnn, mlp], eps=0.1, limit=40, steps=2, device="cpu").to_dict(),
                     runs_dir=runs_dir)
    result = read_transfer(job)
    assert result.targets == [cnn.name, mlp.name] and len(result.accuracy["pgd"][0]) == 2
    assert main(["attack", str(cnn), "--transfer", str(mlp), "--eps", "0.1", "--limit", "40", "--steps", "2",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["surrogates"] == out["targets"] == [cnn.name, mlp.name]
    assert set(out["accuracy"]) == {"fgsm", "pgd"} and len(out["accuracy"]["fgsm"]) == 2
    assert main(["attack", str(cnn), "--transfer", str(mlp), "--eps", "0.1,0.2"]) == 2  # one eps for a table
