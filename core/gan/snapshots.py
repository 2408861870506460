"""The progress strip: the generator's output for a fixed batch of seeds, written every N steps into
``RUN_DIR/samples/``, read back by the page (a grid PNG per snapshot for images, JSON for the toys: the 1010 values
of the heat strip, the ring's points). The seeds and their z are stored with the run in ``samples/seeds.json``.

>>> [s.step for s in list_snapshots(run_dir)]                           # doctest: +SKIP
[0, 100, 200]
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from core.gan.render import grid_png, write_bytes

SAMPLES_DIR = "samples"
SEEDS_FILE = "seeds.json"
COLLAPSE_FILE = "collapse.json"  # the latest CollapseReport, in the run directory
PREVIEW = {"image": 16, "points": 512, "pattern": 8}  # fixed seeds per snapshot by default
_NAME = re.compile(r"step_(\d{7})\.(png|json)$")


@dataclass
class Snapshot:
    """One snapshot: after how many generator steps, and its file (PNG grid or JSON values)."""

    step: int  # generator steps done when it was taken (0 = before training)
    path: Path  # samples/step_0000100.png | .json

    def values(self) -> list:
        """The JSON snapshot's values: (N, 4) for toy:1010, (N, 2) points for toy:ring."""
        return json.loads(self.path.read_text())["values"]


def samples_dir(run_dir: str | os.PathLike) -> Path:
    """``run_dir/samples`` (created when missing)."""
    path = Path(run_dir) / SAMPLES_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_seeds(run_dir: str | os.PathLike, seeds: list[int], z: torch.Tensor) -> Path:
    """Store the preview seeds and their z (N, latent) with the run."""
    path = samples_dir(run_dir) / SEEDS_FILE
    write_bytes(json.dumps({"seeds": list(map(int, seeds)), "z": z.cpu().tolist()}).encode(), path)
    return path


def load_seeds(run_dir: str | os.PathLike) -> tuple[list[int], torch.Tensor]:
    """The preview seeds of a run and their z."""
    d = json.loads((Path(run_dir) / SAMPLES_DIR / SEEDS_FILE).read_text())
    return d["seeds"], torch.tensor(d["z"])


def write_snapshot(run_dir: str | os.PathLike, step: int, kind: str, output: torch.Tensor) -> Path:
    """Write the generator's output for the preview seeds after ``step`` steps (images: a 4-wide grid PNG)."""
    base = samples_dir(run_dir) / f"step_{int(step):07d}"
    if kind == "image":
        path = base.with_suffix(".png")
        write_bytes(grid_png(output, nrow=max(1, int(len(output) ** 0.5))), path)
    else:
        path = base.with_suffix(".json")
        values = [[round(v, 4) for v in row] for row in output.detach().float().cpu().tolist()]
        write_bytes(json.dumps({"step": int(step), "values": values}).encode(), path)
    return path


def list_snapshots(run_dir: str | os.PathLike) -> list[Snapshot]:
    """Every snapshot of a run, in step order (an unfinished .tmp write is not listed)."""
    folder = Path(run_dir) / SAMPLES_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.search(p.name))]
    return [Snapshot(step, path) for step, path in sorted(found)]


def write_report(run_dir: str | os.PathLike, report) -> None:
    """Keep the latest CollapseReport with the run (the collapse meter reads it)."""
    write_bytes(json.dumps(report.to_dict()).encode(), Path(run_dir) / COLLAPSE_FILE)


def read_report(run_dir: str | os.PathLike):
    """The latest CollapseReport of a run, or None before the first measurement."""
    from core.gan.collapse import CollapseReport

    path = Path(run_dir) / COLLAPSE_FILE
    return CollapseReport.from_dict(json.loads(path.read_text())) if path.is_file() else None
