"""The 'attack_sweep' job kind: accuracy versus epsilon of a trained run, in a worker process, not in the page.

The job's config is ``SweepConfig.to_dict()`` (``sweep_config_for`` fills in the attacked run's data and model, so
the runs list and the access rule see what the job is about). The result, written after each method so a page can
show FGSM while PGD still runs, is ``{"methods": {method: SweepResult.to_dict()}, "done": [...]}``;
``read_sweep(run_dir)`` gives ``{method: SweepResult}`` back.
"""
from __future__ import annotations

from pathlib import Path

from core.attacks.runs import SweepConfig, run_sweep
from core.attacks.sweep import SweepResult

KIND = "attack_sweep"


def sweep_config_for(run_dir: str | Path, **settings) -> SweepConfig:
    """A SweepConfig for the run at ``run_dir`` (its data and model copied from its config.json)."""
    from core.train.store import RunStore

    cfg = RunStore.open(run_dir).config()
    return SweepConfig(run_dir=str(run_dir), data=str(cfg.get("data", "")), model=str(cfg.get("model", "")),
                       **settings)


def problems(config: dict) -> list[str]:
    """Why this sweep cannot start (the job mechanism refuses it before creating anything)."""
    try:
        cfg = SweepConfig.from_dict(dict(config))
    except (TypeError, ValueError) as err:
        return [f"not an attack sweep config: {err}"]
    return cfg.problems()


def run(job) -> None:
    """Sweep every method of the config, reporting progress (and stopping) through the job."""
    cfg = SweepConfig.from_dict(job.config)
    done: dict[str, dict] = {}

    def progress(d: int, total: int, text: str) -> None:
        job.progress(d, total, text)

    def finished(method: str, result: SweepResult) -> None:
        done[method] = result.to_dict()
        job.write_result({"methods": dict(done), "done": list(done)})
        job.note(f"{method}: accuracy {', '.join(f'{a:.1%}' for a in result.accuracy)} at eps "
                 f"{', '.join(f'{e:g}' for e in result.epsilons)} ({result.n} samples, {result.seconds:.1f} s)")

    run_sweep(cfg, callback=progress, on_method=finished)


def read_sweep(run_dir: str | Path) -> dict[str, SweepResult] | None:
    """The finished methods of a sweep job so far (method -> SweepResult), or None before the first one."""
    from core.jobs import read_result

    result = read_result(run_dir)
    if not result:
        return None
    return {m: SweepResult.from_dict(r) for m, r in result.get("methods", {}).items()}


# ---- one sample ------------------------------------------------------------------------------------------------
ONE_KIND = "attack_one"  # one sample attacked (and its smallest epsilon searched) when too heavy for the page


def one_sample_config(request) -> dict:
    """The 'attack_one' job config of a ``OneSampleRequest``: the request, plus the attacked model and data (for
    the run's name and the access rule)."""
    from core.attacks.target import PRETRAINED_PREFIX
    from core.train.store import RunStore

    if request.target.startswith(PRETRAINED_PREFIX):
        naming = {"model": request.target[len(PRETRAINED_PREFIX):], "data": "imagenet"}
    else:
        try:
            cfg = RunStore.open(request.target).config()
        except (FileNotFoundError, ValueError):  # not a run: one_problems says so
            cfg = {}
        naming = {"model": cfg.get("model"), "data": cfg.get("data")}
    return {**request.to_dict(), **naming, "key": request.key()}  # the key: to find this result again


def one_problems(config: dict) -> list[str]:
    """Why this one-sample attack cannot start: a bad request, a run that cannot be attacked, bad settings."""
    from core.attacks.single import OneSampleRequest
    from core.attacks.target import PRETRAINED_PREFIX, run_problems

    try:
        request = OneSampleRequest.from_dict(config)
    except (KeyError, TypeError, ValueError) as err:
        return [f"not a one-sample attack config: {err}"]
    out = [] if request.target.startswith(PRETRAINED_PREFIX) else run_problems(request.target)
    bounds = (-1.0, 1.0) if request.x.ndim == 3 else (0.0, 1.0)  # (1, 1, N) waveform, (1, C, H, W) image
    return out + request.settings.problems(None, bounds)


def run_one(job) -> None:
    """Load the target, attack the sample (and search its smallest epsilon), write the OneSample."""
    from core.attacks.single import OneSampleRequest, one_sample
    from core.attacks.target import load_target
    from core.device import pick_device

    request = OneSampleRequest.from_dict(job.config)
    job.progress(0, 1, "loading the model")
    target = load_target(request.target, device=pick_device("auto"))
    job.progress(0, 1, f"attacking with {request.settings.method}"
                 + (" and searching the smallest epsilon" if request.smallest else ""))
    result = one_sample(target, request)
    job.write_result(result.to_dict())
    job.progress(1, 1, "done")


def read_one(run_dir: str | Path):
    """The OneSample a finished 'attack_one' job wrote, or None before it has."""
    from core.attacks.single import OneSample
    from core.jobs import read_result

    result = read_result(run_dir)
    return OneSample.from_dict(result) if result else None
