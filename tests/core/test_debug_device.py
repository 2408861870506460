"""The device reading and its warning near the memory limit; gradient norms in TensorBoard."""
from __future__ import annotations

import torch

from core.debug.device import NEAR_LIMIT, DeviceSampler, DeviceStatus, device_status


def test_cpu_status_has_no_gpu_memory_and_no_warning():
    s = device_status("cpu")
    assert s.device == "cpu" and s.total_bytes is None and s.warning() is None
    assert s.text().startswith("cpu (")
    assert DeviceSampler(torch.device("cpu")).sample() is None  # GPU runs only


def test_warning_near_the_limit():
    gib = 2**30
    full = DeviceStatus("cuda:0", "cuda (X)", used_bytes=95 * gib, free_bytes=5 * gib, total_bytes=100 * gib,
                        utilisation=80.0)
    assert full.used_fraction > NEAR_LIMIT and "95% full" in full.warning()
    assert "95.0 GiB of 100.0 GiB used, 5.0 GiB free" in full.text() and "80% busy" in full.text()
    easy = DeviceStatus("cuda:0", "cuda (X)", used_bytes=10 * gib, free_bytes=90 * gib, total_bytes=100 * gib)
    assert easy.warning() is None


def test_gradient_norms_in_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from core.train import fit, recommended

    cfg = recommended("mlp", "builtin:digits", max_steps=3, epochs=1, runs_dir=str(tmp_path), stats_every=0,
                      grad_every=1)
    run_dir = fit(cfg).run_dir
    events = EventAccumulator(run_dir)
    events.Reload()
    tags = events.Tags()["scalars"]
    assert "gradients/head/norm" in tags and "gradients/body.0/update_ratio" in tags
    assert [e.step for e in events.Scalars("gradients/head/norm")] == [0, 1, 2]
