"""Job kinds of the Inspect page (see core.jobs): class visualisation ('class_visual') and export ('export').

Both take a few seconds to minutes on a CPU, so they run in a worker, not in the page. Their configs name what to
inspect (``target``: a run directory or ``"imagenet:NAME"``); results go into the job's own run directory.

>>> run_dir = launch("class_visual", visual_job_config("runs/x", [0, 1], steps=64), owner=user)   # doctest: +SKIP
>>> read_class_visual(run_dir)                       # a ClassVisual once the job has finished   # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

MAX_VISUAL_STEPS = 500  # ascent steps one class visualisation job may take
MAX_VISUAL_CLASSES = 8  # classes visualised in one job (one batch)
VISUAL_FILE = "class_visual.pt"  # the images, (K, *input_shape), saved with torch.save (load with weights_only)
EXPORT_FOLDER = "exports"  # the exported files, inside the export job's run directory


def _naming(target: str) -> dict:
    """'model' and 'data' for the job's run name and the runs table: those of the inspected run."""
    from core.inspect.target import IMAGENET_PREFIX
    from core.train.store import RunStore

    if target.startswith(IMAGENET_PREFIX):
        return {"model": target[len(IMAGENET_PREFIX):], "data": "imagenet"}
    try:
        cfg = RunStore.open(target).config()
    except FileNotFoundError:  # not a run: the kind's problems check says so
        return {"model": None, "data": None}
    return {"model": cfg.get("model"), "data": cfg.get("data")}


def _target_problems(target: str) -> list[str]:
    from core.inspect.target import IMAGENET_PREFIX
    from core.train.evaluate import checkpoint_path

    if not isinstance(target, str) or not target:
        return ["no run or model to inspect was given"]
    if target.startswith(IMAGENET_PREFIX):
        return []
    if not (Path(target) / "metrics.sqlite").is_file():
        return [f"{target} is not a run directory"]
    return [] if checkpoint_path(target) else [f"{target} has no checkpoint yet"]


# ---- class visualisation ---------------------------------------------------------------------------------------
def visual_job_config(target: str, classes: list[int], steps: int = 64, *, lr: float = 0.05, jitter: int = 1,
                      blur_every: int = 4, seed: int = 0) -> dict:
    """The 'class_visual' job config: visualise ``classes`` of ``target`` (a run directory or 'imagenet:NAME')."""
    return {"target": str(target), **_naming(str(target)), "classes": [int(c) for c in classes], "steps": int(steps),
            "lr": float(lr), "jitter": int(jitter), "blur_every": int(blur_every), "seed": int(seed)}


def visual_problems(config: dict) -> list[str]:
    """Why this class visualisation cannot start (empty when it can)."""
    out = _target_problems(config.get("target"))
    if not 1 <= int(config.get("steps") or 0) <= MAX_VISUAL_STEPS:
        out.append(f"steps must be between 1 and {MAX_VISUAL_STEPS}")
    if not 1 <= len(config.get("classes") or []) <= MAX_VISUAL_CLASSES:
        out.append(f"choose between 1 and {MAX_VISUAL_CLASSES} classes")
    if not 0 < float(config.get("lr") or 0) <= 1:
        out.append("the step size must be in (0, 1]")
    return out


def run_class_visual(job) -> None:
    """Load the target, climb its class logits with progress (Stop works between steps), save images and logits."""
    from core.inspect.target import load_target
    from core.inspect.visual import class_visual

    cfg = job.config
    target = load_target(cfg["target"])
    if not target.spatial:
        raise ValueError("class visualisation needs image or audio inputs; token ids cannot be climbed by gradient")
    if any(not 0 <= c < len(target.classes) for c in cfg["classes"]):
        raise ValueError(f"class ids must be between 0 and {len(target.classes) - 1}")
    steps = cfg["steps"]
    vis = class_visual(target.model, cfg["classes"], steps, input_shape=target.input_shape, lr=cfg["lr"],
                       jitter=cfg["jitter"], blur_every=cfg["blur_every"], start=target.grey,
                       value_range=target.value_range, generator=torch.Generator().manual_seed(cfg["seed"]),
                       progress=lambda done, total: job.progress(done, total, f"step {done}/{total}"))
    torch.save(vis.images, job.run_dir / VISUAL_FILE)
    job.write_result({"classes": vis.targets, "class_names": [target.classes[c] for c in vis.targets],
                      "start_logits": vis.start_logits, "end_logits": vis.end_logits, "end_probs": vis.end_probs,
                      "input_kind": target.input_kind, "images": VISUAL_FILE})


def read_class_visual(run_dir: str | Path):
    """(ClassVisual, result dict) of a finished 'class_visual' job, or None while it has none."""
    from core.inspect.visual import ClassVisual
    from core.jobs import read_result

    result = read_result(run_dir)
    if result is None:
        return None
    images = torch.load(Path(run_dir) / result["images"], map_location="cpu", weights_only=True)
    return ClassVisual(images, result["classes"], result["start_logits"], result["end_logits"],
                       end_probs=result["end_probs"]), result


# ---- export ----------------------------------------------------------------------------------------------------
def export_job_config(target: str, fmt: str, n_check: int = 8) -> dict:
    """The 'export' job config: write run ``target``'s model in format ``fmt`` and check it on ``n_check`` inputs."""
    return {"target": str(target), **_naming(str(target)), "format": fmt, "n_check": int(n_check)}


def export_problems(config: dict) -> list[str]:
    """Why this export cannot start: not a run, an unknown format, or packages the format needs are missing."""
    from core.inspect.export import FORMATS, missing_packages
    from core.inspect.target import IMAGENET_PREFIX

    target = config.get("target") or ""
    out = _target_problems(target)
    if target.startswith(IMAGENET_PREFIX):
        out.append("export is for the lab's own runs; the pretrained model's weights come from its own package")
    fmt = config.get("format")
    if fmt == "script":  # the whole run as a training script (core.export.script)
        return out + (_script_problems(target) if not out else [])
    if fmt not in FORMATS:
        out.append(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    elif missing_packages(fmt):
        out.append(f"{fmt} export needs the packages {', '.join(missing_packages(fmt))}, which are not installed "
                   f"(pip install {' '.join(missing_packages(fmt))})")
    return out


def run_export(job) -> None:
    """Export into the job's run directory and write the ExportResult (with its message) as the result."""
    from core.inspect.export import default_filename
    from core.inspect.target import export_run

    cfg = job.config
    if cfg["format"] == "script":
        _run_script_export(job)
        return
    out = job.run_dir / EXPORT_FOLDER / default_filename(Path(cfg["target"]).name, cfg["format"])
    job.progress(0, 1, f"exporting as {cfg['format']}")
    result = export_run(cfg["target"], cfg["format"], out, n_check=cfg["n_check"])
    job.write_result({**asdict(result), "message": result.message()})
    if not result.ok:
        job.note(result.message(), "warning")


# ---- Grad-CAM grid ---------------------------------------------------------------------------------------------
CAM_FILE = "cam_grid.pt"  # the maps (B, *spatial) and the classes they explain, saved with torch.save


def cam_grid_config(target: str, layer: str, picks: list[int], target_class: int | None = None) -> dict:
    """The 'cam_grid' job config: Grad-CAM of examples ``picks`` of ``target`` at ``layer`` (one batched forward and
    backward pass), each for its predicted class, or all for ``target_class``."""
    return {"target": str(target), **_naming(str(target)), "layer": str(layer), "picks": [int(i) for i in picks],
            "target_class": None if target_class is None else int(target_class)}


def cam_grid_problems(config: dict) -> list[str]:
    """Why this Grad-CAM grid cannot start (empty when it can)."""
    from core.inspect.cam import MAX_CAM_BATCH

    out = _target_problems(config.get("target"))
    if not 1 <= len(config.get("picks") or []) <= MAX_CAM_BATCH:
        out.append(f"choose between 1 and {MAX_CAM_BATCH} examples")
    if not config.get("layer"):
        out.append("name the layer to take the maps at")
    return out


def cam_grid_needs_job(target, n: int) -> bool:
    """Whether Grad-CAM of ``n`` examples (one forward + backward pass of the batch) is over the server's inline
    budget (core.inline) for this model."""
    from core.inline import fits_inline, forward_macs

    return not fits_inline(forward_macs(target.model, target.input_shape), gradients=n)


def run_cam_grid(job) -> None:
    """Load the target, map the examples at the layer, save the maps and the explained classes."""
    from core.inspect.cam import explain
    from core.inspect.target import load_target

    cfg = job.config
    target = load_target(cfg["target"])
    if any(not 0 <= i < len(target.samples) for i in cfg["picks"]):
        raise ValueError(f"example indices must be between 0 and {len(target.samples) - 1}")
    job.progress(0, 1, f"Grad-CAM of {len(cfg['picks'])} examples at {cfg['layer']}")
    x, _ = target.batch(cfg["picks"])
    ex = explain(target.model, x, cfg.get("target_class"), cfg["layer"])
    torch.save({"maps": ex.maps, "targets": ex.targets}, job.run_dir / CAM_FILE)
    job.write_result({"picks": cfg["picks"], "layer": ex.layer, "file": CAM_FILE})
    job.progress(1, 1, "done")


def read_cam_grid(run_dir: str | Path):
    """(maps (B, *spatial), targets (B,)) of a finished 'cam_grid' job, or None while it has none."""
    from core.jobs import read_result

    result = read_result(run_dir)
    if result is None:
        return None
    saved = torch.load(Path(run_dir) / result["file"], map_location="cpu", weights_only=True)
    return saved["maps"], saved["targets"]
def _script_problems(target: str) -> list[str]:
    from core.export import script_blockers
    from core.train.store import RunStore

    return script_blockers(RunStore.open(target).config())


def _run_script_export(job) -> None:
    """Write the run as a plain training script (core.export.script) into the job's folder."""
    from core.export import write_script

    name = Path(job.config["target"]).name
    job.progress(0, 1, "writing the run as a Python script")
    path = write_script(job.config["target"], job.run_dir / EXPORT_FOLDER / f"{name.replace('-', '_')}.py")
    notebook = write_script(job.config["target"], path.with_suffix(".ipynb"))  # the same, one cell per section
    message = (f"{path.name} trains this run again with torch and torchvision only; run it with python "
               f"{path.name}: its last line is a JSON object with val_acc and the losses")
    job.write_result({"format": "script", "path": str(path), "files": [str(path), str(notebook)], "examples": 0,
                      "max_abs_diff": 0.0, "ok": True, "notes": [], "message": message})
