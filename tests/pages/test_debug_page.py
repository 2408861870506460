"""AppTest: the Train page's gradient views (heatmap, lines, flags with their layer link, clipping) and the Home
page's device panel."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.train.store import RunStore
from tests.train_page_helpers import PAGE, inject_finished_run, no_errors

ROOT = Path(__file__).resolve().parents[2]

FLAG = ("exploding gradients: layer body.3 is the first to blow up (its gradient norm jumped 40x to 4 at step 20). "
        "Try a lower learning rate.")


def _page(timeout: int = 60) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=timeout)
    at.session_state["_dllab_user"] = "tester"  # AppTest under Streamlit 1.67 has no real cookies (ui.session)
    return at


def _with_grads(run_dir, flag: bool = True):
    run = RunStore.open(run_dir)
    for step in range(0, 30, 10):
        run.log_grads(step, [("body.0", 0.5, 3.0, 1e-3), ("body.3", 0.1 * 40 ** (step // 20), 2.0, 2e-3),
                             ("head", 0.2, 1.0, None)])
    run.log_scalars(20, {"grad_clipped_frac": 0.25})
    if flag:
        run.note(FLAG, "warning")
    run.close()


def test_gradient_heatmap_lines_flag_and_link(runs_dir):
    run_dir = inject_finished_run(runs_dir)
    _with_grads(run_dir)
    at = _page().run()
    no_errors(at)
    specs = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "gradient norm per layer over steps" in specs and "gradient norm of chosen layers" in specs
    assert any(w.value == FLAG for w in at.warning)
    assert any("25% of the steps so far were clipped" in c.value for c in at.caption)
    layers = at.multiselect(key="live-grads-layers")
    assert layers.value == ["body.0", "body.3", "head"]  # first, flagged, last
    layers.set_value(["head"]).run()
    at.button(key="live-grads-show-exploding").click().run()
    no_errors(at)
    assert at.multiselect(key="live-grads-layers").value == ["body.3"]
    at.radio(key="live-grads-gstat").set_value("update_ratio").run()
    no_errors(at)
    assert "1e-3 rule of thumb" in " ".join(c.proto.spec for c in at.get("plotly_chart"))


def test_run_without_gradients_shows_no_gradient_section(runs_dir):
    inject_finished_run(runs_dir)
    at = _page().run()
    no_errors(at)
    assert "gradient norm per layer" not in " ".join(c.proto.spec for c in at.get("plotly_chart"))


def test_home_shows_the_device():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["_dllab_user"] = "tester"
    at.run()
    no_errors(at)
    assert any("Computing on" in m.value and "cpu" in m.value for m in at.markdown)


def test_profile_and_memory_results_of_finished_jobs(runs_dir, monkeypatch):
    from core.debug.jobs import memory_job_config, profile_job_config
    from core.jobs import run_inline

    run_dir = inject_finished_run(runs_dir)
    run_inline("profile", profile_job_config(run_dir, steps=2), runs_dir=runs_dir)
    at = _page(90).run()
    no_errors(at)
    assert at.selectbox(key="train-view").value == run_dir.name  # the job's own directory is not a training run
    specs = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Time per layer" in specs and "icicle" in specs
    assert any("takes the largest part of a step" in i.value for i in at.info)
    assert any(b.proto.label.startswith("Download the Chrome trace") for b in at.get("download_button"))
    launched = []
    monkeypatch.setattr("ui.debug_jobs_ui.launch", lambda kind, config, owner=None: launched.append(config) or
                        run_dir)
    at.number_input(key="debug-steps").set_value(5).run()
    at.button(key="debug-profile-start").click().run()
    assert launched and launched[0]["steps"] == 5 and launched[0]["run"] == str(run_dir)
    run_inline("memory", memory_job_config(run_dir), runs_dir=runs_dir)
    at.radio(key="debug-view").set_value("Memory").run()
    no_errors(at)
    assert "memory against time" in " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert any("saved for the backward pass" in c.value for c in at.caption)


def test_checkpointing_switch_reaches_the_launched_config(runs_dir, monkeypatch):
    launched = []

    def fake_launch(config, kind=None, owner=None):
        launched.append(config)
        raise ValueError("not launching in this test")

    monkeypatch.setattr("core.train.worker.launch", fake_launch)
    at = _page().run()
    no_errors(at)
    at.toggle(key="train-ckpt-on").set_value(True).run()
    at.select_slider(key="train-ckpt-segments").set_value(2).run()
    at.button(key="train-start").click().run()
    assert launched and launched[0].checkpoint_segments == 2
    assert any("not launching in this test" in e.value for e in at.error)
