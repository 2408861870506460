"""A pipeline = ordered (transform, params, probability) steps: JSON round-trip, build, sample-then-apply, export.

>>> pipe = Pipeline("image", [Step("RandomHorizontalFlip", {}, 0.5), Step("ColorJitter", {"brightness": 0.3}, 0.8)])
>>> draw = pipe.sample(torch.rand(3, 32, 32), seed=0)   # draw.output, draw.records (what was drawn per step)
>>> pipe.build()  # the torchvision Compose a Dataset's .transform takes; same seed -> same output as draw

Seeded draws come from their own ``torch.Generator`` (never torch's process-wide one, which the sessions of the app
share as threads of one process), so a seed replays its draw whatever else runs meanwhile.
"""
from __future__ import annotations

import copy
import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torchvision.transforms import v2

from core.augment.draws import draw_params, runs
from core.augment.specs import AugmentError, OpSpec, check_probability, validate_params

KINDS = ("image", "spectrogram", "audio", "text")
_MODULES = {"image": "core.augment.image", "spectrogram": "core.augment.spectrogram",
            "audio": "core.augment.audio", "text": "core.augment.text"}
_REGISTRY_NAMES = {"image": "IMAGE_OPS", "spectrogram": "SPEC_OPS", "audio": "AUDIO_OPS", "text": "TEXT_OPS"}


def registry(kind: str) -> dict[str, OpSpec]:
    """The transforms a ``kind`` of pipeline can use: name -> OpSpec (specs, help, builder)."""
    if kind not in KINDS:
        raise AugmentError(f"unknown pipeline kind {kind!r}; choose one of {', '.join(KINDS)}")
    return getattr(importlib.import_module(_MODULES[kind]), _REGISTRY_NAMES[kind])


@dataclass
class Step:
    name: str  # registry key, e.g. "ColorJitter"
    params: dict = field(default_factory=dict)  # parameter values; missing ones take the spec's default
    p: float = 1.0  # probability the step runs on a given draw (flips and erasing pass it as their own p)


@dataclass
class StepDraw:
    name: str  # the step's transform
    applied: bool  # False when the step's probability said skip
    params: dict  # what make_params drew (raw: tensors stay tensors); see describe()


@dataclass
class Draw:
    output: Any  # the augmented sample (text: tagged Tokens, str(output) is the augmented string)
    records: list[StepDraw]  # one per step, in order
    stages: list = field(default_factory=list)  # output after each step (only when asked: keep_stages=True)


@dataclass
class Pipeline:
    kind: str = "image"  # 'image' | 'spectrogram' (a (1, n_mels, T) log-mel) | 'audio' (a (1, N) waveform) | 'text'
    steps: list[Step] = field(default_factory=list)  # applied in order
    sample_rate: int | None = None  # audio only: the waveform's rate (pitch shift / stretch need it); None = 16000

    def validated(self) -> "Pipeline":
        """A copy with every step checked and its params completed with defaults; raises ``AugmentError``."""
        ops = registry(self.kind)
        steps = []
        for i, step in enumerate(self.steps):
            if step.name not in ops:
                raise AugmentError(f"step {i + 1}: unknown {self.kind} transform {step.name!r}; "
                                   f"known: {', '.join(ops)}")
            params = validate_params(ops[step.name], dict(step.params or {}))
            steps.append(Step(step.name, params, check_probability(step.p, f"step {i + 1} {step.name}")))
        rate = self.sample_rate
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0):
            raise AugmentError(f"sample_rate must be a positive whole number of Hz (or null), got {rate!r}")
        return Pipeline(self.kind, steps, rate)

    def to_dict(self) -> dict:
        """JSON-serialisable form (tuples become lists)."""
        steps = [{"name": s.name, "params": _jsonable(s.params), "p": s.p} for s in self.steps]
        return {"kind": self.kind, "steps": steps, "sample_rate": self.sample_rate}

    @classmethod
    def from_dict(cls, d: dict) -> "Pipeline":
        """Inverse of ``to_dict``; validates, so a bad file is refused with a message naming the step."""
        if not isinstance(d, dict) or not isinstance(d.get("steps", []), list):
            raise AugmentError("a pipeline is a JSON object with 'kind' and a list of 'steps'")
        try:
            steps = [Step(s["name"], dict(s.get("params") or {}), s.get("p", 1.0)) for s in d.get("steps", [])]
        except (KeyError, TypeError, AttributeError) as err:
            raise AugmentError(f"each step needs a 'name' (and optional 'params', 'p'): {err}") from None
        return cls(d.get("kind", "image"), steps, d.get("sample_rate")).validated()

    def build(self) -> Callable:
        """The callable a Dataset's ``.transform`` takes (image: a ``v2.Compose``; others: a ``Chain``)."""
        pipe = self.validated()
        ops = registry(self.kind)
        if self.kind == "image" and pipe.steps:  # v2.Compose refuses an empty list; no steps = unchanged input
            return v2.Compose([_image_step(ops[s.name], s) for s in pipe.steps])
        if not pipe.steps:
            return Chain(self.kind, [])
        ctx = {"sample_rate": self.sample_rate or 16000}
        return Chain(self.kind, [(ops[s.name].build(s.params, s.p, **ctx), s.p) for s in pipe.steps])

    def sample(self, x, seed: int | None = None, keep_stages: bool = False,
               generator: torch.Generator | None = None) -> Draw:
        """Apply the pipeline once, drawing each step's parameters first and recording them.

        Every draw comes from ``generator``, else from a new one seeded with ``seed`` (reproducible: for the same
        seed the output equals ``torch.manual_seed(seed); self.build()(x)`` on the CPU), else from a new randomly
        seeded one. torch's global generator is neither used nor changed.
        """
        if generator is None:
            generator = torch.Generator()
            if seed is None:
                generator.seed()
            else:
                generator.manual_seed(seed)
        if self.kind != "image":
            return self.build().sample(x, keep_stages, generator)
        return _sample_image(self.validated(), x, keep_stages, generator)

    def drawing_from(self, generator: torch.Generator) -> Callable:
        """A transform like ``build()`` whose draws come from ``generator`` (one stream for every call)."""
        pipe = self.validated()
        return lambda x: _output(pipe.sample(x, generator=generator), pipe.kind)

    def to_code(self) -> str:
        """Runnable Python: a ``v2.Compose`` using torchvision only, plus our small classes printed in full."""
        return "\n".join([_CODE_HEADER, self.compose_code(), _CODE_FOOTER])

    def compose_code(self, name: str = "pipeline") -> str:
        """The part of ``to_code`` after its imports: our small classes in full, then ``name = v2.Compose([...])``
        (it draws from torch's global generator exactly as ``build()`` does)."""
        if self.kind != "image":
            raise AugmentError("code export is for image pipelines (the others use this package's ops)")
        from core.augment import extra

        pipe, ops = self.validated(), registry("image")
        used = [ops[s.name].extra["cls"] for s in pipe.steps]
        lines = [f"    {_step_code(ops[s.name], s)}," for s in pipe.steps] or ["    v2.Identity(),"]
        classes = [inspect.getsource(c) + "\n" for c in (extra.AddGaussianNoise, extra.RandomColorSpace) if c in used]
        return "\n".join([*classes, f"{name} = v2.Compose([", *lines, "])"])


CODE_IMPORTS = ("import PIL.Image", "import torch", "from torchvision import tv_tensors",
                "from torchvision.transforms import v2", "from torchvision.transforms.v2 import functional as F")
_CODE_HEADER = '''"""Augmentation pipeline exported from the deep-learning lab: needs only torch and torchvision.

Use it as a dataset transform on float (C, H, W) tensors in [0, 1] (or uint8 tensors / PIL images).
"""
import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

'''
_CODE_FOOTER = '''
if __name__ == "__main__":
    torch.manual_seed(0)
    print(pipeline(torch.rand(3, 224, 224)).shape)
'''


class Chain:
    """Non-image pipelines: ops with ``make_params(x, generator)`` / ``apply(x, params)``, each run with
    probability p."""

    def __init__(self, kind: str, ops: list[tuple[Any, float]]):
        self.kind, self.ops = kind, ops

    def __call__(self, x):
        return _output(self.sample(x), self.kind)

    def sample(self, x, keep_stages: bool = False, generator: torch.Generator | None = None) -> Draw:
        """Apply every op (drawing its parameters first, from ``generator``; None: torch's global generator, as in
        a training worker's DataLoader) and record what was drawn."""
        state, records, stages = _text_tokens(x) if self.kind == "text" else x, [], []
        for op, p in self.ops:
            if p < 1.0 and not runs(p, generator):
                records.append(StepDraw(type(op).__name__, False, {}))
            else:
                params = op.make_params(state, generator)
                state = op.apply(state, params)
                records.append(StepDraw(type(op).__name__, True, params))
            if keep_stages:
                stages.append(state)
        return Draw(state, records, stages)


def _text_tokens(x):
    from core.augment.text import Tokens

    return x if isinstance(x, Tokens) else Tokens.from_text(x)  # words tagged with what changed them


def _image_step(op: OpSpec, step: Step):
    t = op.build(step.params, step.p)
    return t if op.own_p or step.p >= 1.0 else v2.RandomApply([t], p=step.p)


def _output(draw: Draw, kind: str):
    return str(draw.output) if kind == "text" else draw.output  # text: the tagged Tokens print as the string


def _sample_image(pipe: "Pipeline", x, keep_stages: bool, generator: torch.Generator) -> Draw:
    """Mirror ``pipe.build()(x)`` (the same random draws in the same order, see core.augment.draws), drawing from
    ``generator`` and keeping the drawn params."""
    ops, records, stages = registry("image"), [], []
    for step in pipe.steps:
        op = ops[step.name]
        t = op.build(step.params, step.p)
        wrapped = not op.own_p and step.p < 1.0  # built as v2.RandomApply([t], p): one draw decides
        if (wrapped or op.own_p) and not runs(step.p, generator):
            records.append(StepDraw(type(t).__name__, False, {}))
        else:
            params = draw_params(t, x, generator)
            x = t.transform(x, params)
            records.append(StepDraw(type(t).__name__, True, params))
        if keep_stages:
            stages.append(x)
    return Draw(x, records, stages)


def _step_code(op: OpSpec, step: Step) -> str:
    cls = op.extra["cls"]
    kw = dict(op.extra["kwargs"](step.params), **({"p": step.p} if op.own_p else {}))
    prefix = "v2." if cls.__module__.startswith("torchvision") else ""
    call = f"{prefix}{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in kw.items())})"
    return call if op.own_p or step.p >= 1.0 else f"v2.RandomApply([{call}], p={step.p!r})"


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return copy.copy(value)


def describe(params: dict) -> dict:
    """Drawn params as short JSON-friendly values: numbers rounded, big tensors summarised."""
    return {k: _describe(v) for k, v in params.items()}


def _describe(v):
    if isinstance(v, torch.Tensor):
        if v.numel() <= 8:
            return _describe(v.tolist())
        return f"tensor {tuple(v.shape)} mean {v.float().mean():.3g} std {v.float().std():.3g}"
    if isinstance(v, float):
        return round(v, 4)
    if isinstance(v, (list, tuple)):
        return [_describe(i) for i in v]
    if isinstance(v, dict):
        return describe(v)
    if v is None or isinstance(v, (bool, int, str)):
        return v
    return str(v)
