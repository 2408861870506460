"""``python -m core inspect-model`` and ``python -m core export`` on a run directory."""
from __future__ import annotations

import json

import pytest
import torch

from core import models
from core.__main__ import main
from tests.inspect_helpers import make_run


@pytest.fixture
def digits_run(tmp_path):
    return make_run(tmp_path / "runs", width=8)


def test_inspect_model_table(digits_run, capsys):
    assert main(["inspect-model", str(digits_run)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cnn on image input (1, 32, 32)")
    assert "features.0" in out and "global" in out and "parameters:" in out


def test_inspect_model_json(digits_run, capsys):
    assert main(["inspect-model", str(digits_run), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    state = torch.load(digits_run / "checkpoints" / "best.pt", weights_only=True)["model"]
    params = sum(v.numel() for k, v in state.items() if not k.endswith(("running_mean", "running_var", "tracked")))
    assert report["totals"]["params"] == params
    rows = {r["name"]: r for r in report["rows"]}
    assert rows["features.0"]["receptive_field"] == [4, 4]  # conv 3 (r=3), then max-pool 2 (r=4)
    assert rows["classifier"]["field_text"] == "global"


def test_inspect_model_of_a_missing_run(tmp_path, capsys):
    assert main(["inspect-model", str(tmp_path / "nope")]) == 2
    assert "cannot inspect" in capsys.readouterr().err


def test_export_state_dict_from_the_command_line(digits_run, tmp_path, capsys):
    out = tmp_path / "out" / "digits.pt"
    assert main(["export", str(digits_run), "--format", "state_dict", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and "matches the lab's model on 8 validation examples" in text
    net = models.build("cnn", 10, input_shape=(1, 32, 32), width=8)
    net.load_state_dict(torch.load(out, weights_only=True))  # a plain state_dict, no ["model"] needed
    assert (tmp_path / "out" / "digits.py").is_file()


def test_export_json_and_refusal(digits_run, tmp_path, capsys, monkeypatch):
    assert main(["export", str(digits_run), "--format", "exported", "--out", str(tmp_path / "t.pt2"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["format"] == "exported" and report["examples"] == 8
    from core.inspect import export

    real = export.importlib.util.find_spec
    monkeypatch.setattr(export.importlib.util, "find_spec", lambda n, *a: None if n == "onnxruntime" else real(n, *a))
    assert main(["export", str(digits_run), "--format", "onnx", "--out", str(tmp_path / "t.onnx")]) == 2
    assert "missing here: onnxruntime (pip install onnxruntime)" in capsys.readouterr().err
    assert not (tmp_path / "t.onnx").exists()
