"""Reading results back from a run: reload the checkpoint, evaluate, predict one input, summarise the model
(core/train/evaluate.py), checked against scikit-learn and against the model that was saved."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, recall_score

from core import data, models
from core.train.evaluate import (Evaluation, checkpoint_path, evaluate, load_run_model, model_summary, predict_one,
                                 prepare_input)
from core.train.store import RunStore


@pytest.fixture(scope="module")
def digits():
    return data.load("builtin:digits")


def _saved_run(tmp_path, bundle, name="cnn"):
    torch.manual_seed(0)
    model = models.build_for(bundle, name).eval()
    run = RunStore.create(tmp_path, {"data": bundle.source, "model": name, "model_opts": {}, "data_opts": {}})
    torch.save({"model": model.state_dict(), "epoch": 0}, run.checkpoint_dir / "best.pt")
    return run.run_dir, model


def test_evaluation_matches_sklearn():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=200)
    targets = rng.integers(0, 4, 200)
    ev = Evaluation(list("abcd"), targets, probs)
    preds = probs.argmax(1)
    assert (ev.confusion() == confusion_matrix(targets, preds, labels=range(4))).all()
    assert ev.per_class_accuracy() == pytest.approx(recall_score(targets, preds, average=None))
    assert ev.accuracy == pytest.approx((preds == targets).mean())
    wrong = ev.most_confident_wrong(5)
    confidences = [m.confidence for m in wrong]
    assert confidences == sorted(confidences, reverse=True) and all(m.true != m.pred for m in wrong)
    all_wrong = probs[preds != targets].max(axis=1)
    assert confidences[0] == pytest.approx(all_wrong.max())


def test_reloaded_model_predicts_like_the_saved_one(tmp_path, digits):
    run_dir, model = _saved_run(tmp_path, digits)
    assert checkpoint_path(run_dir).name == "best.pt"
    loaded, bundle = load_run_model(run_dir, digits)
    x, _ = digits.splits["val"][3]
    assert torch.allclose(loaded(x[None]), model(x[None]))
    ev = evaluate(loaded, bundle)
    assert ev.probs.shape == (len(digits.splits["val"]), 10) and ev.probs.sum(1) == pytest.approx(1, abs=1e-5)
    assert list(ev.targets) == list(digits.splits["val"].targets)
    # one uploaded file goes through the same preprocessing as the val split
    path = digits.splits["val"].paths[3]
    assert torch.allclose(prepare_input(bundle, path), x[None])
    expected = torch.softmax(model(x[None]), 1)[0].detach().numpy()
    assert predict_one(loaded, bundle, path) == pytest.approx(expected, abs=1e-6)


def test_run_without_checkpoint_says_so(tmp_path):
    run = RunStore.create(tmp_path, {"data": "builtin:digits", "model": "mlp"})
    assert checkpoint_path(run.run_dir) is None
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_run_model(run.run_dir)


def test_model_summary_counts_every_parameter(digits):
    model = models.build_for(digits, "cnn")
    rows = model_summary(model)
    assert sum(r.params for r in rows) == sum(p.numel() for p in model.parameters())
    head = models.layer_groups(model)[-1]
    assert {r.name for r in rows if not r.frozen_while_freezing} == \
        {n for n, m in model.named_children() if any(m is h for h in head)}
    for p in model.parameters():
        p.requires_grad_(False)
    assert all(r.trainable == 0 for r in model_summary(model))
