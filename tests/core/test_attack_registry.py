"""One registry of attack methods (core.attacks.methods.METHODS) feeds the page, the CLI, sweeps and the docs: each
registered method is checked in each of them, and a method registered here shows up everywhere without other edits."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from core.attacks import METHODS, attack, register_attack, sweep
from core.attacks.methods import methods_table
from core.attacks.runs import SweepConfig
from core.cli import attack as attack_cli

ROOT = Path(__file__).resolve().parents[2]


def _problem():
    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    x, y = torch.rand(6, 1, 4, 4, generator=g), torch.randint(0, 3, (6,), generator=g)
    return model, x, y


def _cli(*argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    attack_cli.add_arguments(parser)
    return parser.parse_args(["RUN", *argv])


@pytest.fixture
def noise_method():
    """A toy method (uniform noise of +-eps), registered for one test and removed after it."""
    def noise(model, x, y, eps, *, bounds, generator, **_):
        return (x + eps * (2 * torch.rand(x.shape, generator=generator) - 1)).clamp(*bounds)

    register_attack("noise", "Noise", "uniform noise within eps (a baseline)", noise, iterative=False, dash="dot")
    yield "noise"
    del METHODS["noise"]


@pytest.mark.parametrize("name", list(METHODS))
def test_each_method_runs_in_a_sweep_and_the_cli_and_stays_in_the_ball(name):
    model, x, y = _problem()
    x_adv = attack(model, x, y, 0.1, method=name, steps=3, generator=torch.Generator().manual_seed(0))
    assert x_adv.shape == x.shape and (x_adv - x).abs().max() <= 0.1 + 1e-6 and x_adv.min() >= 0
    result = sweep(model, DataLoader(TensorDataset(x, y), batch_size=4), [0.0, 0.1], method=name, steps=3)
    with torch.no_grad():
        clean = float((model(x).argmax(1) == y).float().mean())
    assert result.accuracy[0] == pytest.approx(clean) and result.n == 6
    assert result.steps == (3 if METHODS[name].iterative else 0)
    assert _cli("--method", name).method == name
    assert not [p for p in SweepConfig(run_dir="x", methods=[name]).problems() if "attack methods" in p]


@pytest.mark.parametrize("name", list(METHODS))
def test_each_method_is_in_the_docs_table(name):
    doc = (ROOT / "docs/attack-methods.md").read_text()
    m = METHODS[name]
    assert f"| {m.label} | `{m.name}` | {m.help} |" in doc


def test_the_docs_table_is_the_registry_s():
    doc = (ROOT / "docs/attack-methods.md").read_text()
    assert methods_table() in doc, "paste core.attacks.methods.methods_table() into docs/attack-methods.md"


def test_an_unknown_method_is_refused_with_the_known_ones():
    model, x, y = _problem()
    with pytest.raises(ValueError, match="choose one of fgsm, bim, pgd"):
        attack(model, x, y, 0.1, method="nope")
    assert any("attack methods must be among" in p for p in SweepConfig(run_dir="x", methods=["nope"]).problems())
    with pytest.raises(SystemExit):
        _cli("--method", "nope")


def test_a_registered_method_reaches_the_cli_sweeps_and_the_page(noise_method):
    from streamlit.testing.v1 import AppTest

    model, x, y = _problem()
    assert _cli("--method", noise_method).method == noise_method
    result = sweep(model, DataLoader(TensorDataset(x, y), batch_size=4), [0.0, 0.2], method=noise_method)
    assert result.steps == 0 and len(result.accuracy) == 2
    assert "| Noise | `noise` |" in methods_table()
    at = AppTest.from_file(str(ROOT / "pages/6_Adversarial.py"), default_timeout=120)
    at.session_state["adv-source"] = "pretrained ImageNet model (EfficientNet-Lite0)"
    at.session_state["_dllab_user"] = "ann"  # Streamlit 1.67's AppTest has no browser cookie for ui.session
    at.session_state["_dllab_cookie_set"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    radio = at.radio(key="adv-method")
    assert list(radio.options) == ["FGSM", "BIM", "PGD", "Noise"]
