"""AppTest of the Adversarial page's black-box tab: the table of a finished transfer job, launching one, refusals."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.attack_helpers import trained_run

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/6_Adversarial.py")


@pytest.fixture(scope="module")
def transfer_runs(tmp_path_factory):
    """Two digits runs (CNN, MLP) and one finished transfer table between them."""
    from core.attacks.transfer import KIND, config_for
    from core.jobs import run_inline

    runs = tmp_path_factory.mktemp("transfer-runs")
    cnn, mlp = trained_run(runs, model="cnn", steps=20), trained_run(runs, model="mlp", steps=20)
    run_inline(KIND, config_for([cnn, mlp], [cnn, mlp], eps=0.2, limit=40, steps=2).to_dict(), runs_dir=runs)
    return runs, cnn, mlp


def _app(monkeypatch, runs: Path) -> AppTest:
    monkeypatch.setenv("DLLAB_RUNS", str(runs))
    return AppTest.from_file(PAGE, default_timeout=90).run()


def test_finished_table_is_drawn_with_the_diagonal_framed(monkeypatch, transfer_runs):
    runs, cnn, mlp = transfer_runs
    at = _app(monkeypatch, runs)
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="adv-transfer-surrogates").value == at.multiselect(key="adv-transfer-targets").value
    assert set(at.multiselect(key="adv-transfer-surrogates").value) == {str(cnn), str(mlp)}
    charts = [c for c in at.get("plotly_chart") if "adv-transfer-fig" in c.proto.id or "FGSM: target" in c.proto.spec]
    specs = [c.proto.spec for c in charts]
    assert any("FGSM: target accuracy" in s for s in specs) and any("PGD: target accuracy" in s for s in specs)
    assert all(s.count('"type":"rect"') == 2 for s in specs if "target accuracy" in s)  # two white-box cells
    assert any("framed diagonal is the ordinary white-box" in c.value for c in at.caption)


def test_launch_sends_the_chosen_config_and_no_surrogate_is_refused(monkeypatch, transfer_runs):
    runs, cnn, mlp = transfer_runs
    launched = []
    monkeypatch.setattr("ui.transfer_ui.launch", lambda kind, config, owner=None: launched.append((kind, config)))
    at = _app(monkeypatch, runs)
    at.number_input(key="adv-transfer-eps").set_value(0.05)
    at.multiselect(key="adv-transfer-targets").set_value([str(mlp)])
    at.button(key="adv-transfer-start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (kind, config), = launched
    assert kind == "attack_transfer" and config["targets"] == [str(mlp)] and config["eps"] == pytest.approx(0.05)
    assert set(config["surrogates"]) == {str(cnn), str(mlp)} and config["data"] == "builtin:digits"
    at.multiselect(key="adv-transfer-surrogates").set_value([]).run()
    assert any("choose at least one surrogate" in e.value for e in at.error)
    assert at.button(key="adv-transfer-start").disabled
