"""The Inspect page's job kinds run end to end (in this process: run_inline) and refuse impossible configs."""
from __future__ import annotations

import pytest
import torch

from core.inspect.jobs import (export_job_config, export_problems, read_class_visual, visual_job_config,
                               visual_problems)
from core.jobs import read_result, run_inline
from core.train.store import RunStore
from tests.inspect_helpers import make_run


@pytest.fixture
def digits_run(tmp_path):
    return make_run(tmp_path / "runs", width=8)


def test_class_visual_job(digits_run, tmp_path):
    job = run_inline("class_visual", visual_job_config(str(digits_run), [0, 3], steps=6), runs_dir=tmp_path / "jobs")
    info = RunStore.open(job).info()
    assert info.status == "finished" and info.kind == "class_visual" and info.model == "cnn"
    vis, result = read_class_visual(job)
    assert vis.images.shape == (2, 1, 32, 32) and vis.targets == [0, 3] and result["class_names"] == ["0", "3"]
    assert all(e > s for s, e in zip(vis.start_logits, vis.end_logits))


def test_export_job(digits_run, tmp_path):
    job = run_inline("export", export_job_config(str(digits_run), "exported"), runs_dir=tmp_path / "jobs")
    result = read_result(job)
    assert result["ok"] and "matches" in result["message"]
    assert torch.export.load(result["path"]).module() is not None and result["path"].startswith(str(job))


def test_refused_configs(digits_run, tmp_path):
    assert visual_problems(visual_job_config(str(digits_run), [0], steps=0))
    assert visual_problems(visual_job_config(str(digits_run), list(range(9))))
    assert "not a run directory" in " ".join(visual_problems(visual_job_config(str(tmp_path), [0])))
    assert "unknown export format" in " ".join(export_problems(export_job_config(str(digits_run), "pickle")))
    assert export_problems(export_job_config("imagenet:efficientnet_lite0", "onnx"))
    with pytest.raises(ValueError, match="steps"):
        run_inline("class_visual", visual_job_config(str(digits_run), [0], steps=10_000), runs_dir=tmp_path / "j")
