"""The worker: runs launched in a separate process finish, stop on request, and survive being killed as
'interrupted' with their metrics intact; failures are recorded with the message."""
from __future__ import annotations

import os
import signal
import time

import pytest

from core.train import TrainConfig
from core.train.store import ACTIVE, RunStore, list_runs
from core.train.worker import launch, launch_problems, launch_warnings, log_tail, run_worker

pytestmark = pytest.mark.slow
TIMEOUT = 120  # seconds; the worker imports torch and loads the data first (slow on a busy 2-core machine)


def _wait(store: RunStore, until, timeout: float = TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = store.info()
        if until(info):
            return info
        time.sleep(0.2)
    raise AssertionError(f"timed out; last state {store.info()}; log:\n{log_tail(store.run_dir)}")


@pytest.fixture(scope="module")
def long_runs(tmp_path_factory):
    """Three long runs (many epochs of tiny batches) launched at once, so their start-up costs overlap:
    one is stopped from the store, one gets SIGTERM, one SIGKILL."""
    runs = tmp_path_factory.mktemp("long") / "runs"
    cfg = TrainConfig(data="builtin:digits", model="mlp", epochs=50, batch_size=4, runs_dir=str(runs),
                      stats_every=5, log_every=5)
    stores = {name: RunStore.open(launch(cfg)) for name in ("stop", "term", "kill")}
    yield stores
    for store in stores.values():  # never leave a worker behind
        info = store.info()
        if info.status in ACTIVE and info.pid:
            os.kill(info.pid, signal.SIGKILL)


def test_launch_runs_to_completion(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the worker works in the caller's directory: relative paths mean the same there
    cfg = TrainConfig(data="builtin:digits", model="mlp", epochs=1, max_steps=10, runs_dir="runs")
    run_dir = launch(cfg)
    store = RunStore.open(run_dir)
    assert store.config()["model"] == "mlp" and run_dir.resolve().parent == tmp_path / "runs"
    info = _wait(store, lambda i: i.status not in ACTIVE)
    assert info.status == "finished", (info, log_tail(run_dir))
    assert info.last_step == 9 and len(store.steps()) == 10
    assert info.epochs_done == 1 and info.best_val_acc is not None
    assert (run_dir / "worker.log").is_file()


def test_killed_worker_is_interrupted_with_metrics_intact(long_runs):
    store = long_runs["kill"]
    info = _wait(store, lambda i: i.status == "running" and i.last_step >= 30)
    os.kill(info.pid, signal.SIGKILL)
    before = len(store.steps())
    info = _wait(store, lambda i: i.status != "running", timeout=10)
    assert info.status == "interrupted"
    [listed] = [r for r in list_runs(store.run_dir.parent) if r.run_dir == store.run_dir]
    assert listed.status == "interrupted" and listed.last_step >= 30
    steps = store.steps()
    assert len(steps) >= before >= 31  # everything flushed before the kill is still there
    assert list(steps.step) == list(range(len(steps)))


def test_stop_request_stops_the_worker(long_runs):
    store = long_runs["stop"]
    _wait(store, lambda i: i.status == "running" and i.last_step >= 5)
    store.request_stop()
    info = _wait(store, lambda i: i.status not in ACTIVE, timeout=60)  # how fast: bench/bench_stop.py
    assert info.status == "stopped", (info, log_tail(store.run_dir))
    assert info.epochs_done < 50 and info.last_step < info.total_steps - 1


def test_sigterm_stops_gracefully(long_runs):
    store = long_runs["term"]
    info = _wait(store, lambda i: i.status == "running" and i.last_step >= 5)
    os.kill(info.pid, signal.SIGTERM)
    info = _wait(store, lambda i: i.status not in ACTIVE, timeout=60)
    assert info.status == "stopped", (info, log_tail(store.run_dir))


def test_training_error_is_recorded_as_failed(tmp_path):
    cfg = TrainConfig(data=str(tmp_path / "no-such-folder"), model="mlp", max_steps=5)
    store = RunStore.create(tmp_path / "runs", cfg.to_dict())
    assert run_worker(store.run_dir) == 1  # the worker's body, in this process
    info = store.info()
    assert info.status == "failed" and "no-such-folder" in info.error


def test_impossible_config_is_refused_before_a_run_exists(tmp_path, monkeypatch):
    (tmp_path / "lab.toml").write_text("[limits]\nmax_epochs = 3\nmax_batch_size = 16\n")
    monkeypatch.setenv("DLLAB_CONFIG", str(tmp_path / "lab.toml"))
    cfg = TrainConfig(data="builtin:digits", model="lstm", epochs=5, batch_size=32, lr=-1,
                      runs_dir=str(tmp_path / "runs"))
    problems = " | ".join(launch_problems(cfg, kind="image"))
    for reason in ("limit of 3", "limit of 16", "learning rate must be positive", "is for text data"):
        assert reason in problems
    with pytest.raises(ValueError, match="limit of 3"):
        launch(cfg, kind="image")
    assert not (tmp_path / "runs").exists()


def test_launch_warnings_for_an_absurd_lr_and_a_batch_larger_than_the_data():
    assert launch_warnings(TrainConfig(lr=3e-3, batch_size=64), train_size=1000) == []
    lr_warning, = launch_warnings(TrainConfig(lr=1e9), train_size=None)
    assert "1e+09" in lr_warning and "NaN" in lr_warning
    batch_warning, = launch_warnings(TrainConfig(batch_size=500), train_size=192)
    assert "500" in batch_warning and "192 training examples" in batch_warning
