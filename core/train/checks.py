"""What a training run (or an LR sweep of it) would refuse, asked before anything starts.

``train_problems(config, kind)`` is the one list of reasons: the page's form shows it, ``launch_problems`` refuses
with it, and ``fit`` / ``find_lr_for`` raise it in the worker (``check``), so a setting is never accepted on the form
and then refused by the worker. ``augment_problems`` and ``batch_warning`` are its parts the trainer also uses.

>>> from core.train import TrainConfig
>>> train_problems(TrainConfig(model="wave_cnn", augment={"kind": "spectrogram", "steps": []}), "audio")
['a spectrogram augmentation pipeline cannot be used with wave_cnn: it takes pipelines of kind audio']
"""
from __future__ import annotations


def pipeline_kinds(kind: str, spectrogram: bool) -> tuple[str, ...]:
    """The augmentation pipeline kinds a model takes for data of ``kind``: spectrogram models (they read log-mel
    features) also take spectrogram pipelines."""
    return {"image": ("image",), "text": ("text",),
            "audio": ("spectrogram", "audio") if spectrogram else ("audio",)}[kind]


def augment_problems(config, kind: str, spectrogram: bool) -> list[str]:
    """Why ``config.augment`` cannot be used with its model on ``kind`` data (empty when it can, or when unset)."""
    from core.augment import AugmentError, Pipeline

    if not config.augment:
        return []
    try:
        pipe = Pipeline.from_dict(config.augment)
    except AugmentError as err:
        return [f"the augmentation pipeline is not valid: {err}"]
    allowed = pipeline_kinds(kind, spectrogram)
    if pipe.kind not in allowed:
        return [f"a {pipe.kind} augmentation pipeline cannot be used with {config.model}: it takes pipelines of "
                f"kind {' or '.join(allowed)}"]
    return []


def train_problems(config, kind: str | None = None) -> list[str]:
    """Every reason the worker would refuse ``config`` for data of ``kind`` (None: not known yet): the config's own
    checks, a model that is not registered or not for this kind, an augmentation pipeline the model cannot take."""
    from core.models import spec

    out = list(config.problems(kind))
    try:
        model = spec(config.model)
    except KeyError as err:
        return out + [err.args[0]]
    if kind and model.kind != kind:
        return out + [f"model {config.model!r} is for {model.kind} data but the data is {kind}"]
    return out + augment_problems(config, model.kind, model.input_features == "logmel")


def check(config, kind: str | None = None) -> None:
    """Raise ``ValueError`` listing every problem of ``train_problems``."""
    problems = train_problems(config, kind)
    if problems:
        raise ValueError("; ".join(problems))


def batch_warning(batch_size: int, train_size: int | None) -> str | None:
    """A batch larger than the training set: allowed, but every step then sees the whole set (one step an epoch)."""
    if not train_size or batch_size <= train_size:
        return None
    return (f"batch size {batch_size} is larger than the {train_size} training examples: every step uses the whole "
            "training set, so an epoch is a single step")
