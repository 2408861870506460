"""Job kinds of the debugging tools (see core.jobs): 'profile' (N training steps of a run under torch.profiler) and
'memory' (activation memory and step time with 0, 2, 4 and 8 checkpointed segments). Both run in a worker; their
results go into the job's own run directory (``result.json``, and the Chrome trace for a profile).

>>> run_dir = launch("profile", profile_job_config("runs/x", steps=20), owner=user)   # doctest: +SKIP
>>> read_profile(run_dir).summary                                                     # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

from core.debug.checkpointing import SEGMENT_CHOICES, MemoryResult
from core.debug.profile import MAX_STEPS, ProfileResult

DEFAULT_STEPS = 20  # profiled steps: enough for stable per-layer times, a trace of a few MB


def _naming(run_dir: str) -> dict:
    from core.train.store import RunStore

    try:
        cfg = RunStore.open(run_dir).config()
    except (FileNotFoundError, ValueError):
        return {"model": None, "data": None}
    return {"model": cfg.get("model"), "data": cfg.get("data")}


def _run_problems(config: dict) -> list[str]:
    run = config.get("run")
    if not isinstance(run, str) or not (Path(run) / "metrics.sqlite").is_file():
        return ["no training run to examine was given (a run directory)"]
    kind = _naming(run)
    return [] if kind["model"] else [f"{Path(run).name} is not a training run"]


# ---- profile -------------------------------------------------------------------------------------------------
def profile_job_config(run_dir: str | Path, steps: int = DEFAULT_STEPS) -> dict:
    """The config of a 'profile' job on the training run ``run_dir``."""
    return {"run": str(run_dir), "steps": int(steps), **_naming(str(run_dir))}


def profile_problems(config: dict) -> list[str]:
    out = _run_problems(config)
    if not 1 <= int(config.get("steps", 0)) <= MAX_STEPS:
        out.append(f"profile between 1 and {MAX_STEPS} steps")
    return out


def run_profile(job) -> None:
    """Profile the run's steps; the trace goes into the job's directory, the result into result.json."""
    from core.debug.profile import profile_run

    steps = int(job.config["steps"])
    result = profile_run(job.config["run"], steps, out_dir=job.run_dir,
                         progress=lambda done, total: job.progress(done, total, f"profiled step {done}/{total}"))
    job.write_result(result.to_dict())


def read_profile(run_dir: str | Path) -> ProfileResult | None:
    """The ProfileResult a finished 'profile' job wrote (None before)."""
    from core.jobs import read_result

    d = read_result(run_dir)
    return None if d is None else ProfileResult.from_dict(d)


# ---- memory --------------------------------------------------------------------------------------------------
def memory_job_config(run_dir: str | Path) -> dict:
    """The config of a 'memory' job on the training run ``run_dir`` (its model, one batch of its data)."""
    return {"run": str(run_dir), "segments": list(SEGMENT_CHOICES), **_naming(str(run_dir))}


def memory_problems(config: dict) -> list[str]:
    out = _run_problems(config)
    if not out:
        from core.debug.checkpointing import checkpointing_problem_for
        from core.models import MODELS

        name = _naming(config["run"])["model"]
        if name not in MODELS:
            out.append(f"unknown model {name!r}")
        else:
            out += [p for p in [checkpointing_problem_for(None, name)] if p]
    return out


def run_memory(job) -> None:
    """Measure the run's model on one training batch for each number of segments; result into result.json."""
    from core.debug.checkpointing import measure_memory
    from core.debug.profile import run_setup

    _, bundle, model, train_dl, _ = run_setup(job.config["run"])
    try:
        xb, yb = next(iter(train_dl))
    finally:
        bundle.splits["train"].transform = None
    dev = next(model.parameters()).device
    result = measure_memory(model, xb.to(dev), yb.to(dev), segments=tuple(job.config["segments"]),
                            progress=lambda done, total: job.progress(done, total, f"setting {done}/{total}"))
    job.write_result(result.to_dict())


def read_memory(run_dir: str | Path) -> MemoryResult | None:
    """The MemoryResult a finished 'memory' job wrote (None before)."""
    from core.jobs import read_result

    d = read_result(run_dir)
    return None if d is None else MemoryResult.from_dict(d)


def latest_job(kind: str, run_dir: str | Path, owner: str | None = None) -> Path | None:
    """The newest '``kind``' job on the training run ``run_dir`` in the same runs root (``owner``'s when given)."""
    from core.train.store import RunStore, list_runs

    run_dir = Path(run_dir)
    for info in list_runs(run_dir.parent, kind=kind):
        if owner is not None and info.owner not in (owner, None):
            continue
        try:
            if Path(RunStore.open(info.run_dir).config().get("run", "")).name == run_dir.name:
                return Path(info.run_dir)
        except (OSError, ValueError):
            continue
    return None
