"""Attacking a recorded run's data split: the sweep settings (``SweepConfig``) shared by the command line and the
page's job, and the smallest-epsilon statistics over a split."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
from torch.utils.data import DataLoader, Subset

from core.attacks.methods import METHODS, eps_problems
from core.attacks.minimal import EpsDistribution, distribution, minimal_eps
from core.attacks.sweep import Progress, SweepResult, sweep
from core.attacks.target import AttackTarget, load_run_target, run_problems
from core.fields import from_fields

# what "accuracy versus epsilon" sweeps by default: images in pixel units (MNIST-scale up to 0.3), audio in
# waveform units (a sign perturbation of 0.01 is about 40 dB below a full-scale clip)
DEFAULT_EPSILONS = {"image": (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3),
                    "audio": (0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05)}


def default_epsilons(kind: str = "image") -> list[float]:
    """The epsilons a sweep uses when none are given, for ``kind`` ('image' | 'audio')."""
    return list(DEFAULT_EPSILONS.get(kind, DEFAULT_EPSILONS["image"]))


@dataclass
class SweepConfig:
    """One accuracy-versus-epsilon job: which run, which attacks, which samples."""

    run_dir: str  # the run whose best (else last) checkpoint is attacked
    data: str = ""  # that run's data source (copied, so the runs list and access rule know it; see jobs.py)
    model: str = ""  # that run's model name (copied, for the runs list)
    epsilons: list[float] = field(default_factory=default_epsilons)  # input units; 0 = clean accuracy
    methods: list[str] = field(default_factory=lambda: ["fgsm", "pgd"])  # one curve each
    split: str = "val"  # which split of the run's data
    limit: int = 0  # at most this many samples (a random subset drawn with seed); 0 = the whole split
    steps: int = 10  # bim / pgd iterations (step 2.5 eps / steps)
    examples: int = 8  # samples kept, clean and attacked at every eps, for the example strip
    batch_size: int = 256  # samples per batched attack
    seed: int = 0  # the subset and PGD's random starts
    device: str = "auto"  # auto (cuda > mps > cpu) or a torch device string

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SweepConfig":
        """Rebuild from ``to_dict()`` output; unknown keys are refused with their names."""
        return from_fields(cls, d)

    def problems(self) -> list[str]:
        """Why this sweep cannot run (empty when it can): the run, the methods, epsilons, sizes."""
        out = run_problems(self.run_dir)
        bad = [str(m) for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            out.append(f"attack methods must be among {', '.join(METHODS)}, got {', '.join(bad) or 'none'}")
        if not self.epsilons:
            out.append("give at least one epsilon")
        out += eps_problems(list(self.epsilons))
        if self.limit < 0 or self.steps < 1 or self.batch_size < 1 or self.examples < 0:
            out.append("limit and examples must be >= 0; steps and batch size at least 1")
        return out


def split_samples(target: AttackTarget, split: str = "val", limit: int = 0, seed: int = 0):
    """The dataset to attack: the run's ``split`` without augmentation, in a seeded random order; only the first
    ``limit`` samples of that order when ``limit``."""
    if target.bundle is None or split not in target.bundle.splits:
        have = ", ".join(target.bundle.splits) if target.bundle is not None else "none"
        raise ValueError(f"no split {split!r} in this run's data (it has: {have})")
    dataset = target.bundle.splits[split]
    dataset.transform = None  # augmentation is for training; attacks see what validation sees
    # a seeded random order: a subset is a fair sample, and the first few (the sweep's examples) mix the classes
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    return Subset(dataset, order[:limit].tolist() if limit else order.tolist())


def run_sweep(config: SweepConfig, callback: Progress | None = None, target: AttackTarget | None = None,
              on_method: Callable[[str, SweepResult], None] | None = None) -> dict[str, SweepResult]:
    """Every method of ``config`` swept over the run's split: method -> SweepResult (progress over all methods;
    ``on_method(method, result)`` as each method finishes)."""
    from core.device import pick_device

    target = target or load_run_target(config.run_dir, device=pick_device(config.device))
    dataset = split_samples(target, config.split, config.limit, config.seed)
    loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=False,
                        collate_fn=target.bundle.collate_fn)
    out = {}
    for i, method in enumerate(config.methods):
        def progress(done, total, text, i=i):
            if callback is not None:
                callback(i * total + done, len(config.methods) * total, text)

        out[method] = sweep(target.model, loader, config.epsilons, method=method, examples=config.examples,
                            callback=progress, steps=config.steps, bounds=target.bounds, classes=target.classes,
                            generator=torch.Generator().manual_seed(config.seed))
        if on_method is not None:
            on_method(method, out[method])
    return out


def minimal_over(target: AttackTarget, dataset, *, method: str = "fgsm", eps_max: float = 1.0, tol: float = 1e-3,
                 steps: int = 10, batch_size: int = 256, seed: int = 0) -> tuple[torch.Tensor, EpsDistribution]:
    """Smallest eps that changes each sample's prediction over ``dataset`` (batched) and their distribution."""
    device = target.device
    generator = torch.Generator().manual_seed(seed)
    found = []
    for x, _ in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        eps, _ = minimal_eps(target.model, x.to(device), method=method, eps_max=eps_max, tol=tol, steps=steps,
                             bounds=target.bounds, generator=generator)
        found.append(eps.cpu())
    eps = torch.cat(found) if found else torch.zeros(0)
    return eps, distribution(eps, eps_max)
