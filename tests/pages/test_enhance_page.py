"""AppTest of the Enhance page with real tiny enhance runs in the per-test runs root: the form and its refusals, the
training view (losses, PSNR against bicubic, the strip), before/after zoom, the checkerboard view, and the
PSNR-vs-perception chart of runs with and without a critic."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.enhance.config import EnhanceConfig
from core.enhance.data import SRImages
from core.enhance.train import fit

pytestmark = pytest.mark.slow  # trains two tiny networks
ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/8_Enhance.py")


def _app() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    # a known user: Streamlit 1.67's AppTest gives st.context.cookies as a mock, which ui.session cannot read
    at.session_state["_dllab_user"] = "ann"
    at.session_state["_dllab_cookie_set"] = True
    return at


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _titles(at: AppTest) -> str:
    return " | ".join(str((json.loads(c.proto.spec).get("layout", {}).get("title") or {}).get("text"))
                      for c in at.get("plotly_chart"))


def _pictures(at: AppTest) -> list:
    """Every st.image's pictures (caption, url); the element is 'image' in Streamlit 1.67, 'imgs' before."""
    return [i for el in list(at.get("image")) + list(at.get("imgs")) for i in el.proto.imgs]


def _captions(at: AppTest) -> list[str]:
    return [i.caption for i in _pictures(at)]


def _run(runs_dir: Path, **kw) -> Path:
    g = torch.Generator().manual_seed(0)
    imgs = [(torch.rand(3, 72, 80, generator=g) * 255).byte() for _ in range(3)]
    images = SRImages("synthetic", imgs[:2], imgs[2:], ["a", "b"], ["held"])
    cfg = EnhanceConfig(patch=12, batch_size=4, max_steps=6, eval_every=3, device="cpu", runs_dir=str(runs_dir), **kw)
    return Path(fit(cfg, images=images).run_dir)


def test_page_without_runs_offers_the_form_and_refuses_impossible_settings(runs_dir):
    at = _app().run()
    _no_errors(at)
    assert any("No super-resolution runs yet" in i.value for i in at.info)
    at.selectbox(key="enh-model").select("book")
    at.number_input(key="enh-patch").set_value(30)
    at.run()
    _no_errors(at)
    assert any("divisible by 4" in e.value for e in at.error)
    assert at.button(key="enh-start").disabled


def test_finished_runs_show_training_comparison_checkerboard_and_tradeoff(runs_dir):
    _run(runs_dir)
    last = _run(runs_dir, critic="relativistic", model="book", channels="rgb")
    at = _app().run()
    _no_errors(at)
    assert at.selectbox(key="enh-view").value == last.name  # the newest run first
    titles = _titles(at)
    for title in ("Losses", "PSNR on held-out crops", "Spectrum of (model − bicubic)", "The trade-off"):
        assert title in titles
    caps = _captions(at)
    assert any(c.startswith("Held-out crops at step 6") for c in caps), caps
    assert {"bicubic", "model", "original"} <= set(caps)
    trade = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "trade-off" in c.proto.spec]
    names = {t.get("name") for t in trade[0]["data"]}
    assert {"with critic", "without critic", "bicubic"} <= names
    before = [i.url for i in _pictures(at) if i.caption == "model"]
    at.slider(key="enh-cmp-x").set_value(0.1)
    at.run()
    _no_errors(at)
    after = [i.url for i in _pictures(at) if i.caption == "model"]
    assert before[0] != after[0]  # another region


def test_a_stopped_run_offers_resume(runs_dir):
    from core.jobs import JobStopped
    from core.train.store import RunStore

    def stop_at_2(done, total, text):
        if done == 2:
            raise JobStopped()

    g = torch.Generator().manual_seed(0)
    imgs = [(torch.rand(3, 72, 80, generator=g) * 255).byte() for _ in range(3)]
    cfg = EnhanceConfig(patch=12, batch_size=4, max_steps=6, eval_every=3, device="cpu", runs_dir=str(runs_dir))
    store = RunStore.create(runs_dir, cfg.to_dict(), kind="enhance")
    with pytest.raises(JobStopped):
        fit(cfg, run=store, progress=stop_at_2, images=SRImages("synthetic", imgs[:2], imgs[2:], ["a", "b"], ["h"]))
    store.set_status("stopped")
    at = _app().run()
    _no_errors(at)
    assert any("did not finish" in i.value for i in at.info)
    assert at.button(key="enh-resume-resume").label == "Resume from the last checkpoint"
    assert not [e for e in at.subheader if e.value == "Before / after"]
