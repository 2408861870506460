"""AppTests of the second hour's fixes (issue 19): pages open on a usable run, early collapse verdicts, overfitting
flagged, Inspect's frozen count from the run's config, one input size, the Augment hand-over."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.attack_helpers import config_only_run, trained_run

ROOT = Path(__file__).resolve().parents[2]


def _page(name: str) -> str:
    return str(ROOT / "pages" / name)


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_adversarial_opens_on_the_newest_run_it_can_attack(monkeypatch, tmp_path):
    good = trained_run(tmp_path, steps=5)
    config_only_run(tmp_path, "cnn", "builtin:digits", status="stopped")  # newer, stopped before a checkpoint
    config_only_run(tmp_path, "cnn", "builtin:digits", status="failed")  # newest, failed
    monkeypatch.setenv("DLLAB_RUNS", str(tmp_path))
    at = AppTest.from_file(_page("6_Adversarial.py"), default_timeout=90).run()
    _no_errors(at)
    assert at.selectbox(key="adv-run").value == good.name
    assert not [e.value for e in at.error if "Cannot attack" in e.value]
