"""Runs to attack in tests: a short real training run, or a run injected with only a config (for refusals)."""
from __future__ import annotations

from pathlib import Path

from core.train import TrainConfig
from core.train.loop import fit
from core.train.store import RunStore


def trained_run(runs_dir: Path, model: str = "cnn", source: str = "builtin:digits", steps: int = 60, **config) -> Path:
    """A finished run of ``steps`` training steps (seconds on the CPU), with its checkpoints."""
    cfg = TrainConfig(data=source, model=model, epochs=1, max_steps=steps, batch_size=32, stats_every=0,
                      tensorboard=False, runs_dir=str(runs_dir), **config)
    result = fit(cfg)
    assert result.status == "finished", result.error
    return Path(result.run_dir)


def config_only_run(runs_dir: Path, model: str, source: str, status: str = "finished") -> Path:
    """A run directory with a config and a status but no checkpoint."""
    run = RunStore.create(runs_dir, {"data": source, "model": model, "epochs": 1, "model_opts": {},
                                     "data_opts": {}})
    run.set_status(status)
    run.close()
    return run.run_dir
