"""core.train.fit: the loop, its events, stopping, NaN handling, checkpoints, resume, freezing, determinism."""
from __future__ import annotations

import math

import pytest
import torch

from core.train import TrainConfig, fit
from core.train.callbacks import Callback, StopTraining
from core.train.checkpoint import load_checkpoint, load_model
from core.train.store import RunStore
from core.train.synthetic import synthetic_bundle
from tests.hook_spy import HookSpy

TINY = dict(model="cnn", model_opts={"width": 8}, epochs=2, batch_size=16, tensorboard=False, augment_preset=False,
            scheduler="none", lr=3e-3)


@pytest.fixture(scope="module")
def bundle():
    return synthetic_bundle("image", n=48)


def _config(tmp_path, **kw):
    return TrainConfig(runs_dir=str(tmp_path / "runs"), **{**TINY, **kw})


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def __getattr__(self, name):
        if name.startswith(("before_", "after_")):
            return lambda loop: self.events.append(name)
        raise AttributeError(name)


def test_fit_records_a_finished_run(tmp_path, bundle):
    result = fit(_config(tmp_path), bundle=bundle)
    assert result.status == "finished" and result.epochs_done == 2 and result.steps == 6
    store = RunStore.open(result.run_dir)
    assert store.info().status == "finished"
    epochs = store.epochs()
    assert list(epochs.epoch) == [0, 1]
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "lr"} <= set(epochs.columns)
    assert epochs.val_acc.tolist() == pytest.approx([h["val_acc"] for h in result.history])
    assert len(store.steps()) == 6 and store.steps().loss.notna().all()
    assert store.config()["model"] == "cnn"
    assert (store.checkpoint_dir / "best.pt").is_file() and (store.checkpoint_dir / "last.pt").is_file()


def test_event_order(tmp_path, bundle):
    rec = Recorder()
    fit(_config(tmp_path, epochs=1, stats_every=0, max_steps=2), [rec], bundle=bundle)
    batch = ["before_batch", "after_loss", "after_backward", "after_batch"]
    # gradient norms (grad_every 10: step 0 only) are fetched once recorded and published as after_grads
    assert rec.events == ["before_fit", "before_epoch", *batch, "after_grads", *batch, "after_epoch", "after_fit"]


def test_stop_exception_still_cleans_up(tmp_path, bundle, monkeypatch):
    spy = HookSpy(monkeypatch)
    class StopAtStep3(Callback):
        def before_fit(self, loop):
            self.model = loop.model

        def after_batch(self, loop):
            if loop.step == 3:
                raise StopTraining("enough", status="stopped")

    cb, rec = StopAtStep3(), Recorder()
    result = fit(_config(tmp_path, stats_every=1), [cb, rec], bundle=bundle)
    assert result.status == "stopped" and result.stop_reason == "enough" and result.steps == 3
    assert rec.events[-1] == "after_fit"
    assert spy.registered > 0 and spy.calls_in(cb.model, bundle.splits['train'][0][0][None]) == 0  # hooks removed
    assert RunStore.open(result.run_dir).info().status == "stopped"


def test_stop_flag_in_store_stops_within_a_batch(tmp_path, bundle):
    config = _config(tmp_path)
    run = RunStore.create(config.runs_dir, config.to_dict())
    run.request_stop()
    result = fit(config, run=run, bundle=bundle)
    assert result.status == "stopped" and result.steps == 0
    assert run.info().status == "stopped"


def test_non_finite_loss_fails_with_advice_and_keeps_last_good_checkpoint(tmp_path, bundle):
    class PoisonEpoch2(Callback):
        def after_loss(self, loop):
            if loop.epoch == 1:
                loop.loss = loop.loss * float("nan")

    result = fit(_config(tmp_path, epochs=3), [PoisonEpoch2()], bundle=bundle)
    assert result.status == "failed" and result.epochs_done == 1
    assert "NaN" in result.error and "lower learning rate" in result.error and "clipping" in result.error
    assert "last good checkpoint (after epoch 1) was kept" in result.error
    info = RunStore.open(result.run_dir).info()
    assert info.status == "failed" and "lower learning rate" in info.error
    ckpt = load_checkpoint(result.run_dir)
    assert ckpt["epoch"] == 0
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_max_steps_limits_a_tiny_run(tmp_path, bundle):
    result = fit(_config(tmp_path, epochs=5, max_steps=4), bundle=bundle)
    assert result.steps == 4 and result.status == "finished" and "step limit" in result.stop_reason
    assert result.epochs_done == 2  # the partial epoch is validated and checkpointed too


def test_crash_marks_the_run_failed_and_reraises(tmp_path, bundle, monkeypatch):
    spy = HookSpy(monkeypatch)
    class Boom(Callback):
        def before_fit(self, loop):
            self.model = loop.model

        def after_batch(self, loop):
            raise RuntimeError("disk on fire")

    class BrokenCleanup(Callback):
        def after_fit(self, loop):
            raise OSError("cleanup failed too")

    config, boom = _config(tmp_path, stats_every=1), Boom()
    run = RunStore.create(config.runs_dir, config.to_dict())
    with pytest.raises(RuntimeError, match="disk on fire"):  # the original error, not the cleanup's
        fit(config, [boom, BrokenCleanup()], run=run, bundle=bundle)
    assert run.info().status == "failed" and "disk on fire" in run.info().error
    assert spy.registered > 0 and spy.calls_in(boom.model, bundle.splits['train'][0][0][None]) == 0  # cleanup ran


def test_impossible_config_is_refused(tmp_path):
    text = synthetic_bundle("text", n=16)
    with pytest.raises(ValueError, match="not available for text"):
        fit(_config(tmp_path, model="lstm", model_opts={}, mixup_alpha=0.4), bundle=text)


def test_checkpoint_round_trip_weights_only(tmp_path, bundle):
    result = fit(_config(tmp_path, epochs=1), bundle=bundle)
    raw = torch.load(result.best_checkpoint, weights_only=True)
    assert {"model", "optimizer", "config", "epoch", "step", "classes"} <= set(raw)
    assert raw["config"]["model"] == "cnn" and raw["classes"] == ["c0", "c1"]
    model, ckpt = load_model(result.run_dir)
    x = torch.stack([bundle.splits["val"][i][0] for i in range(4)])
    for k, v in ckpt["model"].items():
        torch.testing.assert_close(model.state_dict()[k], v)
    assert model(x).shape == (4, 2) and not model.training


def test_resume_continues_from_last_checkpoint(tmp_path, bundle):
    first = fit(_config(tmp_path, epochs=1), bundle=bundle)
    saved = load_checkpoint(first.run_dir)

    class Capture(Callback):
        def before_fit(self, loop):
            self.start = {k: v.clone() for k, v in loop.model.state_dict().items()}
            self.epoch, self.step = loop.start_epoch, loop.step

    cap = Capture()
    second = fit(_config(tmp_path, epochs=2, resume_from=first.run_dir), [cap], bundle=bundle)
    assert (cap.epoch, cap.step) == (1, 3)
    for k, v in saved["model"].items():
        assert torch.equal(cap.start[k], v)
    assert [h["epoch"] for h in second.history] == [1] and second.steps == 6
    assert any("resumed" in n for n in second.notices)


def test_same_seed_same_run(tmp_path, bundle):
    a = fit(_config(tmp_path, deterministic=True, seed=3), bundle=bundle)
    b = fit(_config(tmp_path, deterministic=True, seed=3), bundle=bundle)
    assert a.history == b.history
    assert not torch.are_deterministic_algorithms_enabled()  # the global flag is restored


def test_early_stopping(tmp_path, bundle):
    class FlatValLoss(Callback):  # runs before EarlyStopping (order 0 < 30): the val loss never improves
        def after_epoch(self, loop):
            loop.metrics["val_loss"] = 1.0

    result = fit(_config(tmp_path, epochs=6, early_stop=2), [FlatValLoss()], bundle=bundle)
    assert result.status == "finished" and result.epochs_done == 3 and "early stopping" in result.stop_reason


@pytest.mark.parametrize("kind,model", [("audio", "mel_cnn"), ("audio", "wave_cnn"), ("text", "gru")])
def test_other_kinds_train(tmp_path, kind, model):
    result = fit(_config(tmp_path, model=model, model_opts={}, epochs=1, max_steps=2),
                 bundle=synthetic_bundle(kind, n=32))
    assert result.status == "finished" and math.isfinite(result.history[0]["val_loss"])


def test_spectrogram_features_are_cached_across_epochs(tmp_path, monkeypatch):
    from core.models import features

    calls = []
    original = features.CachedFeatures.features

    def counting(self, index):
        if index not in self._cache:
            calls.append(index)
        return original(self, index)

    monkeypatch.setattr(features.CachedFeatures, "features", counting)
    bundle = synthetic_bundle("audio", n=16)
    fit(_config(tmp_path, model="mel_cnn", model_opts={}, epochs=3, batch_size=8), bundle=bundle)
    assert len(calls) == 16 + 8  # every train and val clip once, not once per epoch


def test_best_checkpoint_survives_a_worse_last_epoch(tmp_path, bundle):
    class WorseLater(Callback):  # runs before the checkpointer: epoch 1 "scores" worse than epoch 0
        def after_epoch(self, loop):
            loop.metrics["val_acc"] = 0.9 if loop.epoch == 0 else 0.1

    result = fit(_config(tmp_path), [WorseLater()], bundle=bundle)
    best, last = load_checkpoint(result.run_dir, "best.pt"), load_checkpoint(result.run_dir, "last.pt")
    assert (best["epoch"], last["epoch"]) == (0, 1)
    assert best["metrics"]["val_acc"] == 0.9
    assert not all(torch.equal(best["model"][k], last["model"][k]) for k in best["model"])


def test_fit_leaves_the_bundle_transform_as_it_found_it(tmp_path):
    bundle = synthetic_bundle("image", n=32)
    mine = torch.nn.Identity()  # a transform the caller had set on its own bundle
    bundle.splits["train"].transform = mine
    fit(_config(tmp_path, epochs=1, max_steps=1, augment_preset=True), bundle=bundle)
    assert bundle.splits["train"].transform is mine
