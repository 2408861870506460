"""Issue 17's rules in core: who controls a run, limits once for every job kind with a per-student quota, queued
workers that back off, worker threads shared among jobs, a store that cannot be written says why."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.access import can_control, can_delete, is_own
from core.jobs import launch, store_failure, worker_threads
from core.jobs.limits import config_problems, launch_refusals
from core.jobs.queue import starting
from core.settings import Limits, Settings, load_settings
from core.train.store import RunStore, list_runs


@pytest.fixture
def served(tmp_path, monkeypatch):
    (tmp_path / "lab.toml").write_text("served = true\n[limits]\nmax_jobs_per_user = 2\nmax_batch_size = 256\n")
    monkeypatch.setenv("DLLAB_CONFIG", str(tmp_path / "lab.toml"))
    return load_settings()


def _info(owner):
    return SimpleNamespace(owner=owner, data="builtin:digits")


def test_only_the_owner_and_the_teacher_control_a_run_when_served(served):
    ann = _info("ann")
    assert can_control(ann, "ann", served) and can_control(ann, "bob", served, teacher=True)
    assert not can_control(ann, "bob", served) and not can_control(_info(None), "bob", served)
    assert can_delete(ann, "bob", served, teacher=True) and not can_delete(ann, "bob", served)
    assert is_own(ann, "ann", served) and not is_own(ann, "bob", served)
    alone = Settings()  # not served: one person's lab, every run is theirs
    assert can_control(ann, "bob", alone) and is_own(ann, "bob", alone)


def _active(runs: Path, owner: str, status: str = "running") -> RunStore:
    store = RunStore.create(runs, {"data": "builtin:digits", "model": "mlp"}, kind="train", owner=owner)
    store.set_pid(os.getpid())  # this live test process is its worker
    if status == "running":
        store.set_status("running")
    return store


def test_the_quota_counts_running_and_queued_jobs_per_student(served, runs_dir):
    stores = [_active(runs_dir, "ann"), _active(runs_dir, "ann", status="queued")]
    [reason] = launch_refusals({}, "ann", runs_dir, served)
    assert "you already have 2 jobs running or waiting" in reason and "max_jobs_per_user" in reason
    assert launch_refusals({}, "bob", runs_dir, served) == []
    assert launch_refusals({}, "ann", runs_dir, Settings()) == []  # not served: no quota
    with pytest.raises(ValueError, match="max_jobs_per_user"):
        launch("lr_find", _sweep_config(), owner="ann")
    assert len(list_runs()) == 2  # nothing created
    for store in stores:
        store.close()


def _sweep_config(**train) -> dict:
    from core.train import TrainConfig
    from core.train.lr_finder import SweepSettings
    from core.train.lr_job import lr_job_config

    return lr_job_config(TrainConfig(data="builtin:digits", model="mlp", **train), SweepSettings())


def test_an_lr_sweep_is_capped_like_training(served):
    """Before, LR sweeps had no batch cap: the limit lived in the Train and GAN checks only."""
    config = _sweep_config(batch_size=5000)
    with pytest.raises(ValueError, match=r"batch size 5000 is over this server's limit of 256"):
        launch("lr_find", config, owner="ann")
    assert list_runs() == []  # nothing created, no worker started
    assert config_problems({"epochs": 7, "batch_size": 8}, Limits(max_epochs=5)) == \
        ["7 epochs is over this server's limit of 5 (max_epochs in lab.toml)"]


def test_a_job_next_in_line_with_a_free_slot_is_starting_not_queued(runs_dir):
    first = _active(runs_dir, "ann", status="queued")
    second = _active(runs_dir, "bob", status="queued")
    assert starting(first.run_dir, cap=4) and starting(second.run_dir, cap=4)  # slots for both: start-up
    assert starting(first.run_dir, cap=1) and not starting(second.run_dir, cap=1)  # one slot: bob really waits
    first.close(), second.close()


def test_queued_workers_back_off_and_beat_rarely(monkeypatch, runs_dir):
    from core.jobs import queue

    sleeps, beats, asked = [], [], []
    store = SimpleNamespace(run_dir=runs_dir / "x", heartbeat=lambda: beats.append(1),
                            stop_requested=lambda: asked.append(1) or len(asked) > 12)
    monkeypatch.setattr(queue, "queue_position", lambda run_dir: 3)
    monkeypatch.setattr(queue, "running_count", lambda runs: 4)  # every slot taken: it waits
    monkeypatch.setattr(queue.time, "sleep", sleeps.append)
    assert queue.wait_for_slot(store, cap=4) is None  # (stopped while waiting)
    assert sleeps[0] == queue.POLL_SECONDS and sleeps[-1] == queue.MAX_POLL_SECONDS
    assert all(b >= a for a, b in zip(sleeps, sleeps[1:]))
    assert len(beats) == 1  # one heartbeat in this (fake) second, not one per look


def test_worker_threads_are_shared_among_the_jobs_that_run(monkeypatch):
    monkeypatch.delenv("DLLAB_WORKER_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 9)
    assert [worker_threads(n) for n in (1, 2, 4, 100)] == [8, 4, 2, 1]


@pytest.mark.parametrize("log, words", [("sqlite3.OperationalError: database is locked", "locked"),
                                        ("OSError: [Errno 28] No space left on device", "disk is full"),
                                        ("sqlite3.OperationalError: database or disk is full", "disk is full")])
def test_a_store_that_cannot_be_written_says_why(tmp_path, log, words):
    (tmp_path / "worker.log").write_text(f"Traceback (most recent call last):\n{log}\n")
    assert words in store_failure(tmp_path)


def test_a_killed_worker_without_a_store_error_gives_no_store_reason(tmp_path):
    (tmp_path / "worker.log").write_text("step 10\n")
    assert store_failure(tmp_path) is None


def test_an_unserved_lab_listens_on_this_machine_only(monkeypatch, tmp_path):
    from core.settings import server_address

    monkeypatch.setenv("DLLAB_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("DLLAB_SERVED", raising=False)
    monkeypatch.delenv("DLLAB_ADDRESS", raising=False)
    assert server_address() == "127.0.0.1"
    monkeypatch.setenv("DLLAB_SERVED", "1")
    assert server_address() == "0.0.0.0"
    (tmp_path / "lab.toml").write_text('served = true\naddress = "10.0.0.5"\n')
    monkeypatch.setenv("DLLAB_CONFIG", str(tmp_path / "lab.toml"))
    monkeypatch.delenv("DLLAB_SERVED")
    assert server_address() == "10.0.0.5"
