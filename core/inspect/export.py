"""Take a model out of the lab: a plain state_dict + a Python file that rebuilds it, torch.export (.pt2) or ONNX. Every export is loaded back and checked against the lab's model on a batch of real inputs.

>>> result = export_run("runs/20260101-120000-cnn-digits", "onnx", "digits.onnx")   # doctest: +SKIP
>>> result.ok, result.message()                                                     # doctest: +SKIP
(True, 'onnx export matches the lab's model on 8 validation examples (largest difference 3.0e-07 ...)')

Formats:
    state_dict   ``torch.save(model.state_dict())``: load it with
                 ``model.load_state_dict(torch.load(f, weights_only=True))``; with it a self-contained .py file
                 (``load_model(path)``) that defines the architecture without the lab.
    exported     ``torch.export.export`` saved with ``torch.export.save`` (.pt2), batch size left dynamic.
    onnx         ``torch.onnx.export(dynamo=True)``, checked with onnxruntime; needs onnx, onnxscript, onnxruntime.

No TorchScript: it is deprecated since torch 2.11 (``torch.jit`` warns from 2.15); torch.export is its successor.
"""
from __future__ import annotations

import importlib.util
import io
import re
import sys
import uuid
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from core.models.modes import eval_mode

FORMATS = {"state_dict": ".pt", "exported": ".pt2", "onnx": ".onnx"}  # format -> suffix
LABELS = {"state_dict": "plain state_dict + Python file", "exported": "torch.export (.pt2)", "onnx": "ONNX"}
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
ATOL, RTOL = 1e-4, 1e-4  # float32 outputs may differ by rounding (fused / reordered operations)


class ExportUnavailable(RuntimeError):
    """The format cannot be written here (a package is missing, or the model cannot be captured); says why."""


@dataclass
class ExportResult:
    """What was written and how well the exported model agrees with the lab's model."""

    format: str  # state_dict | exported | onnx
    path: str  # the model file
    files: list[str]  # every file written (the state_dict export adds its .py file)
    examples: int  # inputs in the check batch
    max_abs_diff: float  # largest |exported - lab| over the batch's logits
    ok: bool  # every logit within ATOL + RTOL * |lab logit|
    notes: list[str] = field(default_factory=list)  # how it was made, when worth saying

    def message(self) -> str:
        """One line for the page and the CLI."""
        verdict = "matches" if self.ok else "DOES NOT match"
        return (f"{LABELS[self.format]} export {verdict} the lab's model on {self.examples} validation examples "
                f"(largest difference {self.max_abs_diff:.1e}, tolerance {ATOL:g} + {RTOL:g}·|logit|)")

    def to_dict(self) -> dict:
        """JSON-serialisable fields."""
        return asdict(self)


def missing_packages(fmt: str) -> list[str]:
    """Packages the format needs that are not installed (empty when it can run)."""
    needed = ONNX_PACKAGES if fmt == "onnx" else ()
    return [p for p in needed if importlib.util.find_spec(p) is None]


def default_filename(stem: str, fmt: str) -> str:
    """e.g. ('digits-cnn', 'onnx') -> 'digits-cnn.onnx'."""
    return f"{stem}{FORMATS[fmt]}"


def python_file_for(path: Path) -> Path:
    """Where the state_dict export writes its Python file: an importable name next to the weights."""
    stem = re.sub(r"\W", "_", path.stem)
    return path.with_name(f"{'model_' if stem[:1].isdigit() else ''}{stem}.py")


def state_dict_bytes(model: nn.Module) -> bytes:
    """``torch.save(model.state_dict())`` in memory: what the plain state_dict download holds."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def _close(reference: torch.Tensor, out: torch.Tensor) -> tuple[float, bool]:
    out = torch.as_tensor(out).to(reference.dtype)
    if out.shape != reference.shape:
        return float("inf"), False
    diff = (out - reference).abs()
    return float(diff.max()) if diff.numel() else 0.0, bool((diff <= ATOL + RTOL * reference.abs()).all())


# ---- the three writers: each writes, loads back, and returns (outputs on x, files, notes) ------------------------
def _state_dict(model: nn.Module, x: torch.Tensor, out: Path, classes):
    from core.inspect.source import model_source

    torch.save(model.state_dict(), out)
    py = python_file_for(out)
    py.write_text(model_source(model, state_dict_file=out.name, module_name=py.stem, classes=classes))
    spec = importlib.util.spec_from_file_location(f"_lab_export_{uuid.uuid4().hex}", py)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would (dataclasses look their module up there)
    try:
        spec.loader.exec_module(module)  # a fresh namespace: a name only the lab defines would fail here
        with torch.no_grad():
            y = module.load_model(str(out))(x)
    finally:
        sys.modules.pop(spec.name, None)
    return y, [str(out), str(py)], []


def _dynamic(x: torch.Tensor) -> tuple[dict, ...]:
    """Batch (and, for token ids, length) left dynamic."""
    dims = {0: torch.export.Dim.AUTO}
    if not x.dtype.is_floating_point and x.dim() == 2:
        dims[1] = torch.export.Dim.AUTO
    return (dims,)


def _captured(model: nn.Module, x: torch.Tensor, what: str):
    try:
        return torch.export.export(model, (x,), dynamic_shapes=_dynamic(x))
    except Exception as err:  # noqa: BLE001 - re-raised with what it means for the user
        why = (" The text models pack their padded sequences (pack_padded_sequence), which torch.export cannot "
               "capture." if not x.dtype.is_floating_point else "")
        raise ExportUnavailable(f"torch.export could not capture this model, so {what} is not available for it "
                                f"({type(err).__name__}: {str(err).splitlines()[0][:200]}).{why} The state_dict "
                                "export works for every lab model.") from err


def _exported(model: nn.Module, x: torch.Tensor, out: Path, _classes):
    program = _captured(model, x, "a torch.export (.pt2) file")
    torch.export.save(program, str(out))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "buffer is not writable" from torch's own loader
        y = torch.export.load(str(out)).module()(x)
    return y, [str(out)], []


def _onnx(model: nn.Module, x: torch.Tensor, out: Path, _classes):
    missing = missing_packages("onnx")
    if missing:
        raise ExportUnavailable(f"ONNX export needs the packages {', '.join(ONNX_PACKAGES)}; missing here: "
                                f"{', '.join(missing)} (pip install {' '.join(missing)})")
    import onnxruntime

    _captured(model, x, "ONNX")  # the same capture step, with its clear message when it fails
    torch.onnx.export(model, (x,), str(out), dynamo=True, dynamic_shapes=_dynamic(x), input_names=["input"],
                      output_names=["logits"], external_data=False, verbose=False)  # one file, weights inside
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    y = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    return torch.from_numpy(y), [str(out)], []


_WRITERS = {"state_dict": _state_dict, "exported": _exported, "onnx": _onnx}


def export_model(model: nn.Module, example: torch.Tensor, fmt: str, out: str | Path, *,
                 classes: list[str] | None = None) -> ExportResult:
    """Write ``model`` in format ``fmt`` to ``out`` and check it on ``example`` (a batch of real inputs).

    Raises ``ValueError`` for an unknown format and ``ExportUnavailable`` when the format cannot be written here.
    The model is exported in eval mode, on the CPU; its own mode is restored.
    """
    if fmt not in _WRITERS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of: {', '.join(_WRITERS)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with eval_mode(model):
        x = example.detach().cpu()
        with torch.no_grad():
            reference = model.cpu()(x)
        y, files, notes = _WRITERS[fmt](model, x, out, classes)
    diff, ok = _close(reference, y)
    return ExportResult(fmt, str(out), files, int(x.shape[0]), diff, ok, notes)
