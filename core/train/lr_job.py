"""The 'lr_find' job kind: the LR range test (and its repeats with other seeds) in a worker, not in the page.

The job's config is ``lr_job_config(train_config, sweep, seeds)``; its result is ``LRFinderReport.to_dict()``
(``read_report(run_dir)`` gives the report back). While it runs, the smoothed loss of every fetched step is in the
run store (``RunStore.steps()``: step across all seeds, epoch = seed index, loss, lr), so a page can draw it live.
"""
from __future__ import annotations

from dataclasses import asdict

MAX_SEEDS = 10  # repeats of one sweep a job may ask for (each is a whole sweep)


def lr_job_config(config, sweep=None, seeds=None) -> dict:
    """The job config for sweeping ``config`` (a TrainConfig) with ``sweep`` (SweepSettings) once per seed."""
    from core.train.lr_finder import SweepSettings

    seeds = list(seeds) if seeds else [config.seed]
    return {"data": config.data, "model": config.model, "train": config.to_dict(),
            "sweep": asdict(sweep or SweepSettings()), "seeds": [int(s) for s in seeds]}


def problems(config: dict) -> list[str]:
    """Why this sweep cannot start: the training settings' own checks, the sweep's, and the number of seeds."""
    from core.train import TrainConfig
    from core.train.checks import train_problems
    from core.train.lr_finder import SweepSettings

    try:
        train, sweep = TrainConfig.from_dict(config["train"]), SweepSettings(**config["sweep"])
    except (KeyError, TypeError, ValueError) as err:
        return [f"not an LR finder job config: {err}"]
    out = train_problems(train) + sweep.problems()  # what find_lr_for refuses in the worker
    if not 1 <= len(config.get("seeds") or []) <= MAX_SEEDS:
        out.append(f"the number of seeds must be between 1 and {MAX_SEEDS}")
    return out


def run(job) -> None:
    """Run the sweeps, reporting progress (and stopping) through the job; write the report as the result."""
    from core.train import TrainConfig
    from core.train.lr_finder import SweepSettings, find_lr_for

    config, sweep = TrainConfig.from_dict(job.config["train"]), SweepSettings(**job.config["sweep"])
    seeds = job.config["seeds"]
    total = len(seeds) * sweep.num_iter

    def progress(done: int, num_iter: int, lr: float, loss: float, seed_index: int) -> None:
        step = seed_index * num_iter + done
        job.store.log_step(step, seed_index, loss=loss, lr=lr)
        job.progress(step, total, f"sweep {seed_index + 1}/{len(seeds)}: step {done}/{num_iter}, lr {lr:.1e}, "
                                  f"loss {loss:.3f}")

    report = find_lr_for(config, sweep, seeds=seeds, callback=progress)
    job.write_result(report.to_dict())


def read_report(run_dir):
    """The LRFinderReport of a finished lr_find job, or None while it has none."""
    from core.jobs import read_result
    from core.train.lr_finder import LRFinderReport

    result = read_result(run_dir)
    return None if result is None else LRFinderReport.from_dict(result)


def matching_job(config: dict, runs: list):
    """The newest of ``runs`` (RunInfo, newest first) that is an lr_find job launched with exactly ``config``, or
    None. A page shows a sweep's result only for the settings it was found with, and finds it again after a reload.
    Only runs with the config's data and model are opened (their config.json), so this stays cheap."""
    import json

    from core.train.run_reader import CONFIG_NAME

    want = json.loads(json.dumps(config, default=str))  # tuples -> lists, as config.json holds them
    for info in runs:
        if info.kind != "lr_find" or info.data != want.get("data") or info.model != want.get("model"):
            continue
        try:
            if json.loads((info.run_dir / CONFIG_NAME).read_text()) == want:
                return info
        except (OSError, ValueError):
            continue  # a run being created or deleted right now
    return None
