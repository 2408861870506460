"""What the Train page's AppTests share: a finished run injected into the runs root, the page, the error check."""
from __future__ import annotations

from pathlib import Path

import torch
from streamlit.testing.v1 import AppTest

from core import data, models
from core.train.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "pages/4_Train.py")


def inject_finished_run(runs_dir: Path, model_name: str = "mlp", epochs: int = 3,
                        source: str = "builtin:digits") -> Path:
    """A run as the trainer would leave it: steps, epochs, activations, a checkpoint, status finished."""
    bundle = data.load(source)
    run = RunStore.create(runs_dir, {"data": source, "model": model_name, "epochs": epochs,
                                     "model_opts": {}, "data_opts": {}})
    run.set_status("running")
    run.set_plan(steps_per_epoch=10, total_steps=10 * epochs)
    for step in range(10 * epochs):
        run.log_step(step, step // 10, loss=2.3 / (1 + step / 5), lr=1e-3)
        if step % 5 == 0:
            run.log_activations(step, [("net.0", 0.1, 1.0 - step / 100, 0.2, 0.5), ("head", 0.0, 0.8, 0.0, 0.1)])
    for e in range(epochs):
        run.log_epoch(e, {"train_loss": 1.0 / (e + 1), "val_loss": 1.2 / (e + 1), "val_acc": 0.5 + 0.1 * e})
    model = models.build_for(bundle, model_name)
    torch.save({"model": model.state_dict()}, run.checkpoint_dir / "best.pt")
    run.set_status("finished")
    run.close()
    return run.run_dir


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
