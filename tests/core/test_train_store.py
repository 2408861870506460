"""RunStore: WAL, batching, readers from another process, derived 'interrupted', the stop flag."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core.train import run_info as run_info_mod
from core.train import store as store_mod
from core.train.store import RunStore, list_runs

CONFIG = {"data": "builtin:digits", "model": "cnn", "epochs": 3, "lr": 0.001}


def _count(run_dir: Path, table: str) -> int:
    """Rows in ``table`` as a brand-new connection (another reader) sees them."""
    con = sqlite3.connect(run_dir / "metrics.sqlite")
    try:
        return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_create_layout_and_wal(tmp_path):
    run = RunStore.create(tmp_path, CONFIG)
    assert run.run_dir.parent == tmp_path
    assert run.run_dir.name.endswith("-cnn-digits")
    assert json.loads((run.run_dir / "config.json").read_text()) == CONFIG
    assert (run.run_dir / "checkpoints").is_dir()
    con = sqlite3.connect(run.run_dir / "metrics.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    assert run.info().status == "queued"


def test_names_are_unique_within_one_second(tmp_path):
    dirs = {RunStore.create(tmp_path, CONFIG).run_dir for _ in range(3)}
    assert len(dirs) == 3


def test_writes_are_batched_then_flushed(tmp_path):
    run = RunStore.create(tmp_path, CONFIG, flush_every=60, max_buffer=50)
    run.set_status("running")
    for i in range(10):
        run.log_step(i, 0, loss=torch.tensor(2.0 - i / 10), lr=0.1)
    assert _count(run.run_dir, "steps") == 0  # still in memory: no disk write per step
    for i in range(10, 50):
        run.log_step(i, 0, loss=1.0, lr=0.1)
    assert _count(run.run_dir, "steps") == 50  # max_buffer reached -> one commit
    run.log_step(50, 0, loss=1.0, lr=0.1)
    run.set_status("finished")  # a status change flushes
    steps = RunStore.open(run.run_dir).steps()
    assert list(steps.step) == list(range(51))
    assert steps.loss.iloc[3] == pytest.approx(1.7)
    run.close()


def test_time_based_flush(tmp_path):
    run = RunStore.create(tmp_path, CONFIG, flush_every=0.05, max_buffer=10_000)
    run.log_step(0, 0, 1.0, 0.1)
    time.sleep(0.1)
    run.log_step(1, 0, 1.0, 0.1)
    assert _count(run.run_dir, "steps") == 2


def test_readers_epochs_activations_info(tmp_path):
    run = RunStore.create(tmp_path, CONFIG)
    run.set_status("running")
    run.set_plan(steps_per_epoch=10, total_steps=30)
    for epoch, acc in enumerate([0.5, 0.8, 0.7]):
        run.log_step(epoch * 10, epoch, 1.0 / (epoch + 1), 0.01)
        run.log_epoch(epoch, {"train_loss": 1.0, "val_loss": 0.9, "val_acc": acc})
    run.log_activations(10, [("conv1", 0.1, 1.2, 0.3, 0.5), ("fc", -0.1, 0.7, 0.0, 0.2)])
    run.note("no pretrained weights: random initialisation", "warning")
    run.set_status("finished")
    reader = RunStore.open(run.run_dir)
    ep = reader.epochs()
    assert list(ep.columns) == ["epoch", "train_loss", "val_acc", "val_loss"]
    assert list(ep.val_acc) == pytest.approx([0.5, 0.8, 0.7])
    acts = reader.activations()
    assert list(acts.layer) == ["conv1", "fc"] and acts["std"].iloc[0] == pytest.approx(1.2)
    assert reader.steps(since_step=10).step.tolist() == [20]
    assert reader.notes().level.tolist() == ["warning"]
    info = reader.info()
    assert info.status == "finished" and info.epochs_done == 3 and info.epochs == 3
    assert info.best_val_acc == pytest.approx(0.8)
    assert info.last_step == 20 and info.steps_per_epoch == 10 and info.total_steps == 30
    assert info.duration is not None and info.duration >= 0
    assert reader.epochs().empty is False and RunStore.create(tmp_path, CONFIG).epochs().empty


def test_failed_status_keeps_error(tmp_path):
    run = RunStore.create(tmp_path, CONFIG)
    run.set_status("running")
    run.set_status("failed", error="loss became NaN at step 12: lower the learning rate")
    info = list_runs(tmp_path)[0]
    assert info.status == "failed" and "NaN" in info.error and info.ended is not None
    with pytest.raises(ValueError, match="unknown status"):
        run.set_status("interrupted")


def test_stale_heartbeat_reads_as_interrupted(tmp_path, monkeypatch):
    run = RunStore.create(tmp_path, CONFIG)
    run.set_status("running")
    run.log_step(0, 0, 1.0, 0.1)
    run.flush()
    assert list_runs(tmp_path)[0].status == "running"
    time.sleep(0.05)
    # this (live) process is the worker: a slow but alive worker is trusted...
    assert list_runs(tmp_path, stale_after=0.01)[0].status == "running"
    monkeypatch.setattr(run_info_mod, "TRUST_ALIVE_FOR", 0.01)  # ...until silent for very long
    assert list_runs(tmp_path, stale_after=0.01)[0].status == "interrupted"
    monkeypatch.setattr(run_info_mod, "TRUST_ALIVE_FOR", 600)
    run._update(host="another-machine")  # a worker we cannot check (torchrun on another node): heartbeat decides
    assert list_runs(tmp_path, stale_after=0.01)[0].status == "interrupted"
    assert list_runs(tmp_path, stale_after=60)[0].status == "running"
    run.set_status("finished")
    assert list_runs(tmp_path, stale_after=0.01)[0].status == "finished"  # only active runs go stale


def test_dead_worker_pid_reads_as_interrupted(tmp_path):
    run = RunStore.create(tmp_path, CONFIG)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run.set_pid(proc.pid)  # a worker that has already exited without setting a final status
    assert run.info().status == "interrupted"
    run.set_pid(__import__("os").getpid())  # a live process: still queued
    assert run.info().status == "queued"


def test_stop_flag_crosses_processes(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "STOP_CHECK_EVERY", 0.0)
    run = RunStore.create(tmp_path, CONFIG)
    run.set_status("running")
    assert not run.stop_requested()
    code = f"from core.train.store import RunStore; RunStore.open({str(run.run_dir)!r}).request_stop()"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
    assert run.stop_requested()
    assert run.info().stop_requested
    run.close()


_WRITER = """
import sys, time
from core.train.store import RunStore
run = RunStore.open(sys.argv[1], flush_every=0.01)
run.set_status("running")
for i in range(400):
    run.log_step(i, i // 100, 1.0, 0.1)
    time.sleep(0.001)
run.set_status("finished")
"""


def test_reader_sees_progress_while_another_process_writes(tmp_path):
    run = RunStore.create(tmp_path, CONFIG)
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(run.run_dir)],
                            cwd=Path(__file__).resolve().parents[2])
    seen = []
    while proc.poll() is None:
        seen.append(len(run.steps()))  # reading never raises 'database is locked' and never blocks the writer
        run.info()
        time.sleep(0.01)
    assert proc.returncode == 0
    assert len(run.steps()) == 400 and run.info().status == "finished"
    assert any(0 < n < 400 for n in seen), seen  # a partial view was visible mid-run


def test_list_runs_skips_non_runs_and_sorts_newest_first(tmp_path):
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metrics.sqlite").write_text("garbage")
    a = RunStore.create(tmp_path, {**CONFIG, "model": "mlp"})
    b = RunStore.create(tmp_path, {**CONFIG, "model": "mlp"})
    runs = list_runs(tmp_path)
    assert [r.run_dir for r in runs] == [b.run_dir, a.run_dir]
    assert runs[0].to_dict()["run_dir"] == str(b.run_dir)
    assert list_runs(tmp_path / "missing") == []


def test_list_runs_orders_by_creation_time_not_by_name(tmp_path):
    old = RunStore.create(tmp_path, CONFIG)
    old.close()
    renamed = old.run_dir.rename(tmp_path / "zzz-copied-from-elsewhere")  # the oldest, though its name sorts first
    a = RunStore.create(tmp_path, {**CONFIG, "model": "zz"})
    b = RunStore.create(tmp_path, {**CONFIG, "model": "aa"})  # the newest; in the same second it sorts below a by name
    assert [r.run_dir for r in list_runs(tmp_path)] == [b.run_dir, a.run_dir, renamed]


def test_an_epoch_is_one_transaction_with_the_buffered_steps(tmp_path, monkeypatch):
    statements = []

    def traced(db):
        con = sqlite3.connect(db, timeout=10.0, check_same_thread=False, isolation_level=None)
        con.set_trace_callback(statements.append)
        return con

    monkeypatch.setattr(store_mod, "_connect", traced)
    run = RunStore.create(tmp_path, CONFIG, flush_every=60)
    run.log_step(0, 0, loss=1.0, lr=0.1)
    statements.clear()
    run.log_epoch(0, {"train_loss": 1.0, "val_loss": 1.2, "val_acc": 0.5})
    writes = [i for i, s in enumerate(statements) if s.startswith(("INSERT", "UPDATE"))]
    begins = [i for i, s in enumerate(statements) if s.startswith("BEGIN")]
    commits = [i for i, s in enumerate(statements) if s.startswith("COMMIT")]
    assert sum(s.startswith("INSERT INTO epochs") for s in statements) == 3
    assert any(s.startswith("INSERT INTO steps") for s in statements)
    assert len(begins) == 1 and len(commits) == 1 and begins[0] < min(writes) and max(writes) < commits[0]
    assert run.info().epochs_done == 1 and run.info().best_val_acc == pytest.approx(0.5)
    assert list_runs(tmp_path)[0].epochs_done == 1  # the runs index got it too
