"""A run exported as a plain script trains again without the lab: same losses (1e-5), same validation accuracy."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from core.export import ScriptUnavailable, run_script, script_blockers, write_script
from core.train import TrainConfig, fit
from core.train.store import RunStore


def _image_folder(root, classes=3, per_class=20, size=8, seed=0):
    """Class folders of small grey PNGs, no split folders (the script must redo the lab's stratified split)."""
    rng = np.random.default_rng(seed)
    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 80, (size, size)) + 60 * c
            Image.fromarray(pixels.astype(np.uint8)).save(root / f"c{c}" / f"{i}.png")
    return root


def _run_script(path, cwd):
    """The exported file in a fresh interpreter: cwd a temporary folder, no PYTHONPATH, so the lab is not importable.
    One thread, as the runs were made (a float sum over 2 threads differs in the last bits from one over 1)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.Popen([sys.executable, "-I", str(path)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_exported_scripts_reproduce_runs_without_the_lab(tmp_path, runs_dir):
    data = _image_folder(tmp_path / "shapes")
    base = dict(data=str(data), stats_every=5, tensorboard=False, max_steps=0)
    configs = {
        # tiny: an MLP without augmentation, Adam, cosine schedule, gradient clipping, 4 epochs across boundaries
        "tiny": TrainConfig(model="mlp", epochs=4, batch_size=8, optimizer="adam", scheduler="cosine",
                            grad_clip=1.0, augment_preset=False, **base),
        # augmentation: the CNN with the lab's image preset (affine + colour jitter) on the built-in digits
        "augment": TrainConfig(data="builtin:digits", model="cnn", epochs=1, batch_size=32, max_steps=24,
                               stats_every=5, tensorboard=False),
        # mixup + label smoothing, SGD with a step schedule, early stopping armed
        "mixup": TrainConfig(model="cnn", epochs=4, batch_size=8, optimizer="sgd", scheduler="step", step_size=2,
                             mixup_alpha=0.4, label_smoothing=0.1, early_stop=3, augment_preset=False,
                             **base),
        # the spatial-transformer CNN (F = torch.nn.functional in the model, torchvision's in the noise step),
        # per-group learning rates, a pipeline with our own AddGaussianNoise class, one DataLoader worker
        "stn": TrainConfig(model="stn_cnn", epochs=4, batch_size=8, lr_decay=3.0, num_workers=1,
                           augment={"kind": "image", "steps": [{"name": "AddGaussianNoise", "params": {}, "p": 0.5},
                                                               {"name": "RandomErasing", "params": {}, "p": 0.5}]},
                           **base),
    }
    runs, procs = {}, {}
    threads = torch.get_num_threads()  # whatever an earlier test left (a worker run in-process sets its own)
    torch.set_num_threads(1)
    try:
        results = {name: fit(config) for name, config in configs.items()}
    finally:
        torch.set_num_threads(threads)
    for name, config in configs.items():
        result = results[name]
        assert result.status == "finished"
        runs[name] = result
        script = write_script(result.run_dir, tmp_path / "out" / f"{name}.py")
        procs[name] = _run_script(script, tmp_path / "out")
    # the notebook version: its code cells, run one after the other in a fresh interpreter
    notebook = json.loads(write_script(runs["tiny"].run_dir, tmp_path / "out" / "tiny.ipynb").read_text())
    assert notebook["nbformat"] == 4 and notebook["cells"][0]["cell_type"] == "markdown"
    cells = [c["source"] for c in notebook["cells"] if c["cell_type"] == "code"]
    assert len(cells) >= 7
    (tmp_path / "out" / "tiny_cells.py").write_text("\n\n".join(cells))
    procs["tiny (notebook)"] = _run_script(tmp_path / "out" / "tiny_cells.py", tmp_path / "out")
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-2000:]
        out = json.loads(stdout.strip().splitlines()[-1])
        name = name.split(" ")[0]
        lab = RunStore.open(runs[name].run_dir).steps().loss.tolist()
        assert len(lab) >= 20 and len(out["losses"]) == len(lab), name
        assert out["losses"][:20] == pytest.approx(lab[:20], abs=1e-5, rel=0), name
        assert out["val_acc"] == runs[name].history[-1]["val_acc"], name
        assert [h["val_acc"] for h in out["history"]] == [h["val_acc"] for h in runs[name].history], name


def test_script_is_self_contained_and_says_where_the_data_is(runs_dir):
    result = fit(TrainConfig(data="builtin:digits", model="mlp", epochs=1, max_steps=2, stats_every=0,
                             tensorboard=False, mixup_alpha=0.2))
    text = run_script(result.run_dir)
    compile(text, "exported.py", "exec")
    assert "import core" not in text and "from core" not in text
    assert "digits-v1" in text  # the built-in set is read from the files the lab wrote
    assert "def draw_lambda" in text and "class MLP" in text and "def init_weights" in text


@pytest.mark.parametrize("change, words", [
    ({"model": "textcnn", "data": "builtin:reviews"}, "only image runs"),
    ({"model": "resnet18"}, "pretrained"),
    ({"adversarial": {"method": "fgsm", "eps": 0.1}}, "adversarial"),
    ({"model": "dcgan"}, "GAN runs"),
])
def test_runs_not_covered_are_refused_with_a_reason(change, words):
    config = {**TrainConfig().to_dict(), **change}
    assert any(words in why for why in script_blockers(config))


def test_refused_run_raises_one_sentence(runs_dir):
    from core.train.store import RunStore as Store

    run = Store.create(runs_dir, {**TrainConfig(model="resnet18").to_dict()})
    with pytest.raises(ScriptUnavailable, match="pretrained"):
        run_script(run.run_dir)


def test_cli_export_script(runs_dir, tmp_path, capsys, monkeypatch):
    from core.__main__ import main

    result = fit(TrainConfig(data="builtin:digits", model="mlp", epochs=1, max_steps=2, stats_every=0,
                             tensorboard=False))
    monkeypatch.chdir(tmp_path)
    assert main(["export", result.run_dir, "--format", "script", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["path"].endswith(".py") and (tmp_path / out["path"]).is_file()
    refused = RunStore.create(runs_dir, TrainConfig(model="resnet18").to_dict())
    assert main(["export", str(refused.run_dir), "--format", "script"]) == 2
    assert "pretrained" in capsys.readouterr().err


def test_export_job_writes_the_script(tmp_path):
    from core.inspect.jobs import export_job_config, export_problems
    from core.jobs import read_result, run_inline
    from tests.inspect_helpers import make_run

    run = make_run(tmp_path / "runs", "mlp", hidden=[8])
    job = run_inline("export", export_job_config(str(run), "script"), runs_dir=tmp_path / "jobs")
    result = read_result(job)
    assert result["ok"] and result["files"][0].endswith(".py")
    compile(open(result["files"][0]).read(), "x.py", "exec")
    text_run = make_run(tmp_path / "runs", "lstm", "builtin:reviews")
    assert "only image runs" in " ".join(export_problems(export_job_config(str(text_run), "script")))
