"""Runs for the Inspect tests: ``make_run`` writes a finished run as the trainer leaves it, without training."""
from __future__ import annotations

from pathlib import Path

from core import data, models
from core.train import TrainConfig
from core.train.checkpoint import checkpoint_dict, save_checkpoint
from core.train.store import RunStore


def make_run(runs_dir: Path, model_name: str = "cnn", source: str = "builtin:digits", **opts) -> Path:
    """A finished run (config.json, best.pt as checkpoint_dict of a freshly built model), in about a second."""
    config = TrainConfig(data=source, model=model_name, epochs=1, model_opts=opts)
    bundle = data.load(source)
    model = models.build_for(bundle, model_name, **opts)
    run = RunStore.create(runs_dir, config.to_dict())
    save_checkpoint(checkpoint_dict(model, config=config.to_dict(), classes=bundle.classes),
                    run.checkpoint_dir / "best.pt")
    run.set_status("finished")
    run.close()
    return run.run_dir
