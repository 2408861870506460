"""core.train.lr_job.lr_view: the LR Finder page's one call (job config, problems, warning, the matching job)."""
from __future__ import annotations

from core.train import TrainConfig
from core.train.lr_finder import SweepSettings
from core.train.lr_job import lr_job_config, lr_view
from core.train.store import RunStore, list_runs


def test_problems_warning_and_the_job_of_exactly_these_settings(tmp_path):
    config, sweep = TrainConfig(data="builtin:digits", model="cnn", batch_size=64), SweepSettings(num_iter=20)
    fresh = lr_view(config, sweep, 2, 1000, "image", [])
    assert fresh.job_config == lr_job_config(config, sweep, [0, 1]) and fresh.problems == []
    assert fresh.warning is None and fresh.job is None and not fresh.earlier and fresh.report() is None
    assert "batch" in lr_view(config, sweep, 1, 10, "image", []).warning  # 64 > 10 training samples
    assert lr_view(config, SweepSettings(num_iter=1), 1, 1000, "image", []).problems  # at least 2 iterations
    other = RunStore.create(tmp_path, lr_job_config(config, sweep, [0]), kind="lr_find")  # one seed: other settings
    mine = RunStore.create(tmp_path, fresh.job_config, kind="lr_find")
    view = lr_view(config, sweep, 2, 1000, "image", list_runs(tmp_path, kind="lr_find"))
    assert view.job.run_dir == mine.run_dir and view.earlier
    assert lr_view(config, sweep, 3, 1000, "image", list_runs(tmp_path, kind="lr_find")).job is None
    assert other.run_dir != mine.run_dir
