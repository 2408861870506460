"""AppTest of the Inspect page on a run trained by core.train.fit (copied into each test's runs root)."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.inspect import layer_table, layer_totals, load_run
from core.inspect.jobs import export_job_config, visual_job_config
from core.jobs import run_inline
from core.train import TrainConfig, fit
from core.train.store import RunStore, list_runs
from tests.inspect_helpers import make_run

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/7_Inspect.py")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny real training run: cnn on the digits, a few steps."""
    config = TrainConfig(data="builtin:digits", model="cnn", epochs=1, max_steps=3, batch_size=16,
                         model_opts={"width": 8}, tensorboard=False, stats_every=0,
                         runs_dir=str(tmp_path_factory.mktemp("trained")))
    result = fit(config)
    assert result.status == "finished"
    return Path(result.run_dir)


@pytest.fixture
def run_dir(trained) -> Path:
    runs = Path(os.environ["DLLAB_RUNS"])
    runs.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(trained, runs / trained.name))


def _page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=120)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _table(at: AppTest):
    return next(d.value for d in at.dataframe if "receptive field" in d.value.columns)


def _image_captions(at: AppTest) -> list[str]:
    return [img.caption for el in at.get("image") for img in el.proto.imgs]


def _view(at: AppTest, name: str) -> AppTest:
    at.radio(key="inspect-view").set_value(name).run()
    _ok(at)
    return at


def test_layer_table_totals_and_receptive_field(run_dir):
    at = _page().run()
    _ok(at)
    assert at.selectbox(key="inspect-source").value == str(run_dir)
    target = load_run(run_dir)
    totals = layer_totals(target.model, layer_table(target.model, target.input_shape))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parameters"] == f"{totals.params:,}" and metrics["Frozen for the whole run"] == "0"
    table = _table(at)
    assert list(table["layer"][:2]) == ["features", "· features.0"] and "global" in set(table["receptive field"])
    specs = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Receptive field growth" in specs and "avgpool: field 30, unit (1, 1)" in specs  # the deepest by default
    at.selectbox(key="inspect-layers-rf-layer").set_value("features.0").run()
    at.slider(key="inspect-layers-rf-row").set_value(0).run()
    _ok(at)
    box = next(c.proto.spec for c in at.get("plotly_chart") if "features.0: field 4" in c.proto.spec)
    assert '"y0":-0.5' in box.replace(" ", "")  # unit row 0 sees from the top row of pixels
    at.radio(key="inspect-layers-depth").set_value("every layer").run()
    _ok(at)
    assert len(_table(at)) > len(table)


def test_grad_cam_view(run_dir):
    at = _view(_page().run(), "Where it looks")
    assert any(m.value.startswith("Grad-CAM for **") for m in at.markdown)
    assert len(at.get("image")) >= 1 + 8  # the chosen example and the grid
    at.selectbox(key="inspect-cam-class").set_value(3).run()
    at.slider(key="inspect-cam-opacity").set_value(0.8).run()
    _ok(at)
    assert any(m.value.startswith("Grad-CAM for **3**") for m in at.markdown)
    assert sum("predicted" in c.value for c in at.caption) == 8


def test_finished_class_visualisation_is_shown(run_dir):
    run_inline("class_visual", visual_job_config(str(run_dir), [0, 1, 2, 3], steps=64))
    at = _view(_page().run(), "Class visualisation")
    assert at.button(key="inspect-visual-start").label == "Visualise again"
    assert sum("logit" in c for c in _image_captions(at)) == 4
    assert "Target logit before and after" in " ".join(c.proto.spec for c in at.get("plotly_chart"))


def test_visualise_button_starts_a_job_in_a_worker(run_dir):
    at = _view(_page().run(), "Class visualisation")
    at.multiselect(key="inspect-visual-classes").set_value([1]).run()
    at.slider(key="inspect-visual-steps").set_value(8).run()
    at.button(key="inspect-visual-start").click().run()
    _ok(at)
    jobs = list_runs(kind="class_visual")
    assert len(jobs) == 1 and RunStore.open(jobs[0].run_dir).config()["classes"] == [1]
    deadline = time.time() + 120
    while list_runs(kind="class_visual")[0].status in ("queued", "running") and time.time() < deadline:
        time.sleep(0.5)
    assert list_runs(kind="class_visual")[0].status == "finished"
    at.run()
    _ok(at)
    assert any(c.startswith("1: p = ") for c in _image_captions(at))


def test_export_view_shows_the_check_and_downloads(run_dir, monkeypatch):
    run_inline("export", export_job_config(str(run_dir), "state_dict"))
    at = _view(_page().run(), "Export")
    assert any("matches the lab's model on 8 validation examples" in s.value for s in at.success)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == [f"Download {run_dir.name}.pt", f"Download model_{run_dir.name.replace('-', '_')}.py"]
    from core.inspect import export

    real = export.importlib.util.find_spec
    monkeypatch.setattr(export.importlib.util, "find_spec", lambda n, *a: None if n == "onnx" else real(n, *a))
    at.radio(key="inspect-export-format").set_value("onnx").run()
    assert any("pip install onnx" in e.value for e in at.error)


def test_text_run_and_spatial_transformer_run():
    runs = Path(os.environ["DLLAB_RUNS"])
    text = make_run(runs, "lstm", "builtin:reviews")
    at = _page().run()
    at.selectbox(key="inspect-source").set_value(str(text)).run()
    _ok(at)
    assert any("reads the whole sentence" in i.value for i in at.info)
    assert any("token ids (the first validation example)" in c.value for c in at.caption)
    _view(at, "Where it looks")
    assert any("a text model's LSTM has none" in i.value for i in at.info)
    stn = make_run(runs, "stn_cnn", "builtin:digits")
    at = _page().run()
    assert at.selectbox(key="inspect-source").value == str(stn)  # the newest run
    _view(at, "Spatial transformer")
    assert sum(c.value.startswith("θ = [[1.00, 0.00, 0.00]") for c in at.caption) == 8  # identity at start


def test_pretrained_imagenet_model_is_offered():
    at = _page().run()
    _ok(at)
    assert at.selectbox(key="inspect-source").options == ["pretrained ImageNet (EfficientNet-Lite0) on sample photos"]
    assert {m.label: m.value for m in at.metric}["Parameters"] == "4,652,008"


def test_sigmoid_mlp_run_offers_the_exact_inverse():
    make_run(Path(os.environ["DLLAB_RUNS"]), "mlp_sigmoid", "builtin:digits", hidden=[16])
    at = _view(_page().run(), "Where it looks")
    assert any("no convolutional layer" in i.value for i in at.info)
    _view(at, "Class visualisation")
    assert any(m.value.startswith("**Exact inverse**") for m in at.markdown)
    assert len(at.success) + len(at.warning) == 1  # says whether the inverse is exact
    assert any("scaled to grey" in c for c in _image_captions(at))
