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
