"""Exports round-trip: plain state_dict + generated Python file (also run without the lab), torch.export, ONNX
(onnxruntime), with no deprecation warning on this torch; no TorchScript; clear refusals; the check notices a
mismatch."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import warnings

import pytest
import torch

from core import models
from core.inspect import ExportUnavailable, export_model
from core.inspect import export as export_mod


def _cnn():
    return models.build("cnn", 4, input_shape=(1, 16, 16), width=8).eval()


X = torch.rand(5, 1, 16, 16, generator=torch.Generator().manual_seed(0))


def test_state_dict_is_plain_and_the_python_file_rebuilds_the_model(tmp_path):
    net = models.build("stn_cnn", 4, input_shape=(1, 16, 16))
    result = export_model(net, X, "state_dict", tmp_path / "digits-stn.pt", classes=list("abcd"))
    assert result.ok and result.examples == 5 and result.max_abs_diff == 0.0
    weights, py = tmp_path / "digits-stn.pt", tmp_path / "digits_stn.py"
    assert result.files == [str(weights), str(py)]
    fresh = models.build("stn_cnn", 4, input_shape=(1, 16, 16))
    fresh.load_state_dict(torch.load(weights, weights_only=True))  # the README's promise, literally
    torch.testing.assert_close(fresh.eval()(X), net.eval()(X))
    source = py.read_text()
    imported = {n.module or "" for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom)} | \
        {a.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m == "core" or m.startswith("core.") for m in imported)
    assert "CLASSES = ['a', 'b', 'c', 'd']" in source


def test_generated_file_runs_without_the_lab(tmp_path):
    """A separate interpreter, started in the export folder with -I (no PYTHONPATH, no project on sys.path)."""
    net = models.build("cnn", 3, input_shape=(1, 32, 32), width=8)
    images = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    assert export_model(net, images, "state_dict", tmp_path / "photos.pt").ok
    torch.save(images, tmp_path / "images.pt")
    script = ("import torch, sys; from photos import load_model; m = load_model('photos.pt'); "
              "assert 'core' not in sys.modules; "
              "torch.save(m(torch.load('images.pt', weights_only=True)), 'out.pt')")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, '.'); {script}"], cwd=tmp_path,
                   env=env, check=True, timeout=120)
    torch.testing.assert_close(torch.load(tmp_path / "out.pt", weights_only=True), net.eval()(images))


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_registered_model_exports_as_state_dict(name, tmp_path):
    """The generated file rebuilds every model of the registry (transfer models without their weight lookup)."""
    kind = models.spec(name).kind
    if kind == "image":
        net, x = models.build(name, 3, input_shape=(1, 32, 32)), torch.rand(2, 1, 32, 32)
    elif kind == "audio":
        net, x = models.build(name, 3, sample_rate=8000, num_samples=8000), torch.randn(2, 1, 8000)
    else:
        net, x = models.build(name, 3, vocab_size=30), torch.tensor([[1, 2, 3], [4, 5, 0]])
    result = export_model(net, x, "state_dict", tmp_path / "m.pt")
    assert result.ok and result.max_abs_diff == 0.0


def test_text_model_state_dict(tmp_path):
    net = models.build("gru", 2, vocab_size=40)
    ids = torch.tensor([[3, 4, 5, 0], [6, 7, 8, 9], [2, 0, 0, 0]])
    result = export_model(net, ids, "state_dict", tmp_path / "gru.pt")
    assert result.ok and result.max_abs_diff == 0.0


def test_torch_export_round_trip_without_deprecation_warnings(tmp_path):
    net = _cnn()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", FutureWarning)
        result = export_model(net, X, "exported", tmp_path / "m.pt2")
    assert result.ok and "matches" in result.message()
    program = torch.export.load(str(tmp_path / "m.pt2")).module()
    torch.testing.assert_close(program(X[:2]), net(X[:2]))  # batch size left dynamic
    torch.testing.assert_close(program(X), net(X))


def test_torchscript_is_gone(tmp_path):
    assert "torchscript" not in export_mod.FORMATS and "torchscript" not in export_mod.LABELS
    with pytest.raises(ValueError, match="unknown export format"):
        export_model(_cnn(), X, "torchscript", tmp_path / "m.pt")


def test_onnx_round_trip_with_onnxruntime(tmp_path):
    import onnxruntime

    net = _cnn()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        result = export_model(net, X, "onnx", tmp_path / "m.onnx")
    assert result.ok and result.max_abs_diff < 1e-4
    assert result.files == [str(tmp_path / "m.onnx")] and not (tmp_path / "m.onnx.data").exists()  # one file
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    three = X[:3].numpy()
    torch.testing.assert_close(torch.from_numpy(session.run(None, {"input": three})[0]), net(X[:3]),
                               rtol=1e-4, atol=1e-5)


def test_missing_onnx_packages_are_named(tmp_path, monkeypatch):
    real = export_mod.importlib.util.find_spec
    monkeypatch.setattr(export_mod.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxscript" else real(name, *a))
    with pytest.raises(ExportUnavailable, match="missing here: onnxscript"):
        export_model(_cnn(), X, "onnx", tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_text_models_cannot_be_captured_by_torch_export(tmp_path):
    net = models.build("lstm", 2, vocab_size=40)
    with pytest.raises(ExportUnavailable, match="pack_padded_sequence"):
        export_model(net, torch.tensor([[3, 4, 5], [6, 7, 0]]), "exported", tmp_path / "t.pt2")


def test_the_check_reports_a_mismatch(tmp_path, monkeypatch):
    writer = export_mod._WRITERS["exported"]

    def off_by_a_bit(model, x, out, classes):
        y, files, notes = writer(model, x, out, classes)
        return y + 1e-2, files, notes

    monkeypatch.setitem(export_mod._WRITERS, "exported", off_by_a_bit)
    result = export_model(_cnn(), X, "exported", tmp_path / "m.pt2")
    assert not result.ok and result.max_abs_diff == pytest.approx(1e-2, rel=1e-3)
    assert "DOES NOT match" in result.message()


def test_unknown_format_and_mode_restored(tmp_path):
    net = _cnn().train()
    with pytest.raises(ValueError, match="unknown export format"):
        export_model(net, X, "pickle", tmp_path / "m")
    export_model(net, X, "exported", tmp_path / "m.pt2")
    assert net.training
