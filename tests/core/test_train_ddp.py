"""DistributedDataParallel with 2 CPU processes (gloo) under torchrun: sharded data, synced weights, rank 0 writes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.train.store import RunStore

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, os, sys, torch
from core.train import TrainConfig, fit
from core.train.callbacks import Callback
from core.train.synthetic import synthetic_bundle

class Final(Callback):
    def after_fit(self, loop):
        self.params = [p.detach().clone() for p in loop.model.parameters()]
        self.batches = loop.steps_per_epoch

final = Final()
config = TrainConfig(model="cnn", model_opts={"width": 4}, epochs=2, batch_size=8, device="cpu",
                     runs_dir=sys.argv[1], tensorboard=True, stats_every=1, log_every=2, augment_preset=False)
result = fit(config, [final], bundle=synthetic_bundle("image", n=32))
rank = int(os.environ["RANK"])
out = {"rank": rank, "world": int(os.environ["WORLD_SIZE"]), "status": result.status, "run_dir": result.run_dir,
       "steps": result.steps, "batches": final.batches, "history": result.history,
       "checksum": [float(p.double().sum()) for p in final.params]}
with open(os.path.join(sys.argv[2], f"rank{rank}.json"), "w") as f:
    json.dump(out, f)
"""


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path):
    script = tmp_path / "ddp_fit.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
           str(tmp_path / "runs"), str(tmp_path)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert r0["status"] == r1["status"] == "finished"
    assert r0["batches"] == r1["batches"] == 2  # 32 samples / 2 processes / batch 8
    assert r0["steps"] == 4
    assert r0["checksum"] == pytest.approx(r1["checksum"], rel=1e-6)  # gradients were all-reduced
    assert r0["history"] == r1["history"]  # validation metrics summed over both shards
    runs = [d for d in (tmp_path / "runs").iterdir() if d.is_dir()]
    assert len(runs) == 1 and r0["run_dir"] == r1["run_dir"] == str(runs[0])  # only rank 0 created a run
    store = RunStore.open(runs[0])
    assert store.info().status == "finished" and list(store.epochs().epoch) == [0, 1]
    assert len(store.steps()) == 4 and (runs[0] / "checkpoints" / "last.pt").is_file()
