"""Widget groups of the Train page (and the LR Finder page): each returns a piece of TrainConfig.

Every ``*_ui`` returns a small dataclass whose fields are TrainConfig field names, so a page assembles a config with
``TrainConfig(**{**asdict(a), **asdict(b), ...})`` -- see ``train_config_ui``. Defaults come from the model's
registry entry (``core.train.recommended``); widget keys include the model name so changing the model re-fills them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import streamlit as st

from core import models
from core.settings import load_settings
from core.train import OPTIMIZERS, SCHEDULERS, TrainConfig, recommended
from ui.handover import found_model, handover_caption, lr_handover, offer_ui
from ui.augment_choice_ui import augment_ui, fitted_augment_ui
from ui.distill_ui import distill_ui
from ui.page_state import index_of, recall
from ui.resize_ui import resize_ui


@dataclass
class ModelChoice:
    model: str  # registry name (TrainConfig.model)
    model_opts: dict = field(default_factory=dict)  # constructor options the user changed (TrainConfig.model_opts)


@dataclass
class OptimizerChoice:
    optimizer: str  # adam | adamw | sgd
    lr: float  # peak learning rate (the head's, with differential LRs)
    weight_decay: float  # L2 penalty
    momentum: float  # sgd only


@dataclass
class SchedulerChoice:
    scheduler: str  # none | step | cosine | one-cycle
    step_size: int  # step: epochs between drops
    gamma: float  # step: factor per drop


@dataclass
class TransferChoice:
    freeze_epochs: int = 0  # epochs with the backbone frozen
    train_bn: bool = True  # batch-norm stays trainable while frozen
    lr_decay: float = 1.0  # differential LR ratio between layer groups


@dataclass
class LengthChoice:
    epochs: int  # passes over the training data
    batch_size: int  # samples per step
    max_steps: int  # 0 = no step limit


@dataclass
class RegularisationChoice:
    mixup_alpha: float  # 0 = off
    label_smoothing: float  # 0 = plain cross-entropy
    grad_clip: float  # 0 = off


@dataclass
class AdversarialChoice:
    adversarial: dict | None = None  # TrainConfig.adversarial: None = off (see core.train.adversarial)


def data_ui(key: str) -> str | None:
    """The data source picker shared with the Datasets page (built-in, a path in the data root, an uploaded zip)."""
    from ui.data_ui import data_source_ui

    return data_source_ui(key)


@dataclass
class AdvancedChoice:
    stats_every: int  # activation statistics every N steps (0 = off)
    stats_all_layers: bool  # every leaf layer instead of the top-level blocks
    early_stop: int  # epochs without val-loss improvement before stopping (0 = off)
    seed: int  # same seed, same run
    deterministic: bool  # bit-reproducible kernels (sometimes slower)


def _defaults(model: str, data: str | None = None) -> TrainConfig:
    """The registry's defaults for this model on this data (core.train.recommended: the CLI's too)."""
    return recommended(model, data or "builtin:digits")


# what a value from a link or the session may be (ui.page_state.recall): the widgets' own bounds
def _at_least(low):
    return lambda v: v >= low


def _within(low, high):
    return lambda v: low <= v <= high


_not_negative, _positive = _at_least(0), (lambda v: v > 0)


def _opt_widget(name: str, default, key: str):
    label = name.replace("_", " ")
    if isinstance(default, bool):
        return st.checkbox(label, value=recall(key, default), key=key)
    if isinstance(default, int):
        return int(st.number_input(label, min_value=1, value=recall(key, default), step=1, key=key))
    if name == "dropout":
        return st.slider(label, 0.0, 0.9, float(recall(key, default)), 0.05, key=key)
    return float(st.number_input(label, value=float(recall(key, default)), format="%g", key=key))


def model_ui(kind: str, key: str, data: str | None = None, default: str | None = None) -> ModelChoice:
    """Model menu for a data kind (from the registry) with its options in an expander, pre-filled with the
    registry's options for ``data``. Preselected: the LR Finder's model when its LR was found on ``data``, else
    ``default`` (core.models.default_model)."""
    names = models.names(kind)
    if not names:
        st.error(f"no model is registered for {kind} data")
        st.stop()
    first = found_model(data)
    first = first if first in names else default if default in names else names[0]
    k = f"{key}-model-{data}"  # per data source: another source re-fills its own default
    name = st.selectbox("Model", names, key=k, help="models registered for this kind of data",
                        index=index_of(names, k, first, "model"),
                        format_func=lambda n: n + (" · the default for this data" if n == default else "")
                        + f"  ({models.spec(n).summary})")
    options = models.user_options(name)
    prefilled = {**options, **{o: v for o, v in _defaults(name, data).model_opts.items() if o in options}}
    changed = {}
    with st.expander("Model options"):
        for opt, value0 in prefilled.items():
            value = _opt_widget(opt, value0, key=f"{key}-{name}-{opt}-{data}")
            if value != options[opt]:  # differs from the constructor's default: passed on (per-source ones too)
                changed[opt] = value
    return ModelChoice(model=name, model_opts=changed)


def optimizer_ui(key: str, model: str = "cnn", show_lr: bool = True, data: str | None = None) -> OptimizerChoice:
    """Optimizer, learning rate (pre-filled from the LR finder's hand-over when it was found for this model on
    ``data``; otherwise offered), weight decay, momentum.

    ``show_lr=False`` leaves the learning rate out (the LR Finder sweeps it; the returned ``lr`` is the default).
    """
    d = _defaults(model, data)
    handover = lr_handover(data, model) if show_lr else None
    applied = handover if handover is not None and handover.applies else None
    found = applied.found if applied else {}
    lr0 = applied.lr if applied else d.lr
    opt0 = found.get("optimizer") if found.get("model") == model and found.get("optimizer") in OPTIMIZERS \
        else d.optimizer
    c1, c2, c3 = st.columns(3)
    k = f"{key}-opt-{model}-{data}"  # another model or data source re-fills the defaults
    optimizer = c1.selectbox("Optimizer", OPTIMIZERS, index=index_of(OPTIMIZERS, k, opt0, "optimizer"), key=k)
    lr = lr0
    if show_lr:
        k = f"{key}-lr-{model}-{data}-{applied.ident if applied else ''}"
        lr = c2.number_input("Learning rate", min_value=0.0, value=recall(k, lr0, "lr", allowed=_positive), step=1e-4,
                             format="%.2e", key=k, help="from the LR Finder page when you used 'Use for training' "
                                                        "there")
    k = f"{key}-wd-{model}-{data}"
    wd = c3.number_input("Weight decay", min_value=0.0, value=recall(k, d.weight_decay, "weight_decay",
                                                                      allowed=_not_negative),
                         step=1e-4, format="%.1e", key=k)
    momentum = d.momentum
    if optimizer == "sgd":
        k = f"{key}-mom-{model}-{data}"
        momentum = st.slider("Momentum", 0.0, 0.99, recall(k, d.momentum, "momentum", allowed=_within(0, 0.99)),
                             0.01, key=k)
    if applied:
        st.caption(handover_caption(applied, model, optimizer))
    elif handover is not None:
        offer_ui(handover, data, model, key)
    return OptimizerChoice(optimizer=optimizer, lr=float(lr), weight_decay=float(wd), momentum=float(momentum))


def scheduler_ui(key: str, model: str = "cnn", data: str | None = None) -> SchedulerChoice:
    """Learning-rate schedule (none, step, cosine, one-cycle) and the step schedule's settings."""
    d = _defaults(model, data)
    model = f"{model}-{data}"  # widget keys
    k = f"{key}-sched-{model}"
    scheduler = st.selectbox("LR schedule", SCHEDULERS, index=index_of(SCHEDULERS, k, d.scheduler, "scheduler"), key=k,
                             help="one-cycle: warm up to the LR, then anneal; step: multiply by gamma every N epochs")
    step_size, gamma = d.step_size, d.gamma
    if scheduler == "step":
        c1, c2 = st.columns(2)
        k = f"{key}-ss-{model}"
        step_size = int(c1.number_input("Epochs per drop", 1, value=recall(k, d.step_size, "step_size",
                                                                           allowed=_at_least(1)), key=k))
        k = f"{key}-gamma-{model}"
        gamma = float(c2.number_input("Gamma", 0.0, 1.0, value=recall(k, d.gamma, "gamma", allowed=_within(0, 1)),
                                      key=k))
    return SchedulerChoice(scheduler=scheduler, step_size=step_size, gamma=gamma)


def length_ui(key: str, model: str = "cnn", data: str | None = None) -> LengthChoice:
    """Epochs, batch size (the LR Finder's, when its LR applies here) and an optional step limit; values over the
    server's limits are refused at launch."""
    d, limits = _defaults(model, data), load_settings().limits
    handover = lr_handover(data, model)
    found = handover.found if handover is not None and handover.applies else {}
    batch0 = int(found["batch_size"]) if found.get("model") == model and found.get("batch_size") else d.batch_size
    model = f"{model}-{data}"  # widget keys
    c1, c2, c3 = st.columns(3)
    k = f"{key}-epochs-{model}"
    epochs = c1.number_input("Epochs", min_value=1, value=recall(k, d.epochs, "epochs", allowed=_at_least(1)), key=k,
                             help=f"this server allows at most {limits.max_epochs}")
    k = f"{key}-bs-{model}"
    batch = c2.number_input("Batch size", min_value=1, value=recall(k, batch0, "batch_size", allowed=_at_least(1)),
                            key=k, help=f"this server allows at most {limits.max_batch_size}")
    k = f"{key}-maxsteps"
    max_steps = c3.number_input("Step limit (0 = none)", min_value=0, value=recall(k, 0, "max_steps",
                                                                                  allowed=_not_negative),
                                key=k, help="stop after this many steps: a quick try-out")
    return LengthChoice(epochs=int(epochs), batch_size=int(batch), max_steps=int(max_steps))


def transfer_ui(key: str, model: str, epochs: int, data: str | None = None) -> TransferChoice:
    """Freeze / unfreeze and differential LRs; only for transfer models (others get the neutral choice). Says what
    the backbone will start from before anything is launched; with nothing pretrained the freeze defaults to 0."""
    spec = models.spec(model)
    if not spec.transfer:
        return TransferChoice()
    d = recommended(model, data or "builtin:digits", epochs=epochs)  # frozen throughout follows the epochs
    plan = models.weights_plan(spec.backbone) if spec.backbone else None
    st.markdown("**Transfer learning**")
    if plan is not None:
        (st.caption if plan.pretrained else st.warning)(f"Backbone weights: {plan.description}.")
    c1, c2, c3 = st.columns(3)
    k = f"{key}-freeze-{model}-{data}-{epochs}"
    freeze = c1.number_input("Frozen epochs", min_value=0, key=k,
                             help="train only the new head first, then unfreeze; all epochs = the head alone",
                             value=recall(k, min(d.freeze_epochs, epochs), "freeze_epochs", allowed=_not_negative))
    k = f"{key}-bn-{model}-{data}"
    train_bn = c2.checkbox("Keep batch-norm trainable", value=recall(k, d.train_bn, "train_bn"), key=k)
    k = f"{key}-decay-{model}-{data}"
    decay = c3.number_input("Differential LR ratio", min_value=1.0, step=0.5, key=k,
                            value=recall(k, float(d.lr_decay), "lr_decay", allowed=_at_least(1)),
                            help="head = lr, the group before lr/ratio, earlier lr/ratio²")
    return TransferChoice(freeze_epochs=int(freeze), train_bn=bool(train_bn), lr_decay=float(decay))


def regularisation_ui(key: str, kind: str) -> RegularisationChoice:
    """Mixup (not for text), label smoothing and gradient clipping."""
    c1, c2, c3 = st.columns(3)
    mixup = 0.0
    if kind != "text":
        mixup = c1.number_input("Mixup alpha (0 = off)", 0.0, 10.0, recall(f"{key}-mixup", 0.0, "mixup_alpha",
                                                                          allowed=_within(0, 10)),
                                0.1, key=f"{key}-mixup",
                                help="blend pairs of samples and their labels with weight ~ Beta(α, α)")
    else:
        c1.caption("Mixup is not available for text (token ids cannot be blended).")
    smoothing = c2.number_input("Label smoothing", 0.0, 0.99, recall(f"{key}-ls", 0.0, "label_smoothing",
                                                                    allowed=_within(0, 0.99)), 0.05, key=f"{key}-ls")
    clip = c3.number_input("Gradient clipping (0 = off)", 0.0, key=f"{key}-clip",
                           value=recall(f"{key}-clip", 0.0, "grad_clip", allowed=_not_negative))
    return RegularisationChoice(mixup_alpha=float(mixup), label_smoothing=float(smoothing), grad_clip=float(clip))


def adversarial_ui(key: str, kind: str) -> AdversarialChoice:
    """Adversarial training (not for text): fast FGSM from a random start, or PGD, at an epsilon in pixel units."""
    if kind == "text":
        st.caption("Adversarial training is not available for text (token ids are discrete).")
        return AdversarialChoice()
    if not st.checkbox("Adversarial training", key=f"{key}-adv",
                       help="train on attacked batches; robust accuracy (PGD) is recorded each epoch beside val acc"):
        return AdversarialChoice()
    from core.train.adversarial import adversarial_settings

    c1, c2 = st.columns(2)
    method = c1.radio("Attack while training", ("fgsm", "pgd"), horizontal=True, key=f"{key}-adv-method",
                      format_func={"fgsm": "fast FGSM (1 step)", "pgd": "PGD (7 steps)"}.get)
    unit = "waveform units" if kind == "audio" else "pixels run 0..1; 8/255 = 0.031"
    eps = c2.number_input(f"Epsilon ({unit})", 0.0, 1.0, 0.1 if kind == "image" else 0.005, 0.005, format="%.4g",
                          key=f"{key}-adv-eps")
    return AdversarialChoice(adversarial=adversarial_settings(float(eps), method))


def advanced_ui(key: str) -> AdvancedChoice:
    """What the dashboard records inside the network, early stopping, seed and determinism."""
    d = TrainConfig()
    c1, c2, c3 = st.columns(3)
    every = c1.number_input("Activation stats every N steps (0 = off)", 0, key=f"{key}-every",
                            value=recall(f"{key}-every", d.stats_every, "stats_every", allowed=_not_negative))
    all_layers = c1.checkbox("Every layer (not just the top-level blocks)", key=f"{key}-all",
                             value=recall(f"{key}-all", d.stats_all_layers, "stats_all_layers"))
    early = c2.number_input("Early stop after N epochs without improvement (0 = off)", 0, key=f"{key}-early",
                            value=recall(f"{key}-early", d.early_stop, "early_stop", allowed=_not_negative))
    seed = c3.number_input("Seed", 0, value=recall(f"{key}-seed", d.seed, "seed", allowed=_not_negative),
                           key=f"{key}-seed")
    deterministic = c3.checkbox("Deterministic (bit-reproducible, may be slower)", key=f"{key}-det",
                                value=recall(f"{key}-det", d.deterministic, "deterministic"))
    return AdvancedChoice(stats_every=int(every), stats_all_layers=bool(all_layers), early_stop=int(early),
                          seed=int(seed), deterministic=bool(deterministic))


def train_config_ui(data: str, kind: str, key: str = "train", bundle=None) -> TrainConfig:
    """Every training setting for ``data`` (of ``kind``) as one TrainConfig, pre-filled with the registry's
    defaults for the data: its default model (when ``bundle``, the data set or its index, is given) and that
    model's settings for ``data``; an image pipeline is fitted to the bundle's input size."""
    default = models.default_model(bundle) if bundle is not None else None
    choice = model_ui(kind, key, data, default)
    length = length_ui(key, choice.model, data)
    optim = optimizer_ui(key, choice.model, data=data)
    sched = scheduler_ui(key, choice.model, data)
    transfer = transfer_ui(key, choice.model, length.epochs, data)
    with st.expander("Regularisation and augmentation"):
        reg = regularisation_ui(key, kind)
        adversarial = adversarial_ui(key, kind)
        aug = augment_ui(key, kind, data, choice.model)
        resize = resize_ui(key, kind, getattr(bundle, "input_shape", None), length.epochs)
    from core.train.config import input_shape_for

    shape = input_shape_for(bundle, choice.model) if getattr(bundle, "input_shape", None) is not None else None
    aug = fitted_augment_ui(aug, kind, shape)  # fitted to the size this model trains at
    with st.expander("Distillation (learn from another run)"):
        distil = distill_ui(key, data)
    with st.expander("Recording and reproducibility"):
        adv = advanced_ui(key)
    parts = [choice, length, optim, sched, transfer, reg, adversarial, aug, adv, resize, distil]
    config = recommended(choice.model, data, **{k: v for p in parts for k, v in asdict(p).items() if k != "model"})
    feature_cache_caption(config, kind)
    return config


def feature_cache_caption(config: TrainConfig, kind: str) -> None:
    """Says before launch whether the frozen backbone's features will be computed once (fast) and, if not, why."""
    from core.train.data import feature_cache_plan

    blockers = feature_cache_plan(config, kind)
    if blockers == []:
        st.caption("⚡ The backbone stays frozen and sees each image the same way every epoch: its features are "
                   "computed once per image and cached, so the head trains in seconds.")
    elif blockers:
        st.caption("The whole network runs every epoch (no feature caching): " + "; ".join(blockers) + ".")
