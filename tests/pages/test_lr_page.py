"""AppTest of the LR Finder page. The sweep is a job (kind 'lr_find'): most tests replace the launcher by one that
writes a finished job with a made-up report into the run store (fast, and the page reads it back exactly as it reads
a worker's); two tests run real sweeps in worker processes."""
from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.jobs import write_json
from core.train.lr_finder import LRFinderReport, LRFinderResult
from core.train.store import ACTIVE, RunStore, list_runs
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


def flat_result(seed: int = 0) -> LRFinderResult:
    """A model that learns nothing: ln 2 and noise all the way (the ant/bee photos with a cnn)."""
    import numpy as np

    lrs = [10 ** (-7 + 8 * i / 99) for i in range(100)]
    losses = list(math.log(2) + np.random.default_rng(seed).normal(0, 0.05, 100))
    smoothed = smooth(losses)
    return LRFinderResult(lrs, losses, smoothed, suggest(lrs, smoothed), "completed", None, {"num_iter": 100})


def fake_report(seeds: int = 1, make=fake_result) -> LRFinderReport:
    results = [make(0.5 * i) if make is fake_result else make(i) for i in range(seeds)]
    spread = seed_spread([(r.lrs, r.smoothed) for r in results], [r.suggestions for r in results])
    return LRFinderReport(results, list(range(seeds)), spread, ["a notice for the user"])


@pytest.fixture
def fake_sweeps(monkeypatch):
    """Replace the job launcher: each launch writes a finished lr_find job holding ``reports[0]`` (or the next one)."""
    reports: list[LRFinderReport] = []
    launched: list[dict] = []

    def launch(kind, config, *, owner=None, runs_dir=None):
        from core.settings import load_settings

        assert kind == "lr_find"
        store = RunStore.create(runs_dir or load_settings().runs_dir, config, kind=kind, owner=owner)
        write_json(store.run_dir / "result.json", (reports.pop(0) if len(reports) > 1 else reports[0]).to_dict())
        store.set_status("finished")
        store.close()
        launched.append(config)
        return store.run_dir

    monkeypatch.setattr("core.jobs.launch", launch)
    return reports, launched


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _run_sweep(at: AppTest) -> AppTest:
    at.button(key="lr-run").click().run()
    _ok(at)
    return at


def _pick(at: AppTest):
    return [r for r in at.radio if r.label == "Learning rate for training"][0]


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
def test_result_shows_chart_suggestions_and_hands_over_the_lr(fake_sweeps, seeds):
    reports, launched = fake_sweeps
    reports.append(fake_report(seeds))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.number_input(key="lr-seeds").set_value(seeds).run()
    _run_sweep(at)
    assert len(launched[0]["seeds"]) == seeds and launched[0]["data"] == "builtin:digits"
    assert len(at.get("plotly_chart")) == 1
    table = at.table[0].value
    assert set(table.index) == set(reports[0].suggestions)
    assert ("over seeds" in table.columns) == (seeds > 1)
    assert any("a notice" in c.value for c in at.caption)
    _pick(at).set_value("valley").run()
    at.button(key="lr-use").click().run()
    _ok(at)
    assert at.session_state["lr_for_training"] == pytest.approx(reports[0].suggestions["valley"])
    assert at.session_state["lr_for_training_from"]["model"] == launched[0]["model"] == "cnn"  # digits' default
    assert any("pre-filled on the Train page" in s.value for s in at.success)


def test_with_seeds_the_median_is_preselected(fake_sweeps):
    """Issue 13 item 6: with several seeds the offered LR is the median over them, not seed 0's."""
    reports, _ = fake_sweeps
    reports.append(fake_report(3))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.number_input(key="lr-seeds").set_value(3).run()
    _run_sweep(at)
    steepest = sorted(r.suggestions["steepest"] for r in reports[0].results)
    assert steepest[0] < steepest[1] < steepest[2]  # the three sweeps disagree
    at.button(key="lr-use").click().run()  # the preselected choice, as it comes
    assert at.session_state["lr_for_training"] == pytest.approx(steepest[1])  # the median
    assert at.session_state["lr_for_training"] != pytest.approx(reports[0].results[0].suggestions["steepest"])


def test_a_flat_curve_says_no_clear_drop_and_offers_nothing(fake_sweeps):
    """Issue 13 item 6: a loss that stays at ln 2 gets no confident suggestions."""
    reports, _ = fake_sweeps
    reports.append(fake_report(1, make=flat_result))
    at = _run_sweep(AppTest.from_file(PAGE, default_timeout=60).run())
    assert any("No clear drop" in w.value and "did not learn" in w.value for w in at.warning)
    assert not [r for r in at.radio if r.label == "Learning rate for training"] and not at.table
    assert not [b for b in at.button if b.key == "lr-use"]
    assert len(at.get("plotly_chart")) == 1  # the curve is still shown: it is the evidence


def test_a_result_is_shown_only_for_the_settings_it_was_found_with(fake_sweeps):
    """Issue 13 item 5: switching the data (or the model) hides the old result and its 'Use for training'."""
    reports, _ = fake_sweeps
    reports.append(fake_report())
    at = _run_sweep(AppTest.from_file(PAGE, default_timeout=60).run())
    at.button(key="lr-use").click().run()
    assert at.get("plotly_chart") and any("pre-filled" in s.value for s in at.success)
    at.selectbox(key="lr-data_builtin").set_value("builtin:shapes").run()
    _ok(at)
    assert not at.get("plotly_chart") and not at.success and not [b for b in at.button if b.key == "lr-use"]
    assert any("shown only for the settings it was found with" in i.value for i in at.info)
    at.selectbox(key="lr-data_builtin").set_value("builtin:digits").run()  # back: the result is found again
    assert at.get("plotly_chart") and any("pre-filled" in s.value for s in at.success)


def test_a_new_sweep_does_not_keep_the_old_hand_over_box(fake_sweeps):
    """Issue 13 item 5: 'will be pre-filled' belongs to the result it was chosen from."""
    reports, _ = fake_sweeps
    reports += [fake_report(), fake_report()]
    at = _run_sweep(AppTest.from_file(PAGE, default_timeout=60).run())
    at.button(key="lr-use").click().run()
    assert any("pre-filled" in s.value for s in at.success)
    at.number_input(key="lr-iters").set_value(50).run()  # other settings, a new sweep
    _run_sweep(at)
    assert at.get("plotly_chart") and not at.success  # the new result, without the old hand-over's box


def test_a_typed_value_can_be_handed_over(fake_sweeps):
    reports, _ = fake_sweeps
    reports.append(fake_report())
    at = _run_sweep(AppTest.from_file(PAGE, default_timeout=60).run())
    _pick(at).set_value("type a value").run()
    at.number_input(key=[n.key for n in at.number_input if n.label == "Learning rate"][0]).set_value(0.0042).run()
    at.button(key="lr-use").click().run()
    _ok(at)
    assert at.session_state["lr_for_training"] == pytest.approx(0.0042)


def _wait_for(run_dir: Path, seconds: float = 120.0) -> str:
    deadline = time.time() + seconds
    while RunStore.open(run_dir).info().status in ACTIVE and time.time() < deadline:
        time.sleep(0.3)
    return RunStore.open(run_dir).info().status


@pytest.mark.slow
@pytest.mark.parametrize("source", ["builtin:reviews", "builtin:sounds"])
def test_the_sweep_is_a_job_in_the_store_and_survives_a_reload(source):
    """Issue 8: the page starts the sweep as an 'lr_find' job (a worker process, not the server thread); a new
    session with the same settings (a reload) finds its result in the store."""
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.selectbox(key="lr-data_builtin").set_value(source).run()
    at.number_input(key="lr-iters").set_value(4).run()
    _run_sweep(at)
    [job] = list_runs(kind="lr_find")
    assert job.owner == at.session_state["_dllab_user"] and job.data == source
    assert RunStore.open(job.run_dir).info().pid is not None  # a worker process runs it
    assert _wait_for(job.run_dir) == "finished"
    reload = AppTest.from_file(PAGE, default_timeout=120)  # a new session, with the address bar of the old one
    for name, value in at.query_params.items():
        reload.query_params[name] = value[0] if isinstance(value, list) else value
    assert reload.query_params["data"] == source and reload.query_params["steps"] == "4"
    _ok(reload.run())
    assert len(reload.get("plotly_chart")) == 1 and any(f"on {source}" in s.value for s in reload.subheader)
    assert len(RunStore.open(job.run_dir).steps()) >= 1  # the sweep's curve was logged as it ran
