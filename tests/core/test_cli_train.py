"""``python -m core train`` and ``python -m core runs``: tiny runs with --max-steps, JSON output, DDP with torchrun."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.__main__ import main
from core.train.store import RunStore

ROOT = Path(__file__).resolve().parents[2]


def _train_json(capsys, *args) -> tuple[int, dict]:
    code = main(["train", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_train_max_steps_json_then_runs(tmp_path, capsys):
    runs = tmp_path / "runs"
    code, out = _train_json(capsys, "--data", "builtin:digits", "--model", "mlp", "--epochs", "2",
                            "--max-steps", "8", "--batch-size", "16", "--lr", "0.01", "--optimizer", "sgd",
                            "--label-smoothing", "0.1", "--mixup", "0.2", "--runs-dir", str(runs))
    assert code == 0 and out["status"] == "finished"
    assert Path(out["run_dir"]).parent == runs and out["last_step"] == 7
    [epoch] = out["epochs"]  # 8 steps of 16 < one epoch of digits: the run ends inside epoch 0 with validation
    assert set(epoch) == {"epoch", "train_loss", "val_loss", "val_acc"} and 0 <= epoch["val_acc"] <= 1
    cfg = RunStore.open(out["run_dir"]).config()
    assert (cfg["optimizer"], cfg["lr"], cfg["batch_size"], cfg["label_smoothing"], cfg["mixup_alpha"]) == \
        ("sgd", 0.01, 16, 0.1, 0.2)

    assert main(["runs", "--runs-dir", str(runs), "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["status"] == "finished" and listed["model"] == "mlp" and listed["data"] == "builtin:digits"
    assert listed["best_val_acc"] == pytest.approx(epoch["val_acc"])
    assert main(["runs", "--runs-dir", str(runs)]) == 0
    table = capsys.readouterr().out
    assert "finished" in table and "builtin:digits" in table


def test_train_text_output(tmp_path, capsys):
    assert main(["train", "--data", "builtin:digits", "--model", "mlp", "--max-steps", "3",
                 "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "status: finished" in out and "epoch 1: train loss" in out and "val acc" in out


def test_train_refuses_bad_settings(tmp_path, capsys):
    code, out = _train_json(capsys, "--data", "builtin:digits", "--model", "nonsense", "--runs-dir", str(tmp_path))
    assert code == 2 and out["status"] == "refused" and "known models" in out["error"]
    code, out = _train_json(capsys, "--data", "builtin:digits", "--model", "mlp", "--lr", "-1",
                            "--runs-dir", str(tmp_path))
    assert code == 2 and "learning rate" in out["error"]
    assert not list(tmp_path.iterdir())  # nothing recorded for refused runs


def test_runs_empty(tmp_path, capsys):
    assert main(["runs", "--runs-dir", str(tmp_path / "none"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [str(torchrun), "--nproc_per_node=2", "--standalone", "-m", "core", "train", "--data", "builtin:digits",
         "--model", "mlp", "--max-steps", "6", "--device", "cpu", "--runs-dir", str(runs), "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both ranks: leave no process behind
        stdout, stderr = proc.communicate()
        pytest.fail(f"torchrun did not finish within 150 s; stderr tail:\n{stderr[-2000:]}")
    assert proc.returncode == 0, stderr[-3000:]
    # gloo writes its own lines to stdout; only rank 0 prints the outcome: exactly one JSON line
    [line] = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    out = json.loads(line)
    assert out["status"] == "finished" and out["last_step"] == 5
    assert [p.name for p in runs.iterdir() if p.is_dir()] == [Path(out["run_dir"]).name]  # rank 0 alone wrote one run
