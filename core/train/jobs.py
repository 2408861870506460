"""The 'train' job kind: a classifier training run in a worker (see core.jobs)."""
from __future__ import annotations


def run_train(job) -> None:
    """Train the run's TrainConfig into the job's run store (``fit`` records statuses and metrics itself)."""
    from core.train import TrainConfig, fit

    fit(TrainConfig.from_dict(job.config), run=job.store)


def train_problems(config: dict) -> list[str]:
    """Why this training config cannot be launched (see ``core.train.worker.launch_problems``)."""
    from core.train.worker import launch_problems

    try:
        return launch_problems(config)
    except (TypeError, ValueError) as err:  # not a TrainConfig at all (unknown fields, wrong types)
        return [str(err)]
