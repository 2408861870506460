"""The smaller newcomer items on the Train page (issue 13): a lone point's axes, whole epochs on the overlay, file
names with the confident mistakes."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

from core import data, models
from core.train.store import RunStore
from ui import train_figures as tf

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/4_Train.py")


def test_a_chart_with_one_point_does_not_span_minus_one_to_one():
    steps = pd.DataFrame({"step": [0], "epoch": [0], "loss": [2.3], "lr": [3e-3], "time": [0.0]})
    loss = tf.loss_figure(steps, pd.DataFrame({"epoch": pd.Series(dtype="int64")}))
    assert list(loss.layout.xaxis.range) == [-0.5, 0.5] and list(loss.layout.xaxis.tickvals) == [0]  # step 0 only
    assert list(loss.layout.yaxis.range) == pytest.approx([0, 4.6])  # around 2.3, from zero
    assert loss.data[-1].mode == "lines+markers"  # a lone point in 'lines' mode is not drawn at all
    lr = tf.lr_figure(steps)
    assert list(lr.layout.yaxis.range) == pytest.approx([0, 6e-3]) and lr.data[0].mode == "lines+markers"
    acc = tf.accuracy_figure(pd.DataFrame({"epoch": [1], "val_acc": [0.4]}))
    assert list(acc.layout.xaxis.tickvals) == [1] and list(acc.layout.yaxis.range) == [0, 1.02]
    acts = pd.DataFrame({"step": [0, 0], "layer": ["body", "head"], "mean": [0.1, 0.2], "std": [1.0, 0.5],
                         "frac_zero": [0.1, 0.0], "grad_norm": [0.3, 0.2]})
    assert list(tf.activation_figure(acts).layout.xaxis.tickvals) == [0]
    assert list(tf.activation_heatmap(acts, "std").layout.xaxis.tickvals) == [0]  # one column: step 0, not -0.4
    two = pd.DataFrame({"step": [0, 1], "epoch": [0, 0], "loss": [2.3, 2.1], "lr": [1e-3, 2e-3], "time": [0, 1]})
    assert tf.loss_figure(two, pd.DataFrame({"epoch": pd.Series(dtype="int64")})).layout.xaxis.range is None


def test_the_overlay_counts_whole_epochs():
    epochs = {"a": pd.DataFrame({"epoch": [1, 2, 3], "val_acc": [0.5, 0.6, 0.7]}),
              "b": pd.DataFrame({"epoch": [1, 2], "val_acc": [0.4, 0.5]})}
    fig = tf.overlay_figure(epochs, "val_acc")
    assert fig.layout.xaxis.dtick == 1 and fig.layout.xaxis.tickformat == "d"  # 1, 2, 3: not 1.5, 2.5
    long = {"a": pd.DataFrame({"epoch": list(range(1, 61)), "val_acc": [0.5] * 60})}
    assert tf.overlay_figure(long, "val_acc").layout.xaxis.dtick == 6  # about ten whole-number ticks


def test_audio_mistakes_name_their_files():
    runs = Path(os.environ["DLLAB_RUNS"])
    bundle = data.load("builtin:sounds")
    run = RunStore.create(runs, {"data": "builtin:sounds", "model": "wave_cnn", "epochs": 1, "model_opts": {},
                                 "data_opts": {}})
    run.set_status("running")
    run.log_epoch(0, {"train_loss": 1.0, "val_loss": 1.0, "val_acc": 0.2})
    torch.manual_seed(0)  # a test: an untrained model makes plenty of confident mistakes
    torch.save({"model": models.build_for(bundle, "wave_cnn").state_dict()}, run.checkpoint_dir / "best.pt")
    run.set_status("finished")
    run.close()
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.radio(key="results-view").set_value("Confident mistakes").run()
    assert not at.exception
    captions = [c.value for c in at.caption if "predicted:" in c.value]
    names = {Path(p).name for p in bundle.splits["val"].paths}
    assert captions and all(c.split("`")[1] in names for c in captions)  # `1-100038-A-14.wav` · true: … · predicted: …
