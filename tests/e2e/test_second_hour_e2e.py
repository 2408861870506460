"""Issue 19 in a real browser, on a server of this module's own (its runs root is known to the tests): the GAN
latent section follows a running job's new checkpoint; a typed data path survives a reload."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.browser import free_port

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("DLLAB_SHOTS", "/tmp/hour/shots"))  # development screenshots stay out of the repo


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, runs root, data root) of a lab served for this module."""
    runs, data = tmp_path_factory.mktemp("hour-runs"), tmp_path_factory.mktemp("hour-data")
    port = free_port()
    env = dict(os.environ, DLLAB_RUNS=str(runs), DLLAB_DATA_ROOT=str(data), DLLAB_ALLOW_DOWNLOADS="0")
    log = open(tmp_path_factory.mktemp("hour-log") / "streamlit.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except OSError:
            assert proc.poll() is None, f"streamlit exited; see {log.name}"
            time.sleep(0.5)
    yield url, runs, data
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_gan_latent_section_appears_when_the_running_job_saves_its_first_checkpoint(lab, page, settle,
                                                                                     tmp_path):
    from core.gan import GanConfig, fit
    from core.train.store import RunStore

    url, runs, _ = lab
    cfg = GanConfig(data="toy:ring", model_opts={"hidden": [16]}, batch_size=32, samples=128, epochs=2,
                    snapshot_every=4, runs_dir=str(tmp_path))
    done = Path(fit(cfg).run_dir)  # where the checkpoint comes from
    running = RunStore.create(runs, cfg.replace(runs_dir=None).to_dict(), kind="gan")  # heartbeats while open
    running.set_status("running")
    try:
        page.goto(url + "/GAN")
        settle(page)
        page.get_by_text("No checkpoint yet").wait_for(timeout=60_000)
        (running.run_dir / "checkpoints").mkdir(exist_ok=True)
        shutil.copy(done / "checkpoints" / "last.pt", running.run_dir / "checkpoints" / "last.pt.tmp")
        os.replace(running.run_dir / "checkpoints" / "last.pt.tmp", running.run_dir / "checkpoints" / "last.pt")
        page.get_by_role("tab", name="Gallery").wait_for(timeout=30_000)  # no reload: the section followed
        assert page.get_by_text("No checkpoint yet").count() == 0
        page.get_by_role("heading", name="Latent space").scroll_into_view_if_needed()
        _shot(page, "item1_gan_latent_followed")
    finally:
        running.set_status("stopped")
        running.close()


def test_a_typed_data_path_survives_a_reload(lab, page, settle, tmp_path):
    from PIL import Image

    url, _, _ = lab
    folder = tmp_path / "my-shapes"  # outside the data root: this lab is not served
    for c in ("dot", "bar"):
        (folder / c).mkdir(parents=True)
        for i in range(4):
            Image.new("L", (16, 16), 40 * i + (100 if c == "dot" else 0)).save(folder / c / f"{i}.png")
    page.goto(url + "/LR_Finder")
    settle(page)
    settle(page, lambda: page.get_by_text("Path", exact=True).click())
    box = page.get_by_label("Folder or file", exact=True).and_(page.get_by_test_id("stTextInputField"))
    box.fill(str(folder))
    settle(page, lambda: box.press("Enter"))
    page.wait_for_function("p => location.search.includes(encodeURIComponent(p)) || location.search.includes(p)",
                           arg=str(folder), timeout=30_000)
    page.reload()
    settle(page)
    assert page.get_by_test_id("stTextInputField").first.input_value() == str(folder)
    _shot(page, "item2_typed_path_after_reload")
