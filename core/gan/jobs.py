"""The 'gan' job kind: GAN training in a worker process (see core.jobs), started by the GAN page.

>>> run_dir = launch("gan", GanConfig(data="toy:ring", max_steps=500).to_dict(), owner=user)   # doctest: +SKIP
"""
from __future__ import annotations


def run_gan(job) -> None:
    """Train the job's GanConfig into its run store (``fit`` records statuses, series and checkpoints itself) and
    write the GanResult as the job's result, before the run's final status (a reader that sees 'finished' finds it)."""
    from core.gan.config import GanConfig
    from core.gan.train import fit

    fit(GanConfig.from_dict(job.config), run=job.store, on_result=lambda result: job.write_result(result.to_dict()))


def gan_problems(config: dict) -> list[str]:
    """Why this GAN config cannot be launched: its own checks, the model against the data (read cheaply), the
    judge, and this server's limits."""
    from core.gan.config import GanConfig
    from core.gan.data import probe_data
    from core.settings import load_settings

    try:
        cfg = GanConfig.from_dict(dict(config))
    except (TypeError, ValueError) as err:  # not a GanConfig at all (unknown fields, wrong types)
        return [str(err)]
    return cfg.problems(probe_data(cfg.data, cfg.image_size, cfg.data_opts), load_settings().limits)
