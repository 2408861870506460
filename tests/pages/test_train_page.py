"""AppTest of the Train page with a finished run injected into the (per-test) runs root."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import data
from core.train.store import RunStore

from tests.train_page_helpers import PAGE, inject_finished_run, no_errors as _no_errors


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
    for title in ("Loss", "Accuracy", "Learning rate", "Confusion matrix"):
        assert title in titles, title
    at.radio(key="results-view").set_value("Per class").run()
    assert "Accuracy per class" in " ".join(c.proto.spec for c in at.get("plotly_chart"))
    tables = [d.value for d in at.dataframe if "status" in d.value.columns]
    assert len(tables) == 1 and len(tables[0]) == 2  # the runs table lists both runs
    assert list(tables[0]["model"]) == ["mlp", "mlp"] and all("finished" in s for s in tables[0]["status"])


def test_text_run_results_and_a_failed_run(runs_dir):
    inject_finished_run(runs_dir, "lstm", source="builtin:reviews")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    _no_errors(at)
    assert "Confusion matrix" in " ".join(c.proto.spec for c in at.get("plotly_chart"))
    at.radio(key="results-view").set_value("Confident mistakes").run()
    assert any(m.value.startswith("> ") and "predicted" in m.value for m in at.markdown)  # quoted sentences
    at.radio(key="results-view").set_value("Predict").run()
    at.text_input(key="results-sentence").input("what a wonderful film").run()
    _no_errors(at)
    assert any(m.value.startswith("Prediction: **") for m in at.markdown)
    assert "Class probabilities" in " ".join(c.proto.spec for c in at.get("plotly_chart"))
    failed = RunStore.create(runs_dir, {"data": "builtin:digits", "model": "mlp", "epochs": 1})
    failed.set_status("running")
    for step in range(3):
        failed.log_step(step, 0, loss=2.0, lr=1e8)
    failed.set_status("failed", error="loss became NaN at step 3; try a lower learning rate")
    failed.close()
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    _no_errors(at)
    assert at.selectbox(key="train-view").value != failed.run_dir.name  # opens on the usable run (issue 19)
    at.selectbox(key="train-view").set_value(failed.run_dir.name).run()
    _no_errors(at)
    assert any("loss became NaN" in e.value for e in at.error)
    specs = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Loss" in specs and "Accuracy" not in specs  # no empty accuracy chart before any epoch ended
    assert any("No epoch was completed" in i.value for i in at.info)


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
    runs_dir.mkdir(parents=True)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    epochs = [n for n in at.number_input if n.label == "Epochs"][0]
    epochs.set_value(5).run()
    _no_errors(at)
    errors = " ".join(e.value for e in at.error)
    assert "over this server's limit of 2" in errors
    assert at.button(key="train-start").disabled
    assert list(runs_dir.iterdir()) == []  # nothing was launched


# ---- the figure and progress helpers the page is made of -------------------------------------------------------
def test_progress_covers_the_whole_run_with_pace_and_time_left():
    import dataclasses

    import pandas as pd

    from core.train.store import RunInfo
    from ui.runs import progress

    base = RunInfo(run_dir=Path("x"), name="x", status="running", data="d", model="m", epochs=3, epochs_done=1,
                   last_step=-1, best_val_acc=None, last_loss=None, started=None, ended=None, duration=None,
                   error=None, steps_per_epoch=10, total_steps=30, stop_requested=False)
    steps = pd.DataFrame({"step": [0, 14], "time": [100.0, 107.0]})  # 14 steps in 7 s: 0.5 s per step
    cases = {-1: (0.0, "step 0/30 · epoch 1/3"), 0: (1 / 30, "step 1/30 · epoch 1/3"),
             9: (10 / 30, "step 10/30 · epoch 1/3"), 14: (0.5, "step 15/30 · epoch 2/3 · 0.50 s/step · about 8 s left")}
    for last_step, (frac, text) in cases.items():
        got = progress(dataclasses.replace(base, last_step=last_step), steps if last_step == 14 else None)
        assert got[0] == pytest.approx(frac) and got[1] == text  # not restarting at every epoch
    done = progress(dataclasses.replace(base, last_step=29, status="finished"), steps)
    assert done == (1.0, "step 30/30 · epoch 3/3 · 0.50 s/step")  # no time left on a finished run


def test_pace_and_durations_by_hand():
    from core.train.pace import duration_text, pace

    p = pace(steps_done=100, total_steps=400, first=(0, 10.0), last=(99, 35.0))
    assert p.seconds_per_step == pytest.approx(25 / 99) and p.seconds_left == pytest.approx(300 * 25 / 99)
    assert pace(1, 400, (0, 5.0), (0, 5.0)).seconds_left is None  # one step: no pace yet
    assert pace(5, None, (0, 0.0), (4, 2.0)).fraction == 0.0
    assert [duration_text(s) for s in (0.4, 59.6, 60, 61, 3599, 3600, 7500)] == \
        ["0 s", "1 min", "1 min", "1 min 01 s", "59 min 59 s", "1 h 00 min", "2 h 05 min"]


def test_ema_and_thinning():
    import numpy as np
    import pandas as pd

    from core.train.suggest import smooth
    from ui.train_figures import ema, thin

    y = pd.Series([1.0, 3.0, 2.0], index=[5, 6, 7])
    smoothed = ema(y, 0.9)  # the one debiased EMA (tested against pandas in test_lr_suggest)
    assert list(smoothed) == smooth(list(y), 0.9) and list(smoothed.index) == [5, 6, 7]
    s = pd.Series(np.arange(10_001))
    t = thin(s, 1000)
    assert len(t) <= 1001 and t.iloc[0] == 0 and t.iloc[-1] == 10_000


def test_figures_from_store_frames(runs_dir):
    from ui import train_figures as tf

    store = RunStore.open(inject_finished_run(runs_dir))
    steps, epochs, acts = store.steps(), store.epochs(), store.activations()
    loss = tf.loss_figure(steps, epochs, "EMA")
    assert [t.name for t in loss.data] == ["train loss (step) (raw)", "train loss (step)", "train loss (epoch)",
                                           "val loss (epoch)"]
    assert list(loss.data[2].x) == [9, 19, 29]  # epoch markers sit at the last step of each epoch
    assert len(tf.loss_figure(steps, epochs, "none").data) == 3  # no smoothing: no faint raw copy
    heat = tf.activation_heatmap(acts, "frac_zero")
    assert list(heat.data[0].y) == ["net.0", "head"] and heat.data[0].z.shape == (2, 6)
    overlay = tf.overlay_figure({"a": epochs, "b": epochs.iloc[:2]}, "val_acc")
    assert [len(t.x) for t in overlay.data] == [3, 2]
    assert overlay.layout.title.text == "Validation accuracy by run"  # words, not the column name val_acc
    cm = tf.confusion_figure([[3, 1], [0, 4]], ["0", "1"])
    assert cm.layout.xaxis.type == "category" and cm.data[0].z[0][0] == pytest.approx(0.75)
    assert "share of" in cm.data[0].colorbar.title.text  # the colour is a row share, the numbers are counts


def test_hand_over_from_lr_finder_and_augment_pages(runs_dir):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["lr_for_training"] = 0.0123
    at.session_state["augment_for_training"] = {"kind": "image", "sample_rate": None,
                                                "steps": [{"name": "RandomRotation", "params": {}, "p": 1.0}]}
    at.session_state["augment_for_training_from"] = "builtin:digits"  # built on the data the form starts with
    at.run()
    _no_errors(at)
    lr = [n for n in at.number_input if n.label == "Learning rate"][0]
    assert lr.value == pytest.approx(0.0123)
    aug = [r for r in at.radio if r.label == "Augmentation"][0]
    assert aug.options[0] == "from the Augment page" and aug.value == "from the Augment page"
    assert any("RandomRotation" in c.value for c in at.caption)


def test_lr_hand_over_preselects_the_model_and_optimizer_it_was_found_for(runs_dir):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["lr_for_training"] = 0.02
    at.session_state["lr_for_training_from"] = {"model": "cnn", "optimizer": "sgd", "batch_size": 48,
                                                "data": "builtin:digits"}
    at.run()
    _no_errors(at)
    assert at.selectbox(key="train-model-builtin:digits").value == "cnn"  # not the menu's first model (mlp)
    assert at.selectbox(key="train-opt-cnn-builtin:digits").value == "sgd"
    assert at.number_input(key="train-bs-cnn-builtin:digits").value == 48  # the batch size the LR was found with
    assert any("found for cnn, sgd, batch 48" in c.value and "⚠️" not in c.value for c in at.caption)
    at.selectbox(key="train-opt-cnn-builtin:digits").set_value("adam").run()  # another optimizer: the LR may not suit it
    assert any("⚠️" in c.value and "LR Finder again" in c.value for c in at.caption)
    at.selectbox(key="train-model-builtin:digits").set_value("mlp").run()  # another model: offered, not filled in
    assert any("this form is mlp on builtin:digits, so it is not filled in" in c.value for c in at.caption)


@pytest.mark.slow
def test_start_button_launches_a_worker_with_the_page_settings(runs_dir):
    import time

    from core.train.store import ACTIVE, list_runs

    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["lr_for_training"] = 0.0123
    at.session_state["augment_for_training"] = {"kind": "image", "sample_rate": None,
                                                "steps": [{"name": "RandomRotation", "params": {}, "p": 1.0}]}
    at.session_state["augment_for_training_from"] = "builtin:digits"  # built on the data the form starts with
    at.run()
    [n for n in at.number_input if n.label == "Step limit (0 = none)"][0].set_value(3)
    [n for n in at.number_input if n.label == "Epochs"][0].set_value(1)
    at.run()
    at.button(key="train-start").click().run()
    _no_errors(at)
    [run] = list_runs(runs_dir)
    # issue 13 item 4: something visible happens: a toast, the form folds, the live view is brought into sight
    assert any(run.name in t.value for t in at.toast)
    assert at.expander[0].label == "New run" and at.expander[0].proto.expanded is False
    assert "live-view" in " ".join(str(e.proto) for e in at.get("iframe"))  # the scroll-into-sight script
    cfg = RunStore.open(run.run_dir).config()
    assert (cfg["lr"], cfg["max_steps"], cfg["epochs"]) == (pytest.approx(0.0123), 3, 1)
    assert cfg["augment"]["steps"][0]["name"] == "RandomRotation" and cfg["augment_preset"] is False
    assert at.selectbox(key="train-view").value == run.name  # the new run is the one shown
    deadline = time.time() + 120
    while list_runs(runs_dir)[0].status in ACTIVE and time.time() < deadline:
        time.sleep(0.5)
    assert list_runs(runs_dir)[0].status == "finished"


def _stop_after_first_epoch():
    """A callback that stops the loop once the first epoch is done and checkpointed (like the Stop button)."""
    from core.train import Callback, StopTraining

    class StopAfterFirstEpoch(Callback):
        order = 1000  # after the checkpointer

        def after_epoch(self, loop):
            raise StopTraining("stopped by the test after one epoch", status="stopped")

    return StopAfterFirstEpoch()


@pytest.mark.slow
def test_resume_a_stopped_run(runs_dir):
    import time

    from core.train import TrainConfig, fit
    from core.train.store import ACTIVE, list_runs

    # a real run of 1 epoch out of 2 (its checkpoints are the trainer's own), then marked stopped
    cfg = TrainConfig(data="builtin:digits", model="mlp", epochs=2, batch_size=256, runs_dir=str(runs_dir))
    first = fit(cfg, callbacks=[_stop_after_first_epoch()])
    run = RunStore.open(first.run_dir)
    assert run.info().status == "stopped" and (run.checkpoint_dir / "last.pt").is_file()
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.button(key="resume-btn").click().run()
    _no_errors(at)
    new = [r for r in list_runs(runs_dir) if r.run_dir != run.run_dir]
    assert len(new) == 1 and at.selectbox(key="train-view").value == new[0].name
    assert RunStore.open(new[0].run_dir).config()["resume_from"] == str(run.run_dir)
    deadline = time.time() + 120
    while RunStore.open(new[0].run_dir).info().status in ACTIVE and time.time() < deadline:
        time.sleep(0.5)
    notes = " ".join(RunStore.open(new[0].run_dir).notes().message)
    assert RunStore.open(new[0].run_dir).info().status == "finished" and "resumed from" in notes


def _overlay_script(runs_dir: str) -> None:
    from core.train.store import list_runs
    from ui.run_list import overlay_view

    overlay_view(list_runs(runs_dir), key="ov")


def test_overlay_of_two_runs(runs_dir):
    a = inject_finished_run(runs_dir, epochs=3)
    b = inject_finished_run(runs_dir, epochs=2)
    at = AppTest.from_function(_overlay_script, args=(str(runs_dir),), default_timeout=60).run()
    _no_errors(at)
    import json

    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in fig["data"]} == {a.name, b.name}
    assert all(t["mode"] == "lines+markers" for t in fig["data"])  # val_acc: per-epoch points
    at.radio(key="ov-metric").set_value("loss").run()
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in fig["data"] if not t["name"].endswith("(raw)")} == {a.name, b.name}


def test_transfer_options_only_for_transfer_models(runs_dir):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not [n for n in at.number_input if n.label == "Frozen epochs"]
    at.selectbox(key="train-model-builtin:digits").set_value("resnet18").run()
    _no_errors(at)
    labels = {n.label for n in at.number_input}
    assert {"Frozen epochs", "Differential LR ratio"} <= labels
    assert [n for n in at.number_input if n.label == "Epochs"][0].value == 5  # the model's recommended defaults
    [n for n in at.number_input if n.label == "Frozen epochs"][0].set_value(9).run()
    assert any("freeze epochs must be between 0 and the number of epochs" in e.value for e in at.error)
    assert at.button(key="train-start").disabled


def _incremental_script(run_dir: str) -> None:
    import streamlit as st

    from core.train.store import RunStore
    from ui.runs import _incremental

    steps = _incremental(RunStore.open(run_dir), "steps")
    st.write(f"{len(steps)} {steps['step'].is_unique} {steps['step'].is_monotonic_increasing}")


def test_polling_reads_only_new_rows_and_loses_none(runs_dir):
    run = RunStore.create(runs_dir, {"data": "builtin:digits", "model": "mlp"})
    run.set_status("running")
    at = AppTest.from_function(_incremental_script, args=(str(run.run_dir),), default_timeout=30).run()
    assert at.markdown[0].value == "0 True True"
    for chunk in range(3):
        for i in range(chunk * 7, chunk * 7 + 7):
            run.log_step(i, 0, 1.0, 0.1)
        run.flush()
        at.run()
        assert at.markdown[0].value == f"{7 * (chunk + 1)} True True"
    run.close()


def test_interrupted_run_says_so_with_the_worker_log(runs_dir):
    import subprocess
    import sys

    run = RunStore.create(runs_dir, {"data": "builtin:digits", "model": "mlp", "epochs": 2})
    run.log_step(0, 0, 2.0, 0.01)
    run.flush()
    (run.run_dir / "worker.log").write_text("Killed: out of memory while loading the batch\n")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run.set_pid(dead.pid)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    _no_errors(at)
    assert any("stopped without saying so" in w.value for w in at.warning)
    assert any("out of memory" in c.value for c in at.code)
    assert "interrupted" in " ".join(at.markdown[i].value for i in range(len(at.markdown)))


def test_absurd_lr_and_oversized_batch_are_flagged_but_not_refused(runs_dir):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    lr = [n for n in at.number_input if n.label == "Learning rate"][0]
    lr.set_value(1e9).run()
    at.number_input(key="train-bs-cnn-builtin:digits").set_value(1000).run()  # digits has 1259 training examples: fine
    _no_errors(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "far above anything that trains" in warnings and "larger than" not in warnings
    assert not at.button(key="train-start").disabled  # a teacher may want to show a run blowing up
    at.selectbox(key="train-data_builtin").set_value("builtin:sounds").run()  # 192 training clips
    at.number_input(key="train-bs-mel_cnn-builtin:sounds").set_value(500).run()
    _no_errors(at)
    assert any("larger than the 192 training examples" in w.value for w in at.warning)


def test_the_form_shows_counts_without_decoding_any_data(runs_dir, monkeypatch):
    """The server stays light: counts and kind come from the file index (the worker loads the data itself)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the Train page decoded data")

    monkeypatch.setattr("core.data.images.decode", refuse)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    _no_errors(at)
    caption = " ".join(c.value for c in at.caption)
    bundle = data.load("builtin:digits", verify=False)
    assert f"{len(bundle.splits['train'])} training / {len(bundle.splits['val'])} validation examples" in caption
