"""Ensembles of finished runs on the same data: mean of probabilities and majority vote, against each member.

    p_ens(x) = (1/M) * sum_m softmax(f_m(x))          prediction: argmax_c p_ens(x)_c
    vote(x)  = the class most members predict          ties: the tied class with the larger p_ens

>>> result = ensemble_runs(["runs/a", "runs/b", "runs/c"])     # doctest: +SKIP
>>> result.mean_acc, result.vote_acc, result.member_acc        # doctest: +SKIP

``combine`` is the arithmetic on probabilities (testable by hand); ``ensemble_runs`` loads the runs' models and
validation data; ``export_ensemble`` writes every member's state_dict + Python file and a small wrapper module.
"""
from __future__ import annotations

import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

MAX_EXAMPLES = 12  # fixed / broken examples kept in the result (the counts are complete)
MAX_MEMBERS = 8


@dataclass
class EnsembleExample:
    index: int  # position in the validation split
    true: int  # true class id
    ensemble: int  # the ensemble's (mean-probability) prediction
    best_member: int  # the best member's prediction


@dataclass
class EnsembleResult:
    """The ensemble against its members on the validation split."""

    members: list[str]  # run names (or labels)
    models: list[str]  # each member's model name
    classes: list[str]
    member_acc: list[float]  # each member's validation accuracy
    mean_acc: float  # accuracy of the mean of probabilities
    vote_acc: float  # accuracy of the majority vote
    agreement: list[list[float]]  # [i][j]: share of examples where members i and j predict the same class
    best: int  # index of the most accurate member
    n_fixed: int  # examples the best member gets wrong and the ensemble right
    n_broken: int  # examples the best member gets right and the ensemble wrong
    fixed: list[EnsembleExample] = field(default_factory=list)  # up to MAX_EXAMPLES of them
    broken: list[EnsembleExample] = field(default_factory=list)
    examples: int = 0  # validation examples
    params: list[int] = field(default_factory=list)  # each member's parameter count

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EnsembleResult":
        d = dict(d)
        d["fixed"] = [EnsembleExample(**e) for e in d.get("fixed", [])]
        d["broken"] = [EnsembleExample(**e) for e in d.get("broken", [])]
        return cls(**d)

    def message(self) -> str:
        """One line for the page and the CLI."""
        return (f"ensemble of {len(self.members)}: mean of probabilities {self.mean_acc:.1%}, majority vote "
                f"{self.vote_acc:.1%}; best member {self.members[self.best]} {self.member_acc[self.best]:.1%} "
                f"(fixes {self.n_fixed}, breaks {self.n_broken} of {self.examples} examples)")


def mean_probabilities(probs: np.ndarray) -> np.ndarray:
    """(M, N, C) member probabilities -> (N, C) their mean."""
    return np.asarray(probs, dtype=np.float64).mean(axis=0)


def majority_vote(probs: np.ndarray) -> np.ndarray:
    """(M, N, C) -> (N,) the class most members predict; a tie goes to the tied class with the larger mean
    probability."""
    probs = np.asarray(probs, dtype=np.float64)
    m, n, c = probs.shape
    votes = np.zeros((n, c))
    np.add.at(votes, (np.repeat(np.arange(n)[None], m, 0), probs.argmax(axis=2)), 1.0)
    top = votes == votes.max(axis=1, keepdims=True)
    return np.where(top, mean_probabilities(probs), -np.inf).argmax(axis=1)


def combine(probs: np.ndarray, targets: np.ndarray, members: list[str], classes: list[str],
            models: list[str] | None = None, params: list[int] | None = None) -> EnsembleResult:
    """The ensemble of member probabilities ``probs`` (M, N, C) against ``targets`` (N,)."""
    probs, targets = np.asarray(probs, dtype=np.float64), np.asarray(targets)
    preds = probs.argmax(axis=2)  # (M, N)
    member_acc = [float((p == targets).mean()) for p in preds]
    ens = mean_probabilities(probs).argmax(axis=1)
    vote = majority_vote(probs)
    best = int(np.argmax(member_acc))
    fixed = np.flatnonzero((preds[best] != targets) & (ens == targets))
    broken = np.flatnonzero((preds[best] == targets) & (ens != targets))
    agreement = [[float((a == b).mean()) for b in preds] for a in preds]

    def examples(idx):
        return [EnsembleExample(int(i), int(targets[i]), int(ens[i]), int(preds[best][i])) for i in idx[:MAX_EXAMPLES]]

    return EnsembleResult(list(members), list(models or [""] * len(members)), list(classes), member_acc,
                          float((ens == targets).mean()), float((vote == targets).mean()), agreement, best,
                          len(fixed), len(broken), examples(fixed), examples(broken), int(len(targets)),
                          list(params or [0] * len(members)))


# ---- runs ----------------------------------------------------------------------------------------------------------
def _config(run_dir) -> dict:
    from core.train.store import RunStore

    return RunStore.open(run_dir).config()


def ensemble_problems(run_dirs: list[str]) -> list[str]:
    """Why these runs cannot be combined (empty when they can): fewer than two, no checkpoint, other data."""
    from core.train.evaluate import checkpoint_path

    out = []
    if not 2 <= len(run_dirs) <= MAX_MEMBERS:
        out.append(f"choose between 2 and {MAX_MEMBERS} runs")
    if len(set(map(str, run_dirs))) != len(run_dirs):
        out.append("a run is chosen twice")
    sources = set()
    for run in run_dirs:
        if not (Path(run) / "metrics.sqlite").is_file():
            out.append(f"{Path(run).name} is not a run directory")
            continue
        if checkpoint_path(run) is None:
            out.append(f"{Path(run).name} has no checkpoint yet")
        sources.add(_config(run).get("data"))
    if len(sources) > 1:
        out.append("the runs were trained on different data (" + ", ".join(sorted(map(str, sources))) + "); an "
                   "ensemble needs the same validation examples")
    return out


def member_probabilities(run_dirs: list[str], progress=None):
    """(probs (M, N, C), targets, classes, models, params, bundles) of the runs on their validation split.

    Runs with the same data options share one loaded bundle; members at other image sizes see the same examples
    at their own size (the targets must be the same, else ``ValueError``)."""
    import json

    from core.data import load
    from core.train.evaluate import evaluate, load_run_model

    bundles, probs, models, params, targets, classes = {}, [], [], [], None, None
    for i, run in enumerate(run_dirs):
        cfg = _config(run)
        key = json.dumps([cfg["data"], cfg.get("data_opts") or {}], sort_keys=True)
        if key not in bundles:
            bundles[key] = load(cfg["data"], **(cfg.get("data_opts") or {}))
        model, bundle = load_run_model(run, bundles[key])
        ev = evaluate(model, bundle)
        if targets is not None and (len(ev.targets) != len(targets) or (ev.targets != targets).any()
                                    or ev.classes != classes):
            raise ValueError(f"{Path(run).name} has other validation examples than the first run")
        targets, classes = ev.targets, ev.classes
        probs.append(ev.probs)
        models.append(cfg["model"])
        params.append(int(sum(p.numel() for p in model.parameters())))
        if progress:
            progress(i + 1, len(run_dirs), f"evaluated {Path(run).name}")
    return np.stack(probs), targets, classes, models, params, bundles


def ensemble_runs(run_dirs: list[str], progress=None) -> EnsembleResult:
    """Load the runs' models, evaluate each on the validation split and combine them."""
    problems = ensemble_problems([str(r) for r in run_dirs])
    if problems:
        raise ValueError("; ".join(problems))
    probs, targets, classes, models, params, _ = member_probabilities([str(r) for r in run_dirs], progress)
    return combine(probs, targets, [Path(r).name for r in run_dirs], classes, models, params)


_WRAPPER = '''"""An ensemble of runs from the deep-learning lab: the mean of the members' probabilities (torch only).

Usage:
    from ensemble import load_ensemble
    ensemble = load_ensemble()          # every member in eval mode
    probs = ensemble(x)                 # (B, C) mean of softmax probabilities; probs.argmax(1) is the prediction
"""
import importlib.util
from pathlib import Path

import torch

MEMBERS = {members!r}  # (python file, state_dict file) per member
CLASSES = {classes!r}


def _load(folder: Path, py: str, weights: str) -> torch.nn.Module:
    spec = importlib.util.spec_from_file_location(Path(py).stem, folder / py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_model(str(folder / weights))


class Ensemble(torch.nn.Module):
    """Mean of the members' softmax probabilities."""

    def __init__(self, members):
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    def forward(self, x):
        return torch.stack([m(x).softmax(dim=1) for m in self.members]).mean(dim=0)


def load_ensemble(folder: str = None) -> Ensemble:
    folder = Path(folder) if folder else Path(__file__).resolve().parent
    return Ensemble([_load(folder, py, weights) for py, weights in MEMBERS]).eval()


if __name__ == "__main__":
    print(load_ensemble())
'''


def export_ensemble(run_dirs: list[str], out_dir: str | Path) -> Path:
    """Write each member's state_dict + Python file (core.inspect.export, checked) and ``ensemble.py`` into
    ``out_dir``, and zip them as ``out_dir/ensemble.zip``; returns the zip's path."""
    from core.inspect.target import example_batch, load_run

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    members, files = [], []
    for i, run in enumerate(run_dirs):
        from core.inspect.export import export_model

        target = load_run(run)
        result = export_model(target.model, example_batch(target), "state_dict", out_dir / f"member{i}.pt",
                              classes=target.classes)
        if not result.ok:
            raise ValueError(f"member {Path(run).name}: {result.message()}")
        members.append((Path(result.files[1]).name, Path(result.files[0]).name))
        files += [Path(f) for f in result.files]
        classes = target.classes
    wrapper = out_dir / "ensemble.py"
    wrapper.write_text(_WRAPPER.format(members=members, classes=list(classes)))
    archive = out_dir / "ensemble.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for f in [*files, wrapper]:
            z.write(f, f.name)
    return archive


# ---- the job ('ensemble' in core.jobs.kinds) ------------------------------------------------------------------
def job_config(run_dirs: list[str]) -> dict:
    """The 'ensemble' job config: the member runs, in order."""
    return {"runs": [str(r) for r in run_dirs], "model": "ensemble",
            "data": _config(run_dirs[0]).get("data", "") if run_dirs else ""}


def job_problems(config: dict) -> list[str]:
    return ensemble_problems(list(config.get("runs") or []))


def run_job(job) -> None:
    """Evaluate and combine the members, export them, write the EnsembleResult (+ the zip's path) as the result."""
    runs = job.config["runs"]
    result = ensemble_runs(runs, progress=job.progress)
    archive = export_ensemble(runs, job.run_dir / "exports")
    job.write_result({**result.to_dict(), "archive": str(archive), "message": result.message()})
