"""The model registry: label -> constructor, with the data kind each model is for.

The pages draw their model menus from here (``names(kind)``), so adding a model is one ``register`` call.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    name: str  # registry label, e.g. "cnn"; what TrainConfig.model holds
    kind: str  # 'image' | 'audio' | 'text': the data kind the model accepts
    build: Callable[..., nn.Module]  # constructor(num_classes, **opts)
    summary: str  # one line for menus and --help
    transfer: bool = False  # True when a pretrained backbone makes freezing / differential LRs meaningful
    # constructor options that keep it from loading pretrained weights (used when the weights come from a
    # checkpoint, see ``rebuild``); empty: the model never loads pretrained weights
    no_pretrained: dict[str, Any] = field(default_factory=dict)
    # 'logmel': the model reads log-mel spectrograms (the trainer caches them; spectrogram augmentation applies);
    # None: it reads the data's samples as they are
    input_features: str | None = None
    # training settings that work without tuning on the built-in data of this kind (TrainConfig field -> value)
    defaults: dict[str, Any] = field(default_factory=dict)
    # per data source refinements of ``defaults`` (source -> TrainConfig fields), e.g. a smaller CNN for 8x8 digits
    data_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    backbone: str | None = None  # pretrained backbone (core.models.pretrained.weights_plan name), None when none


MODELS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry (replacing a spec of the same name) and return it."""
    MODELS[spec.name] = spec
    return spec


def spec(name: str) -> ModelSpec:
    """The registry entry for ``name``; ``KeyError`` with the known names otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None


def names(kind: str | None = None) -> list[str]:
    """Registered model names for a data kind ('image', 'audio', 'text'), or all of them.

    >>> "cnn" in names("image")
    True
    """
    return [n for n, s in MODELS.items() if kind is None or s.kind == kind]


def build(name: str, num_classes: int, generator: torch.Generator | None = None, **opts) -> nn.Module:
    """Build the registered model ``name`` with ``num_classes`` outputs; ``opts`` go to its constructor.

    With ``generator`` the initial weights are drawn from it (``core.models.init.init_weights``; pretrained
    weights kept), so the same seed gives the same model whatever else the process draws meanwhile.

    >>> build("mlp", 10, input_shape=(1, 8, 8))(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    model = spec(name).build(num_classes, **opts)
    if generator is not None:
        from core.models.init import init_weights
        init_weights(model, generator)
    model.model_name = name
    model.build_opts = dict(opts)  # with num_classes, enough to rebuild the model for a checkpoint
    model.num_classes = num_classes
    return model


def rebuild(name: str, num_classes: int, **opts) -> nn.Module:
    """The model ``name`` to load saved weights into: built as ``build`` does, without looking for pretrained
    weights (the registry's ``no_pretrained`` options), since the checkpoint holds the weights."""
    return build(name, num_classes, **{**opts, **spec(name).no_pretrained})


def bundle_opts(bundle, name: str) -> dict[str, Any]:
    """Constructor options implied by a DataBundle: channels / input size, sample rate, vocabulary size."""
    s = spec(name)
    if s.kind != bundle.kind:
        raise ValueError(f"model {name!r} is for {s.kind} data but {bundle.source!r} is {bundle.kind} data; "
                         f"pick one of: {', '.join(names(bundle.kind))}")
    if bundle.kind == "image":
        return {"input_shape": tuple(bundle.input_shape)}
    if bundle.kind == "audio":
        return {"sample_rate": int(bundle.sample_rate), "num_samples": int(bundle.input_shape[-1])}
    return {"vocab_size": len(bundle.vocab), "pad_index": int(getattr(bundle.vocab, "pad_index", 0))}


def build_for(bundle, name: str, generator: torch.Generator | None = None, **opts) -> nn.Module:
    """Build ``name`` for a DataBundle: number of classes and input options come from the bundle.

    ``opts`` override what the bundle implies (e.g. ``hidden=128``); ``generator`` as in ``build``.
    """
    return build(name, len(bundle.classes), generator, **{**bundle_opts(bundle, name), **opts})


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel / DataParallel wrapper (or the model itself)."""
    return getattr(model, "module", model)


def layer_groups(model: nn.Module) -> list[list[nn.Module]]:
    """Module groups from the input side to the head, for differential LRs and freezing.

    Models define ``layer_groups()``; any other module is split into (all children but the last, the last child).
    The last group is always the head; everything before it is the backbone.
    """
    model = unwrap(model)
    if hasattr(model, "layer_groups"):
        return [list(g) for g in model.layer_groups()]
    children = list(model.children())
    if len(children) < 2:
        return [[model]]
    return [children[:-1], children[-1:]]


def group_parameters(model: nn.Module) -> list[list[nn.Parameter]]:
    """Parameters per layer group (input side first, head last); every parameter appears exactly once."""
    seen: set[int] = set()
    groups = []
    for modules in layer_groups(model):
        params = []
        for m in modules:
            for p in m.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        groups.append(params)
    rest = [p for p in unwrap(model).parameters() if id(p) not in seen]
    if rest:  # parameters outside every group train with the earliest group
        groups[0] = rest + groups[0]
    return groups


# The default model per kind of data (``default_model``): what a user gets without choosing.
PHOTO_MODEL, SMALL_IMAGE_MODEL, AUDIO_MODEL, TEXT_MODEL = "efficientnet_lite0", "cnn", "mel_cnn", "textcnn"
PHOTO_SIDE = 64  # images whose typical shorter side is larger than this count as photos (so do colour images)


def typical_side(bundle) -> float:
    """The median over classes of each class's median shorter side, in the original images (from the headers)."""
    per_class = (getattr(bundle, "stats", None) or {}).get("images") or {}
    sides = [min(c["width"]["median"], c["height"]["median"]) for c in per_class.values()
             if c.get("width") and c.get("height")]
    if not sides:
        return float(min(bundle.input_shape[1:]))
    return float(sorted(sides)[len(sides) // 2])


def default_model(bundle) -> str:
    """The model a user gets for a DataBundle without choosing one (the CLI, the pages and the benchmark use it).

    Photos (colour, or larger than about 64 px) get the pretrained transfer model; small grey images ``cnn``;
    audio ``mel_cnn``; text the best text model (``textcnn``).
    """
    if bundle.kind == "audio":
        return AUDIO_MODEL
    if bundle.kind == "text":
        return TEXT_MODEL
    colour = bundle.input_shape[0] == 3
    return PHOTO_MODEL if colour or typical_side(bundle) > PHOTO_SIDE else SMALL_IMAGE_MODEL


# constructor arguments filled in from the data, or not meant to be typed by a user
NOT_USER_OPTIONS = {"num_classes", "input_shape", "sample_rate", "num_samples", "vocab_size", "pad_index", "weights",
                    "rnn"}


def user_options(name: str) -> dict:
    """The user-settable constructor options of a registered model and their defaults (ints, floats, bools), read
    from its constructor's signature (what the Train page's model options offer).

    >>> from core import models
    >>> models.user_options("cnn")["width"]
    32
    """
    build = spec(name).build
    params = inspect.signature(build).parameters
    keywords = getattr(build, "keywords", {}) or {}  # functools.partial fixes some (e.g. rnn="gru")
    return {p: v.default for p, v in params.items() if p not in NOT_USER_OPTIONS and p not in keywords
            and isinstance(v.default, (bool, int, float))}
