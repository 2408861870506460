"""The profiler: per-layer forward times add up to the forward pass, backward is charged to layers, the CLI's JSON,
the Chrome trace, the jobs."""
from __future__ import annotations

import gzip
import json

import pytest
import torch
from torch import nn

from core.debug.profile import ProfileResult, profile_steps, profiled_layers, summary_sentence


SIDE = 48  # large enough that the layers' own work, not Python's time between them, fills the forward pass (a
#           16-pixel version missed the 10% on a loaded machine: 1.44 of 1.69 ms)


def _tiny():
    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(8 * SIDE * SIDE, 10))
    data = [(torch.randn(32, 1, SIDE, SIDE, generator=g), torch.randint(0, 10, (32,), generator=g)) for _ in range(2)]
    return model, data


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    model, data = _tiny()
    trace = tmp_path_factory.mktemp("prof") / "trace.json"
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    return profile_steps(model, data, opt, nn.CrossEntropyLoss(), 3, torch.device("cpu"), trace)


def test_layer_forward_times_sum_to_the_forward_pass(profiled):
    total = sum(lp.forward_ms for lp in profiled.layers)
    assert total == pytest.approx(profiled.phases_ms["forward"], rel=0.10)
    assert {lp.layer for lp in profiled.layers} == {"0", "1", "2", "3", "4", "5"}


def test_backward_is_charged_to_the_layers_with_weights(profiled):
    by = {lp.layer: lp for lp in profiled.layers}
    assert by["0"].backward_ms > 0 and by["2"].backward_ms > 0 and by["5"].backward_ms > 0
    assert sum(lp.backward_ms for lp in profiled.layers) <= profiled.phases_ms["backward"] * 1.01
    assert by["0"].forward_bytes == 32 * 8 * SIDE * SIDE * 4  # the conv's output, float32, kept for the backward


def test_phases_ops_flame_trace_and_sentence(profiled):
    assert sum(profiled.phases_ms.values()) <= profiled.step_ms * 1.05
    assert any(op.name == "aten::convolution_backward" for op in profiled.ops)
    ids = {row[0] for row in profiled.flame}
    assert all(parent in ids for _, parent, _, _ in profiled.flame if parent)
    assert any(label == "forward: 0" for _, _, label, _ in profiled.flame)
    events = json.loads(open(profiled.trace).read())["traceEvents"]
    assert any(e.get("name") == "forward: 2" for e in events)
    assert profiled.layers[0].layer in profiled.summary and "data loader" in profiled.summary
    again = ProfileResult.from_dict(json.loads(json.dumps(profiled.to_dict())))
    assert again.layers == profiled.layers and again.summary == profiled.summary


def test_sentence_says_when_data_dominates():
    r = ProfileResult(steps=1, device="cuda:0", step_ms=10.0, phases_ms={"data": 6.0, "forward": 2.0,
                                                                            "backward": 2.0})
    text = summary_sentence(r)
    assert text.startswith("The data loader takes the largest part") and "It means the CUDA waits for data" in text
    assert text.count("data loader") == 1


def test_profiled_layers_cover_the_forward():
    from core.models import build

    names = [n for n, _ in profiled_layers(build("cnn", 10, input_shape=(1, 8, 8)))]
    assert names == ["features.0", "features.1", "features.2", "avgpool", "classifier"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from core.train import fit, recommended

    root = tmp_path_factory.mktemp("runs")
    cfg = recommended("mlp", "builtin:digits", max_steps=2, epochs=1, runs_dir=str(root), stats_every=0,
                      tensorboard=False)
    return fit(cfg).run_dir


def test_cli_profile_json(trained_run, capsys, tmp_path):
    from core.__main__ import main

    assert main(["profile", trained_run, "--steps", "2", "--json", "--out", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [row["layer"] for row in out["layers"]] and {r["layer"] for r in out["layers"]} == {"flatten", "body",
                                                                                              "head"}
    assert all(row["forward_ms"] > 0 and "backward_bytes" in row for row in out["layers"])
    assert out["trace"].startswith(str(tmp_path)) and out["trace"].endswith(".json.gz")
    assert json.loads(gzip.open(out["trace"]).read())["traceEvents"]


def test_cli_profile_refuses_a_missing_run(capsys, tmp_path):
    from core.__main__ import main

    assert main(["profile", str(tmp_path / "nope"), "--steps", "2"]) == 2
    assert "cannot profile" in capsys.readouterr().err


def test_profile_and_memory_jobs_inline(trained_run, tmp_path):
    from core.debug.jobs import memory_job_config, profile_job_config, read_memory, read_profile
    from core.jobs import run_inline

    prof = read_profile(run_inline("profile", profile_job_config(trained_run, steps=2), runs_dir=tmp_path))
    assert prof.steps == 2 and prof.trace and prof.layers
    mem = read_memory(run_inline("memory", memory_job_config(trained_run), runs_dir=tmp_path))
    assert [p.segments for p in mem.points] == [0, 2, 4, 8] and all(p.activation_bytes > 0 for p in mem.points)
    with pytest.raises(ValueError, match="steps"):
        run_inline("profile", profile_job_config(trained_run, steps=0), runs_dir=tmp_path)
