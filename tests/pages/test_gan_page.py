"""AppTest of the GAN page with real (tiny) GAN runs injected into the per-test runs root: the form and its
refusals, the live view (losses with the ideal lines, D outputs, progress strip, collapse meter) and the latent tools
(gallery, A -> B slider, arithmetic)."""
from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.gan import GanConfig, fit

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/5_GAN.py")


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _values(v) -> list:
    """A plotly array from a figure's JSON: a list, or plotly's typed binary form {'bdata': base64, 'dtype': ...}."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def _title(spec: dict) -> str:
    title = spec.get("layout", {}).get("title") or {}
    indicator = [t.get("title", {}).get("text", "") for t in spec.get("data", []) if t.get("type") == "indicator"]
    return " ".join([str(title.get("text") or "")] + indicator)


def _titles(at: AppTest) -> str:
    return " | ".join(_title(s) for s in _specs(at))


def _images(at: AppTest) -> dict[str, str]:
    """caption -> media URL (a hash of the picture) of every st.image on the page."""
    return {i.caption: i.url for el in at.get("image") for i in el.proto.imgs}


def ring_run(runs_dir: Path, **kw) -> Path:
    cfg = GanConfig(data="toy:ring", model_opts={"hidden": [16]}, batch_size=32, samples=128, epochs=3,
                    snapshot_every=4, runs_dir=str(runs_dir), **kw)
    return Path(fit(cfg).run_dir)


def test_page_without_runs_offers_the_form(runs_dir):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    _no_errors(at)
    assert any("No GAN runs yet" in i.value for i in at.info)
    assert at.button(key="gan-start") and not at.button(key="gan-start").disabled
    labels = {r.label for r in at.radio}
    assert {"Loss", "Hidden activation", "Optimizer", "Start from"} <= labels
    assert any(t.label == "LayerNorm" for t in at.toggle)
    assert any("4 of 4 improvements on" in c.value for c in at.caption)
    at.radio(key="gan-preset").set_value("plain").run()  # the plain GAN: all four switches off
    _no_errors(at)
    assert any("0 of 4 improvements on" in c.value for c in at.caption)
    assert [r.value for r in at.radio if r.label in ("Loss", "Hidden activation", "Optimizer")] == \
        ["mse", "sigmoid", "sgd"]


def test_impossible_settings_are_refused_with_the_reason(runs_dir):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.radio(key="gan-data").set_value("images").run()
    at.selectbox(key="gan-img_builtin").set_value("builtin:shapes").run()
    at.selectbox(key="gan-model-image").set_value("dcgan-8").run()
    _no_errors(at)
    errors = " ".join(e.value for e in at.error)
    assert "Cannot start: dcgan-8 makes 8x8 images" in errors and "trained at 64x64" in errors
    assert at.button(key="gan-start").disabled
    at.selectbox(key="gan-model-image").set_value("dcgan").run()
    assert not at.error and not at.button(key="gan-start").disabled
    at.selectbox(key="gan-model-image").set_value("dcgan-8").run()
    at.selectbox(key="gan-size").set_value(8).run()  # shrink the data to the model's size: allowed
    assert not at.error and not at.button(key="gan-start").disabled
    assert not runs_dir.exists() or not any(p.is_dir() for p in runs_dir.iterdir())  # nothing was launched


def test_ring_run_live_view_and_latent_walk(runs_dir):
    run = ring_run(runs_dir)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    _no_errors(at)
    assert at.selectbox(key="gan-view").value == run.name
    titles = _titles(at)
    for title in ("Losses (BCE)", "What the discriminator says", "Generated points against the ring",
                  "modes covered", "Gallery"):
        assert title in titles, title
    loss = next(s for s in _specs(at) if "Losses" in _title(s))
    ideal = [a["text"] for a in loss["layout"]["annotations"]]
    assert any("ln 2 = 0.693" in t for t in ideal)
    assert [t["name"] for t in loss["data"]] == ["D loss on real", "D loss on fake", "G loss"]
    assert _values(loss["data"][0]["x"]) == list(range(1, 13))  # every step of the run
    assert any(m.value.startswith("**Is it collapsing?**") for m in at.markdown)
    at.toggle(key="gan-live-sum").set_value(True).run()  # D losses summed: the ideal is 2 ln 2
    summed = next(s for s in _specs(at) if "Losses" in _title(s))
    assert [t["name"] for t in summed["data"]] == ["D loss (real + fake)", "G loss"]
    assert any("2 ln 2 = 1.386" in a["text"] for a in summed["layout"]["annotations"])

    def now_point():
        walk = next(s for s in _specs(at) if "Walking from A to B" in _title(s))
        star = next(t for t in walk["data"] if t["name"] == "now")
        return _values(star["x"])[0], _values(star["y"])[0]

    first = now_point()
    at.slider(key="gan-lat-t").set_value(15).run()
    _no_errors(at)
    assert now_point() != first
    assert any("frame 16 of 16: 100% of the way" in c.value for c in at.caption)
    at.radio(key="gan-lat-method").set_value("lerp").run()
    _no_errors(at)


def test_image_run_strip_gallery_and_arithmetic(runs_dir):
    cfg = GanConfig(data="builtin:digits", model="dcgan", max_steps=4, snapshot_every=2, preview=4,
                    batch_size=16, model_opts={"width": 8}, runs_dir=str(runs_dir))
    fit(cfg)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    _no_errors(at)
    shown = _images(at)
    assert [c for c in shown if c.startswith("step ")] == ["step 0", "step 2", "step 4"]  # the progress strip
    assert {f"seed {i}" for i in range(16)} <= set(shown)  # the gallery
    assert "variety vs the real images" in _titles(at)
    at.radio(key="gan-lat-op").set_value("A − B + C").run()
    _no_errors(at)
    notes = " ".join(i.value for i in at.info)
    assert "shell" in notes and "further out" in notes  # why raw and rescaled differ
    before = _images(at)["now"]
    at.slider(key="gan-lat-t").set_value(8).run()
    _no_errors(at)
    assert any("frame 9 of 16" in c.value for c in at.caption)
    assert _images(at)["now"] != before  # the media URL is a hash of the picture: the image changed


def test_constant_input_toy_says_seeds_change_nothing(runs_dir):
    fit(GanConfig(data="toy:1010", batch_size=4, samples=64, epochs=2, snapshot_every=4, runs_dir=str(runs_dir)))
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    _no_errors(at)
    assert "The generator's output over training" in _titles(at)  # the 1010 heat strip
    assert any("constant 0.5" in i.value for i in at.info)
    assert "closeness to 1 0 1 0" in _titles(at)


def test_judge_runs_on_the_same_data_are_offered(runs_dir):
    from core import models
    from core.train import TrainConfig
    from core.train.checkpoint import checkpoint_dict, save_checkpoint
    from core.train.store import RunStore

    judge = RunStore.create(runs_dir, TrainConfig(data="builtin:digits", model="mlp").to_dict())
    save_checkpoint(checkpoint_dict(models.build("mlp", 10, input_shape=(1, 8, 8))), judge.checkpoint_dir / "best.pt")
    judge.set_status("finished")
    judge.close()
    other = RunStore.create(runs_dir, TrainConfig(data="builtin:shapes", model="mlp").to_dict())
    other.set_status("finished")
    other.close()
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.radio(key="gan-data").set_value("images").run()
    at.selectbox(key="gan-img_builtin").set_value("builtin:digits").run()
    _no_errors(at)
    box = next(s for s in at.selectbox if s.label.startswith("Judge"))
    assert box.options == ["none", judge.run_dir.name]  # the shapes classifier is not offered


def test_interrupted_and_stopped_runs_offer_resume(runs_dir):
    from core.train.store import RunStore

    run = ring_run(runs_dir, max_steps=5)
    store = RunStore.open(run)
    store._update(status="stopped")  # as if stopped by the user after 5 steps
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    _no_errors(at)
    assert at.button(key="gan-resume-btn")


def _series_script(run_dir: str) -> None:
    import streamlit as st

    from core.train.store import RunStore
    from ui.gan_ui import _series

    df = _series(RunStore.open(run_dir))
    st.write(f"{len(df)} {df['step'].is_unique} {int(df['g_loss'].notna().sum()) if 'g_loss' in df else 0}")


def test_live_series_keeps_rows_that_reach_the_store_late(runs_dir):
    from core.train.store import RunStore

    run = RunStore.create(runs_dir, GanConfig().to_dict(), kind="gan")
    at = AppTest.from_function(_series_script, args=(str(run.run_dir),), default_timeout=30)
    for step in range(1, 301):
        run.log_scalars(step, {"g_loss": 0.7})
    run.flush()
    assert at.run().markdown[0].value == "300 True 300"
    run.log_scalars(310, {"modes_covered": 3.0})  # the meter's reading reaches the store first...
    run.flush()
    assert at.run().markdown[0].value == "301 True 300"
    for step in range(301, 311):  # ...then the series of the steps before it, 310 included
        run.log_scalars(step, {"g_loss": 0.7})
    run.flush()
    assert at.run().markdown[0].value == "310 True 310"
    run.close()
