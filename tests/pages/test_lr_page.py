"""AppTest of the LR Finder page: controls present, a result injected via session_state, pick and hand over."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.train.lr_finder import LRFinderReport, LRFinderResult
from core.train.suggest import seed_spread, smooth, suggest

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/3_LR_Finder.py")


def fake_result(shift: float = 0.0) -> LRFinderResult:
    """A typical curve: flat, falling around 1e-3, blowing up after 1e-1."""
    lrs = [10 ** (-6 + i / 15) for i in range(80)]
    losses = [2.3 / (1 + math.exp(2.5 * (math.log10(lr) + 3 + shift))) + 0.2 + max(0.0, math.log10(lr) + 1.2) ** 2
              for lr in lrs]
    smoothed = smooth(losses)
    return LRFinderResult(lrs, losses, smoothed, suggest(lrs, smoothed), "diverged", lrs[-1], {"num_iter": 100})


def fake_report(seeds: int = 1) -> LRFinderReport:
    results = [fake_result(0.2 * i) for i in range(seeds)]
    spread = seed_spread([(r.lrs, r.smoothed) for r in results], [r.suggestions for r in results])
    return LRFinderReport(results, list(range(seeds)), spread, ["a notice for the user"])


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_page_shows_the_controls_and_asks_for_a_run():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    _ok(at)
    assert at.button(key="lr-run") and not at.button(key="lr-run").disabled
    assert any("Run the range test" in i.value for i in at.info)
    assert at.number_input(key="lr-iters").value == 100


def test_impossible_settings_are_refused_with_the_reason():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.select_slider(key="lr-range").set_value((1e-3, 1e-3))
    at.number_input(key="lr-iters").set_value(100_000).run()
    _ok(at)
    assert at.button(key="lr-run").disabled
    errors = " ".join(e.value for e in at.error)
    assert "start LR" in errors and "server's limit" in errors


@pytest.mark.parametrize("seeds", [1, 3])
def test_injected_result_shows_chart_suggestions_and_hands_over_the_lr(seeds):
    at = AppTest.from_file(PAGE, default_timeout=60)
    report = fake_report(seeds)
    at.session_state["lr_report"] = report
    at.run()
    _ok(at)
    chart = at.get("plotly_chart")
    assert len(chart) == 1
    table = at.table[0].value
    assert set(table.index) == set(report.results[0].suggestions)
    assert ("over seeds" in table.columns) == (seeds > 1)
    assert any("a notice" in c.value for c in at.caption)
    pick = at.radio(key="lr-pick")
    pick.set_value("valley").run()
    at.button(key="lr-use").click().run()
    _ok(at)
    assert at.session_state["lr_for_training"] == pytest.approx(report.results[0].suggestions["valley"])
    assert any("pre-filled on the Train page" in s.value for s in at.success)


def test_no_learning_rate_field_before_a_sweep_and_the_hand_over_names_its_settings():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    _ok(at)
    assert not [n for n in at.number_input if n.label == "Learning rate"]  # the sweep sets the LR, not a field
    at.session_state["lr_report"] = fake_report()
    at.session_state["lr_report_settings"] = {"model": "mlp", "optimizer": "adamw", "batch_size": 64,
                                              "data": "builtin:digits"}
    at.run()
    at.button(key="lr-use").click().run()
    _ok(at)
    assert at.session_state["lr_for_training_from"]["model"] == "mlp"


def test_a_typed_value_can_be_handed_over():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["lr_report"] = fake_report()
    at.run()
    at.radio(key="lr-pick").set_value("type a value").run()
    at.number_input(key="lr-typed").set_value(0.0042).run()
    at.button(key="lr-use").click().run()
    _ok(at)
    assert at.session_state["lr_for_training"] == pytest.approx(0.0042)


def test_a_short_sweep_runs_from_the_page():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.number_input(key="lr-iters").set_value(8)
    at.select_slider(key="lr-range").set_value((1e-4, 10.0))
    at.number_input(key="lr-seeds").set_value(2)
    at.slider(key="lr-beta").set_value(0.9)
    at.radio(key="lr-mode").set_value("linear").run()
    at.button(key="lr-run").click().run()
    _ok(at)
    report = at.session_state["lr_report"]
    assert len(report.results) == 2 and all(len(r.lrs) <= 8 and r.lrs[0] == 1e-4 for r in report.results)
    assert report.results[0].settings["beta"] == 0.9 and report.results[0].settings["step_mode"] == "linear"
    assert len(at.get("plotly_chart")) == 1


@pytest.mark.parametrize("source", ["builtin:reviews", "builtin:sounds"])
def test_text_and_audio_models_sweep_from_the_page(source):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.selectbox(key="lr-data_builtin").set_value(source).run()
    at.number_input(key="lr-iters").set_value(4).run()
    at.button(key="lr-run").click().run()
    _ok(at)
    report = at.session_state["lr_report"]
    assert len(report.results[0].lrs) == 4
    assert source in at.session_state["lr_report_for"]
