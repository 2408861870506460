"""The Adversarial page keeps the server's script thread within the inline budget (core.inline): a heavy attack
(PGD-200 on the pretrained 224-pixel model, the smallest-epsilon search with PGD) goes to an 'attack_one' job, and
its result is drawn when the job has finished. Forward passes are counted, not seconds: every top-level module call
(a model called while no other module's forward runs) during each rerun, wherever it runs in this process."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

from core.inline import forward_macs, inline_forwards
from tests.attack_helpers import trained_run

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/6_Adversarial.py")
PRETRAINED = "pretrained ImageNet model (EfficientNet-Lite0)"


@pytest.fixture
def forwards():
    """A list that gets one entry per top-level forward pass (any module, any thread) while the test runs."""
    calls, local = [], threading.local()

    def pre(module, args):
        if getattr(local, "depth", 0) == 0:
            calls.append(type(module).__name__)
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
    """Rerun the page; the forward passes it made."""
    before = len(calls)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return len(calls) - before


def test_pgd_200_on_the_pretrained_model_stays_within_the_inline_budget(monkeypatch, tmp_path, forwards):
    from core.attacks import load_pretrained_target
    from core.train.store import RunStore

    target = load_pretrained_target()
    budget = inline_forwards(forward_macs(target.model, target.input_shape))  # 2e9 / 0.39e9 MACs a pass: 5
    assert budget == 5
    launched = []

    def launch(kind, config, owner=None):  # a queued job, no worker: the page only has to follow it
        launched.append((kind, config))
        store = RunStore.create(tmp_path, config, kind=kind, owner=owner)
        store.close()
        return store.run_dir

    monkeypatch.setattr("core.jobs.launch", launch)
    at = _page(PAGE)
    at.session_state["adv-source"] = PRETRAINED
    assert _run(at, forwards) <= budget  # loading (one pass counts its MACs) and FGSM at 8/255: 1 + 3 passes
    assert any(" at eps " in m.value and "FGSM" in m.value for m in at.markdown)
    at.radio(key="adv-method").set_value("pgd")
    assert _run(at, forwards) <= budget  # PGD-10 (the photo preset): 10 gradient passes, already too many
    at.number_input(key="adv-steps").set_value(200)
    assert _run(at, forwards) <= budget
    assert any("runs in a worker" in c.value for c in at.caption)
    assert not any(" at eps " in m.value and "PGD" in m.value for m in at.markdown)  # not computed here
    at.button(key="adv-run").click()
    assert _run(at, forwards) <= budget
    [(kind, config)] = launched
    assert kind == "attack_one" and config["target"] == "pretrained:efficientnet_lite0"
    assert config["settings"]["method"] == "pgd" and config["settings"]["steps"] == 200 and not config["smallest"]
    assert any("Starting: the worker is loading" in i.value for i in at.info)  # followed (ui.jobs); a slot is free
    assert _run(at, forwards) <= budget and len(launched) == 1  # a rerun follows the same job, starts none


def test_the_smallest_eps_search_with_pgd_runs_as_a_job_and_its_result_is_drawn(monkeypatch, tmp_path, forwards):
    """The job runs synchronously here (core.jobs.run_inline instead of a worker process: the job kind's function,
    its store and result file are the real ones); the page then reads and draws its result."""
    from core.jobs import run_inline

    runs = tmp_path / "runs"
    trained_run(runs, steps=20)
    monkeypatch.setenv("DLLAB_RUNS", str(runs))
    ran = []
    monkeypatch.setattr("core.jobs.launch",
                        lambda kind, config, owner=None: ran.append(kind) or run_inline(kind, config, runs_dir=runs))
    at = _page(PAGE)
    _run(at, forwards)
    at.radio(key="adv-method").set_value("pgd")
    _run(at, forwards)  # the MNIST-scale preset: 40 steps
    assert any(" at eps " in m.value and "PGD" in m.value for m in at.markdown)  # PGD-40 on the digits CNN: inline
    at.button(key="adv-find").click()
    _run(at, forwards)
    assert ran == ["attack_one"]  # 22 tries x 40 steps is over the budget of a small CNN too
    found = [s.value for s in at.success if "Smallest epsilon found" in s.value]
    assert found and "/255" in found[0]
    _run(at, forwards)
    assert ran == ["attack_one"] and any("Smallest epsilon found" in s.value for s in at.success)  # kept
