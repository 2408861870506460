"""The 'enhance' job kind (train an upsampler) and 'enhance_apply' (enhance one uploaded image) for core.jobs.

>>> run_dir = launch("enhance", EnhanceConfig(max_steps=300).to_dict(), owner=user)   # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path


def run_enhance(job) -> None:
    """Train the job's EnhanceConfig into its run store; the result is written before the final status."""
    from core.enhance.config import EnhanceConfig
    from core.enhance.train import fit

    fit(EnhanceConfig.from_dict(job.config), run=job.store, progress=job.progress,
        on_result=lambda result: job.write_result(result.to_dict()))


def enhance_problems(config: dict) -> list[str]:
    """Why this config cannot be launched: its own checks, the data source, and this server's limits."""
    from core.enhance.config import EnhanceConfig
    from core.settings import load_settings

    try:
        cfg = EnhanceConfig.from_dict(dict(config))
    except (TypeError, ValueError) as err:
        return [str(err)]
    return cfg.problems(load_settings().limits) + data_problems(cfg.data, cfg.patch * cfg.scale)


PROBE_FILES = 50  # image headers read to check a source's sizes before a launch


def data_problems(source: str, side: int = 0) -> list[str]:
    """Why ``source`` cannot give super-resolution pairs with high-resolution crops of ``side`` px: it cannot be
    found, or none of its first ``PROBE_FILES`` images is that large (headers only: cheap)."""
    from PIL import Image

    from core.data.bundle import DataError
    from core.data.images import IMAGE_SUFFIXES
    from core.data.load import locate
    from core.enhance.data import PHOTOS_SOURCE

    if source == PHOTOS_SOURCE:
        return []
    try:
        path, _ = locate(source, "image")
    except DataError as err:
        return [str(err)]
    largest = 0
    files = (p for p in (path.rglob("*") if path.is_dir() else [path]) if p.suffix.lower() in IMAGE_SUFFIXES)
    for _, f in zip(range(PROBE_FILES), files):
        try:
            with Image.open(f) as img:
                largest = max(largest, min(img.size))
        except (OSError, ValueError):
            continue
    if largest < side:
        return [f"the images of {source} are too small for {side} px training crops (the largest is {largest} px "
                "on its shorter side); choose a smaller patch or scale, or larger images"]
    return []


def run_apply(job) -> None:
    """Enhance ``config['image']`` with the run ``config['run']``, writing ``enhanced.png`` in the job's run dir."""
    from core.enhance.apply import enhance_file

    job.progress(0, 1, "enhancing")
    out = enhance_file(job.config["run"], job.config["image"], Path(job.run_dir) / "enhanced.png")
    job.write_result(out)


def apply_problems(config: dict) -> list[str]:
    """An apply job needs a run with a checkpoint and an image file."""
    run, image = Path(str(config.get("run", ""))), Path(str(config.get("image", "")))
    out = []
    if not (run / "checkpoints" / "last.pt").is_file():
        out.append("the chosen run has no trained model yet")
    if not image.is_file():
        out.append("the image to enhance is missing")
    return out
