"""The debugging views in a real browser: the Train page's gradient heatmap with a flag and its layer link, the
Profile result (flame graph, Chrome trace) and the Memory trade-off of a finished run; the device on Home."""
from __future__ import annotations

from core.debug.jobs import memory_job_config, profile_job_config
from core.jobs import run_inline
from core.train.store import RunStore
from tests.train_page_helpers import inject_finished_run

FLAG = ("exploding gradients: layer body.3 is the first to blow up (its gradient norm jumped 40x to 4 at step 20). "
        "Try a lower learning rate.")


def _runs_root(tmp_path_factory):
    """The app's runs root (conftest's app_url made it with mktemp('e2e-runs'))."""
    return sorted(tmp_path_factory.getbasetemp().glob("e2e-runs*"))[-1]


def _debugged_run(root):
    run_dir = inject_finished_run(root)
    run = RunStore.open(run_dir)
    for step in range(0, 60, 10):
        run.log_grads(step, [("body.0", 0.5 / (1 + step), 3.0, 1e-3), ("body.3", 0.1 * 40 ** (step // 20), 2.0, 2e-3),
                             ("head", 0.2, 1.0, 5e-4)])
    run.note(FLAG, "warning")
    run.close()
    run_inline("profile", profile_job_config(run_dir, steps=3), runs_dir=root)
    run_inline("memory", memory_job_config(run_dir), runs_dir=root)
    return run_dir


def test_gradients_profile_and_memory(app_url, page, shoot, settle, tmp_path_factory):
    _debugged_run(_runs_root(tmp_path_factory))
    page.set_viewport_size({"width": 1400, "height": 4200})
    page.goto(app_url + "/Train")
    settle(page)
    page.get_by_text("gradient norm per layer over steps (log10)").first.wait_for(timeout=60_000)
    assert page.get_by_text("exploding gradients: layer body.3").count() >= 1
    settle(page, lambda: page.get_by_role("button", name="Show body.3").click())
    page.wait_for_timeout(1000)
    page.get_by_text("gradient norm of chosen layers").first.scroll_into_view_if_needed()
    shoot(page, "debug_gradients")
    page.get_by_text("Flame graph of a step").first.wait_for(timeout=60_000)
    assert page.get_by_role("button", name="Download the Chrome trace").count() == 1
    page.get_by_text("Time per layer (ms per step)").first.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    assert not page.locator('[data-testid="stException"]').count()
    shoot(page, "debug_profile")
    settle(page, lambda: page.get_by_role("radiogroup").filter(has_text="Memory").get_by_text("Memory",
                                                                                             exact=True).click())
    page.get_by_text("Gradient checkpointing: memory against time").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    shoot(page, "debug_memory")
    page.goto(app_url)
    settle(page)
    page.get_by_text("Computing on").first.wait_for()
