"""The Inspect page's Grad-CAM grid keeps the script thread within the inline budget (core.inline): on the
pretrained 224-pixel model the grid of sample photos is a 'cam_grid' job, drawn when it has finished. Samples
through the model are counted (the batch size of every top-level module call), not seconds."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

from core.inline import forward_macs, inline_forwards

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/7_Inspect.py")


@pytest.fixture
def samples():
    """A list that gets the batch size of every top-level forward pass (any module, any thread)."""
    calls, local = [], threading.local()

    def pre(module, args):
        if getattr(local, "depth", 0) == 0 and args and hasattr(args[0], "shape"):
            calls.append(int(args[0].shape[0]))
        local.depth = getattr(local, "depth", 0) + 1

    def post(module, args, output):
        local.depth -= 1

    handles = [register_module_forward_pre_hook(pre), register_module_forward_hook(post, always_call=True)]
    yield calls
    for h in handles:
        h.remove()


def _page(path: str) -> AppTest:
    """The page as the user "ann" (set here: Streamlit 1.67's AppTest has no browser cookie for ui.session)."""
    at = AppTest.from_file(path, default_timeout=300)
    at.session_state["_dllab_user"] = "ann"
    at.session_state["_dllab_cookie_set"] = True
    return at


def _run(at: AppTest, calls: list) -> int:
    before = len(calls)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return sum(calls[before:])


def test_grad_cam_grid_of_the_pretrained_model_is_a_job(monkeypatch, samples):
    import ui.inspect_jobs
    from core.inspect.target import imagenet_target
    from core.jobs import run_inline

    target = imagenet_target()
    budget = inline_forwards(forward_macs(target.model, target.input_shape))
    ran = []
    monkeypatch.setattr(ui.inspect_jobs, "launch",  # the real job function and store, run here, not in a worker
                        lambda kind, config, owner=None: ran.append(kind) or run_inline(kind, config))
    at = _page(PAGE)
    _run(at, samples)  # the layer table: loading, once per model for every session
    at.radio(key="inspect-view").set_value("Where it looks")
    assert _run(at, samples) <= budget  # the chosen photo's map (a forward and a backward pass) stays here
    assert any(m.value.startswith("Grad-CAM for **") for m in at.markdown)
    assert not any("predicted" in c.value for c in at.caption)  # the grid is not computed here
    assert any("runs in a worker" in c.value for c in at.caption)
    at.button(key="inspect-cam-grid-start").click()
    _run(at, samples)  # (the job ran in this process here: not counted against the page)
    assert ran == ["cam_grid"]
    assert _run(at, samples) <= budget
    shown = [c.value for c in at.caption if "predicted" in c.value]
    assert len(shown) == min(8, len(target.samples)) and shown[0].startswith(target.sample_names[0])


def test_a_single_map_over_the_budget_is_a_job_of_one_example(monkeypatch, runs_dir, samples):
    """With the budget set to nothing (as for a big transfer model at 224 px), even the chosen example's Grad-CAM
    goes to a job; the page draws its map for the chosen class when the job has finished."""
    import ui.inspect_jobs
    from core.jobs import run_inline
    from tests.inspect_helpers import make_run

    make_run(runs_dir, "cnn", "builtin:digits")
    monkeypatch.setattr("core.inline.INLINE_MACS", 0)
    configs = []
    monkeypatch.setattr(ui.inspect_jobs, "launch",
                        lambda kind, config, owner=None: configs.append(config) or run_inline(kind, config))
    at = _page(PAGE)
    _run(at, samples)
    at.radio(key="inspect-view").set_value("Where it looks")
    _run(at, samples)
    assert any("too heavy for this page: it runs in a worker" in c.value for c in at.caption)
    assert not any(m.value.startswith("Grad-CAM for **") for m in at.markdown)
    at.selectbox(key="inspect-cam-class").set_value(3)
    _run(at, samples)
    at.button(key="inspect-cam-one-start").click()
    _run(at, samples)
    assert configs[0]["picks"] == [0] and configs[0]["target_class"] == 3
    assert any(m.value.startswith("Grad-CAM for **3**") for m in at.markdown)
