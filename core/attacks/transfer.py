"""Black-box (transfer) attacks: craft adversarial inputs with one run (the surrogate), evaluate them on another
(the target) trained on the same data, without ever touching the target's gradient.

``transfer_table(config)`` -> ``TransferResult``: for each method, a table with one row per surrogate and one
column per target; a cell is the target's accuracy on inputs the surrogate attacked at ``eps``. When a run is both
a surrogate and a target, its cell is the ordinary white-box attack: with the same samples, order, batch size and
seed it equals ``sweep`` at that eps exactly (tests/core/test_attack_transfer.py checks it).

Why it matters: a defence that only hides the gradient (label smoothing, defensive distillation) looks robust to
white-box FGSM/PGD, but attacks crafted on an undefended surrogate still transfer to it (Papernot et al. 2017).

The 'attack_transfer' job kind (core.jobs.kinds) runs it in a worker; ``read_transfer(job_dir)`` gives the result.

>>> cfg = TransferConfig(surrogates=[run_a, run_b], targets=[run_a, run_b, run_c], eps=0.1)    # doctest: +SKIP
>>> transfer_table(cfg).accuracy["pgd"]     # [[a->a, a->b, a->c], [b->a, b->b, b->c]]        # doctest: +SKIP
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader

from core.attacks.methods import METHODS, attack, eps_problems
from core.attacks.runs import split_samples
from core.attacks.target import AttackTarget, load_run_target, run_problems

KIND = "attack_transfer"
Progress = Callable[[int, int, str], None]  # (units done, total, text)


@dataclass
class TransferConfig:
    """One transfer table: which runs craft the attack, which are evaluated, at which epsilon."""

    surrogates: list[str]  # run directories whose gradients craft the attack (table rows)
    targets: list[str]  # run directories evaluated on the crafted inputs (table columns)
    eps: float = 0.1  # L-infinity radius in input units (pixels 0..1); MNIST-scale attacks use 0.1-0.3
    methods: list[str] = field(default_factory=lambda: ["fgsm", "pgd"])  # one table each
    split: str = "val"  # which split of the (shared) data
    limit: int = 500  # at most this many samples (a seeded random subset; 0 = the whole split)
    steps: int = 10  # bim / pgd iterations (step 2.5 eps / steps)
    batch_size: int = 256  # samples per batched attack
    seed: int = 0  # the subset and PGD's random starts (the same for every surrogate)
    device: str = "auto"  # auto (cuda > mps > cpu) or a torch device string
    data: str = ""  # the runs' shared data source (copied, for the runs list and the access rule)
    model: str = "transfer"  # what the runs list shows as the job's model

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TransferConfig":
        """Rebuild from ``to_dict()`` output; unknown keys are refused with their names."""
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown TransferConfig field(s): {', '.join(unknown)}")
        return cls(**d)

    def runs(self) -> list[str]:
        """Every run involved, each once, surrogates first (the order they are loaded in)."""
        return list(dict.fromkeys([*self.surrogates, *self.targets]))

    def problems(self) -> list[str]:
        """Why this table cannot be made (empty when it can): the runs, their data, methods, epsilon, sizes."""
        if not self.surrogates or not self.targets:
            return ["choose at least one surrogate (crafts the attack) and one target (is evaluated)"]
        out = []
        for run in self.runs():
            out += [f"{Path(run).name}: {p}" for p in run_problems(run)]
        if not out:
            out += same_data_problems(self.runs())
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            out.append(f"attack methods must be among {', '.join(METHODS)}, got {', '.join(bad) or 'none'}")
        out += eps_problems(self.eps)
        if self.limit < 0 or self.steps < 1 or self.batch_size < 1:
            out.append("limit must be >= 0; steps and batch size at least 1")
        return out


def data_key(run_dir: str | Path) -> tuple[str, str]:
    """What makes two runs' data the same: the source and its options (they fix the split, so every run's
    validation samples are the same ones and none of them was trained on)."""
    import json

    from core.train.store import RunStore

    cfg = RunStore.open(run_dir).config()
    return str(cfg.get("data", "")), json.dumps(cfg.get("data_opts") or {}, sort_keys=True)


def same_data_problems(runs: list[str]) -> list[str]:
    """One sentence when the runs were not all trained on the same data (and split), else nothing."""
    keys = {run: data_key(run) for run in runs}
    if len(set(keys.values())) <= 1:
        return []
    seen = ", ".join(f"{Path(r).name} ({k[0]})" for r, k in keys.items())
    return [f"all runs must be trained on the same data with the same options, so the attacked samples are "
            f"validation samples for every one of them; got {seen}"]


def by_data(run_dirs) -> dict[str, list[str]]:
    """Run directories grouped by their data (source and options, see ``data_key``): only runs in one group can
    share a table. Keys are the data source as shown to users ('builtin:digits', or 'builtin:digits (2)' when the
    same source was used with other options); groups keep the order given."""
    groups: dict[tuple, list[str]] = {}
    for run in run_dirs:
        try:
            groups.setdefault(data_key(run), []).append(str(run))
        except (OSError, ValueError):
            continue  # not a readable run: the page lists what it can
    out, seen = {}, {}
    for (source, _), runs in groups.items():
        seen[source] = seen.get(source, 0) + 1
        out[source if seen[source] == 1 else f"{source} ({seen[source]})"] = runs
    return out


def config_for(surrogates, targets, **settings) -> TransferConfig:
    """A TransferConfig with ``data`` copied from the first run (paths as strings)."""
    surrogates, targets = [str(r) for r in surrogates], [str(r) for r in targets]
    data = data_key(surrogates[0])[0] if surrogates else ""
    return TransferConfig(surrogates=surrogates, targets=targets, data=data, **settings)


@dataclass
class TransferResult:
    """Accuracy of each target on inputs each surrogate attacked: ``accuracy[method][i][j]`` is target j's
    accuracy when surrogate i crafted the attack."""

    surrogates: list[str]  # row labels (run directory names)
    targets: list[str]  # column labels (run directory names)
    eps: float  # the attack's radius
    methods: list[str]  # the tables' attacks, in order
    accuracy: dict[str, list[list[float]]]  # method -> (S, T) target accuracy under the transferred attack
    clean: list[float]  # (T,) each target's accuracy on the clean samples
    n: int  # samples attacked
    steps: int = 10  # pgd / bim iterations
    seconds: float = 0.0  # wall-clock time

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TransferResult":
        """Rebuild from ``to_dict()`` output."""
        return cls(**d)

    def white_box(self, method: str) -> dict[str, float]:
        """The diagonal: run -> its accuracy when it crafted the attack itself (runs that are both)."""
        return {s: self.accuracy[method][i][self.targets.index(s)]
                for i, s in enumerate(self.surrogates) if s in self.targets}

    def rows(self, method: str) -> list[dict]:
        """One dict per surrogate: 'surrogate' and target name -> accuracy (for printing and tables)."""
        return [{"surrogate": s, **dict(zip(self.targets, row))}
                for s, row in zip(self.surrogates, self.accuracy[method])]


def transfer_table(config: TransferConfig, callback: Progress | None = None,
                   loaded: dict[str, AttackTarget] | None = None) -> TransferResult:
    """The transfer tables of ``config`` (see the module docstring). ``callback(done, total, text)`` after every
    surrogate batch; ``loaded``: run directory -> AttackTarget already in memory (tests, benchmarks)."""
    from core.device import pick_device

    start = time.time()
    problems = config.problems() if loaded is None else []
    if problems:
        raise ValueError("; ".join(problems))
    models = _load(config, pick_device(config.device), loaded or {})
    first = models[config.surrogates[0]]
    loader = DataLoader(split_samples(first, config.split, config.limit, config.seed),
                        batch_size=config.batch_size, shuffle=False, collate_fn=first.bundle.collate_fn)
    total = len(config.methods) * len(config.surrogates) * len(loader)
    done, n = 0, 0
    clean = torch.zeros(len(config.targets), dtype=torch.float64)
    # one generator per (method, surrogate), seeded alike and walked batch by batch: PGD's random starts are the
    # ones ``sweep`` draws with the same seed, so the white-box diagonal equals the sweep at this eps
    generators = {(m, s): torch.Generator().manual_seed(config.seed)
                  for m in config.methods for s in config.surrogates}
    correct = {m: torch.zeros(len(config.surrogates), len(config.targets), dtype=torch.float64)
               for m in config.methods}
    for x, y in loader:
        x, y = x.to(first.device), torch.as_tensor(y).to(first.device)
        n += len(y)
        clean += _hits([models[t].model for t in config.targets], x, y)
        for method in config.methods:
            for i, s in enumerate(config.surrogates):
                x_adv = _craft(models[s], x, y, config, method, generators[method, s])
                correct[method][i] += _hits([models[t].model for t in config.targets], x_adv, y)
                done += 1
                if callback is not None:
                    callback(done, total, f"{method}: surrogate {i + 1}/{len(config.surrogates)}, {n} samples")
    return TransferResult(surrogates=[Path(s).name for s in config.surrogates],
                          targets=[Path(t).name for t in config.targets], eps=float(config.eps),
                          methods=list(config.methods),
                          accuracy={m: (c / max(n, 1)).tolist() for m, c in correct.items()},
                          clean=(clean / max(n, 1)).tolist(), n=n, steps=config.steps, seconds=time.time() - start)


def _load(config: TransferConfig, device, loaded: dict) -> dict[str, AttackTarget]:
    """Every run's model, loaded once, sharing the first run's data bundle (the data is the same)."""
    out, bundle = {}, None
    for run in config.runs():
        out[run] = loaded.get(run) or load_run_target(run, bundle=bundle, device=device)
        bundle = bundle or out[run].bundle
    return out


def _craft(surrogate: AttackTarget, x, y, config: TransferConfig, method: str,
           generator: torch.Generator) -> torch.Tensor:
    """The surrogate's white-box attack on one batch (``generator``: PGD's random starts)."""
    return attack(surrogate.model, x, y, config.eps, method=method, steps=config.steps, bounds=surrogate.bounds,
                  generator=generator)


def _hits(models: list, x, y) -> torch.Tensor:
    """(T,) correct predictions of each model on ``x`` (CPU)."""
    with torch.no_grad():
        return torch.tensor([float((m(x).argmax(1) == y).sum()) for m in models], dtype=torch.float64)


def read_transfer(job_dir: str | Path) -> TransferResult | None:
    """The finished table of an 'attack_transfer' job (None before it has one)."""
    from core.jobs import read_result

    result = read_result(job_dir)
    return TransferResult.from_dict(result) if result else None


def problems(config: dict) -> list[str]:
    """Why this transfer job cannot start (the job mechanism refuses it before creating anything)."""
    try:
        cfg = TransferConfig.from_dict(dict(config))
    except (TypeError, ValueError) as err:
        return [f"not a transfer attack config: {err}"]
    return cfg.problems()


def run(job) -> None:
    """The 'attack_transfer' job: the tables, progress and stop through the job, the result as JSON."""
    result = transfer_table(TransferConfig.from_dict(job.config), callback=job.progress)
    job.write_result(result.to_dict())
    for method in result.methods:
        job.note(f"{method} at eps {result.eps:g}: white-box " +
                 ", ".join(f"{s} {a:.1%}" for s, a in result.white_box(method).items()))
