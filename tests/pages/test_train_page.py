"""AppTest of the Train page with a finished run injected into the (per-test) runs root."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core import data, models
from core.train.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/4_Train.py")


def inject_finished_run(runs_dir: Path, model_name: str = "mlp", epochs: int = 3) -> Path:
    """A run as the trainer would leave it: steps, epochs, activations, a checkpoint, status finished."""
    bundle = data.load("builtin:digits")
    run = RunStore.create(runs_dir, {"data": "builtin:digits", "model": model_name, "epochs": epochs,
                                     "model_opts": {}, "data_opts": {}})
    run.set_status("running")
    run.set_plan(steps_per_epoch=10, total_steps=10 * epochs)
    for step in range(10 * epochs):
        run.log_step(step, step // 10, loss=2.3 / (1 + step / 5), lr=1e-3)
        if step % 5 == 0:
            run.log_activations(step, [("net.0", 0.1, 1.0 - step / 100, 0.2, 0.5), ("head", 0.0, 0.8, 0.0, 0.1)])
    for e in range(epochs):
        run.log_epoch(e, {"train_loss": 1.0 / (e + 1), "val_loss": 1.2 / (e + 1), "val_acc": 0.5 + 0.1 * e})
    model = models.build_for(bundle, model_name)
    torch.save({"model": model.state_dict()}, run.checkpoint_dir / "best.pt")
    run.set_status("finished")
    run.close()
    return run.run_dir


@pytest.fixture
def runs_dir():
    return Path(os.environ["DLLAB_RUNS"])


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_page_without_runs(runs_dir):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    _no_errors(at)
    assert any("No runs yet" in i.value for i in at.info)
    assert at.button(key="train-start")  # the new-run form is there with the built-in digits chosen


def test_finished_run_shows_curves_table_and_results(runs_dir):
    inject_finished_run(runs_dir)
    newest = inject_finished_run(runs_dir, epochs=2)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    _no_errors(at)
    assert at.selectbox(key="train-view").value == newest.name  # the most recent run is shown
    charts = at.get("plotly_chart")
    assert len(charts) >= 5  # loss, accuracy, lr, activations, heatmap + results (confusion, per class)
    titles = " ".join(c.proto.spec for c in charts)
    for title in ("Loss", "Accuracy", "Learning rate", "Confusion matrix", "Accuracy per class"):
        assert title in titles, title
    tables = [d.value for d in at.dataframe if "status" in d.value.columns]
    assert len(tables) == 1 and len(tables[0]) == 2  # the runs table lists both runs
    assert list(tables[0]["model"]) == ["mlp", "mlp"] and all("finished" in s for s in tables[0]["status"])


def test_heatmap_stat_and_smoothing_switch(runs_dir):
    inject_finished_run(runs_dir)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="live-stat").set_value("frac_zero").run()
    at.radio(key="live-smooth").set_value("none").run()
    _no_errors(at)
    assert "frac_zero per layer" in " ".join(c.proto.spec for c in at.get("plotly_chart"))


def test_impossible_settings_are_refused(runs_dir, monkeypatch, tmp_path):
    cfg = tmp_path / "lab.toml"
    cfg.write_text("[limits]\nmax_epochs = 2\n")
    monkeypatch.setenv("DLLAB_CONFIG", str(cfg))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    epochs = [n for n in at.number_input if n.label == "Epochs"][0]
    epochs.set_value(5).run()
    _no_errors(at)
    errors = " ".join(e.value for e in at.error)
    assert "over this server's limit of 2" in errors
    assert at.button(key="train-start").disabled
    assert not list(runs_dir.glob("*")) if runs_dir.exists() else True  # nothing was launched
