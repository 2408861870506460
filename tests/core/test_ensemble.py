"""Ensembles of runs: the mean-probability prediction and the vote against a hand computation, then real runs."""
from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
import torch

from core.export.ensemble import combine, ensemble_problems, ensemble_runs, export_ensemble, majority_vote
from tests.inspect_helpers import make_run

# 3 members, 4 examples, 3 classes
P = np.array([
    [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.4, 0.35, 0.25]],
    [[0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.5, 0.4, 0.1], [0.2, 0.45, 0.35]],
    [[0.45, 0.45, 0.1], [0.1, 0.6, 0.3], [0.2, 0.3, 0.5], [0.1, 0.3, 0.6]],
])
Y = np.array([0, 1, 2, 2])


def test_mean_probability_prediction_equals_a_hand_computation():
    # example 0: means (0.6+0.1+0.45)/3 = 0.3833, (0.3+0.8+0.45)/3 = 0.5167, 0.1 -> class 1
    # example 1: (0.2+0.3+0.1)/3 = 0.2, (0.5+0.3+0.6)/3 = 0.4667, (0.3+0.4+0.3)/3 = 0.333 -> class 1
    # example 2: (0.1+0.5+0.2)/3 = 0.2667, 0.2667, (0.8+0.1+0.5)/3 = 0.4667 -> class 2
    # example 3: (0.4+0.2+0.1)/3 = 0.2333, (0.35+0.45+0.3)/3 = 0.3667, (0.25+0.35+0.6)/3 = 0.4 -> class 2
    hand = [1, 1, 2, 2]
    result = combine(P, Y, ["a", "b", "c"], ["x", "y", "z"])
    assert np.mean(P, axis=0).argmax(axis=1).tolist() == hand
    assert result.mean_acc == pytest.approx(3 / 4)  # example 0 (true 0) is wrong
    # members' predictions: a = [0, 1, 2, 0], b = [1, 2, 0, 1], c = [0 (tie 0/1 -> first), 1, 2, 2]
    assert result.member_acc == pytest.approx([3 / 4, 0, 1.0])
    assert result.best == 2
    # votes: ex0 a0 b1 c0 -> 0; ex1 a1 b2 c1 -> 1; ex2 a2 b0 c2 -> 2; ex3 a0 b1 c2: three-way tie -> the mean's 2
    assert majority_vote(P).tolist() == [0, 1, 2, 2]
    assert result.vote_acc == pytest.approx(1.0)
    assert result.agreement[0][1] == pytest.approx(0.0) and result.agreement[0][2] == pytest.approx(3 / 4)
    assert result.agreement[1][1] == 1.0
    # the best member (c) is right on example 0, the ensemble is not: broken 1, fixed 0
    assert (result.n_fixed, result.n_broken) == (0, 1)
    assert result.broken[0].index == 0 and result.broken[0].ensemble == 1 and result.broken[0].best_member == 0


def test_ensemble_of_runs_and_its_export(tmp_path):
    runs = [make_run(tmp_path / "runs", "mlp", hidden=[8]), make_run(tmp_path / "runs", "cnn", width=4),
            make_run(tmp_path / "runs", "mlp", hidden=[16])]
    result = ensemble_runs(runs)
    assert result.examples > 100 and len(result.member_acc) == 3 and result.models == ["mlp", "cnn", "mlp"]
    assert [result.agreement[i][i] for i in range(3)] == [1.0, 1.0, 1.0]
    archive = export_ensemble(runs, tmp_path / "ens")
    assert archive.is_file()
    spec = importlib.util.spec_from_file_location("ens_wrapper", tmp_path / "ens" / "ensemble.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    ens = module.load_ensemble(str(tmp_path / "ens"))
    from core.inspect.target import load_run

    target = load_run(runs[0])
    x, _ = target.batch(range(6))
    with torch.no_grad():
        expected = torch.stack([load_run(r).model(x).softmax(1) for r in runs]).mean(0)
        assert torch.allclose(ens(x), expected, atol=1e-6)


def test_ensembles_refuse_what_cannot_be_combined(tmp_path):
    a = make_run(tmp_path / "runs", "mlp", hidden=[8])
    text = make_run(tmp_path / "runs", "lstm", "builtin:reviews")
    assert "between 2" in " ".join(ensemble_problems([str(a)]))
    assert "different data" in " ".join(ensemble_problems([str(a), str(text)]))
    assert "twice" in " ".join(ensemble_problems([str(a), str(a)]))


def test_cli_ensemble(tmp_path, capsys):
    from core.__main__ import main

    runs = [str(make_run(tmp_path / "runs", "mlp", hidden=[8])), str(make_run(tmp_path / "runs", "mlp", hidden=[4]))]
    assert main(["ensemble", *runs, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 0 <= out["mean_acc"] <= 1 and len(out["agreement"]) == 2
    assert main(["ensemble", runs[0]]) == 2
    assert "between 2" in capsys.readouterr().err


def test_ensemble_job(tmp_path):
    from core.export.ensemble import job_config
    from core.jobs import read_result, run_inline

    runs = [make_run(tmp_path / "runs", "mlp", hidden=[8]), make_run(tmp_path / "runs", "mlp", hidden=[4])]
    job = run_inline("ensemble", job_config(runs), runs_dir=tmp_path / "jobs")
    result = read_result(job)
    assert result["archive"].endswith("ensemble.zip") and "ensemble of 2" in result["message"]
