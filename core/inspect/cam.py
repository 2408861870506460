"""Where a classifier looks: Grad-CAM (any layer with spatial output) and classic CAM (global-average-pool + linear).

Grad-CAM (Selvaraju et al. 2017) for class c at layer A with channels k::

    alpha_k = mean over positions of d y_c / d A_k          # how much channel k matters for class c
    cam     = ReLU(sum_k alpha_k * A_k)                      # at the layer's own resolution

Classic CAM (Zhou et al. 2016) needs a head that is global average pooling followed by one linear layer; then
``cam = sum_k w_ck * A_k`` with the linear layer's weights. For such heads ReLU(classic CAM) equals Grad-CAM times
the number of positions.

>>> maps = grad_cam(model, x, target=None, layer="features")   # doctest: +SKIP
>>> rgb = overlay(image, maps[0], opacity=0.5)                  # doctest: +SKIP

The functions put hooks on the model for the duration of the call: do not call them on one model from two threads
at once. The model's train/eval mode is left as it was.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.inspect.layers import LayerRow, layer_table
from core.models.modes import eval_mode

MAX_CAM_BATCH = 16  # examples the page maps in one preview (one forward + backward pass of this many)


@dataclass
class Explanation:
    """Grad-CAM maps of a batch, with the logits they were computed from."""

    maps: torch.Tensor  # (B, *spatial) at the layer's resolution, >= 0, not normalised
    logits: torch.Tensor  # (B, num_classes)
    targets: torch.Tensor  # (B,) the class each map explains
    layer: str  # name of the layer the maps are taken at


def _module(model: nn.Module, layer: str | nn.Module) -> tuple[str, nn.Module]:
    if isinstance(layer, nn.Module):
        names = {m: n for n, m in model.named_modules()}
        if layer not in names:
            raise ValueError("the layer is not part of this model")
        return names[layer], layer
    modules = dict(model.named_modules())
    if layer not in modules or not layer:
        raise ValueError(f"no layer {layer!r} in this model")
    return layer, modules[layer]


def cam_layers(model: nn.Module, input_shape: tuple | None, *, rows: list[LayerRow] | None = None) -> list[str]:
    """Layers Grad-CAM can use: called once per forward pass, with a spatial output (B, C, ...), field not global,
    not an adaptive pooling (it only resamples the features before it).

    In the order their calls end, so the last one is the deepest. Pass ``rows`` (a layer table) to skip the pass.
    """
    if rows is None:
        if input_shape is None:
            return []
        rows = layer_table(model, input_shape)
    calls: dict[str, int] = {}
    for r in rows:
        calls[r.name] = calls.get(r.name, 0) + 1
    spatial = [r for r in rows if calls[r.name] == 1 and len(r.output_shape) >= 3 and not r.global_field
               and r.receptive_field is not None and len(r.output_shape) - 2 == len(r.receptive_field)
               and not r.type.startswith("Adaptive")]  # resampled features, not features
    return [r.name for r in sorted(spatial, key=lambda r: _end_order(rows, r))]


def _end_order(rows: list[LayerRow], row: LayerRow) -> tuple[int, int]:
    """Sort key for when a call ends. Rows are in start order and a call ends after every call inside it, so:
    the first row after its subtree, then the outer call (smaller depth) last."""
    j = rows.index(row) + 1
    while j < len(rows) and rows[j].depth > row.depth:
        j += 1
    return j, -row.depth


def default_cam_layer(model: nn.Module, input_shape: tuple | None, *, rows: list[LayerRow] | None = None) -> str:
    """The deepest Grad-CAM layer whose output still has at least 2 positions along every spatial dimension."""
    rows = rows if rows is not None else layer_table(model, input_shape)
    names = cam_layers(model, input_shape, rows=rows)
    if not names:
        raise ValueError("this model has no layer with a spatial output (e.g. an MLP or an LSTM): Grad-CAM needs "
                         "a convolutional layer")
    shapes = {r.name: r.output_shape for r in rows}
    roomy = [n for n in names if all(s >= 2 for s in shapes[n][2:])]
    return (roomy or names)[-1]


@contextmanager
def _captured(module: nn.Module):
    """Keep the output of ``module`` (its last call); downstream layers get a copy, so an in-place ReLU after
    it cannot overwrite the kept activation."""
    store: dict = {"calls": 0}

    def hook(_m, _args, out):
        store["calls"] += 1
        store["a"] = out
        return out.clone()

    handle = module.register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def _targets(target, logits: torch.Tensor) -> torch.Tensor:
    if target is None:
        return logits.argmax(1)
    t = torch.as_tensor(target, device=logits.device).long().flatten()
    return t.expand(logits.shape[0]) if t.numel() == 1 else t


def _forward_with(model: nn.Module, module: nn.Module, x: torch.Tensor, name: str):
    """(logits, activation) of one forward pass with gradients enabled."""
    x = x.detach().clone()
    if x.dtype.is_floating_point:
        x.requires_grad_(True)  # a frozen backbone still gives the activation a gradient
    with _captured(module) as store, torch.enable_grad():
        logits = model(x)
    if store["calls"] != 1:
        raise ValueError(f"layer {name!r} ran {store['calls']} times in one forward pass; pick a layer (or the "
                         "block around it) that runs once")
    return logits, store["a"]


def explain(model: nn.Module, x: torch.Tensor, target=None, layer: str | nn.Module | None = None) -> Explanation:
    """Grad-CAM of a batch in one forward and one backward pass.

    Args:
        x: a batch (B, ...) as the model takes it.
        target: class id(s) to explain: an int, one per sample, or None for each sample's predicted class.
        layer: a module or its name; None picks ``default_cam_layer``.
    """
    if layer is None:
        layer = default_cam_layer(model, None, rows=layer_table(model, (), example=x[:1]))
    name, module = _module(model, layer)
    with eval_mode(model):
        logits, a = _forward_with(model, module, x, name)
        targets = _targets(target, logits)
        score = logits.gather(1, targets[:, None]).sum()  # samples are independent in eval mode: one backward
        (grad,) = torch.autograd.grad(score, a)
    if a.dim() < 3:
        raise ValueError(f"layer {name!r} has no spatial output (shape {tuple(a.shape)}); pick a convolutional one")
    spatial = tuple(range(2, a.dim()))
    weights = grad.mean(dim=spatial, keepdim=True)  # (B, K, 1, 1): alpha_k per sample
    maps = F.relu((weights * a).sum(dim=1))  # (B, K, h, w) -> (B, h, w)
    return Explanation(maps.detach(), logits.detach(), targets.detach(), name)


def grad_cam(model: nn.Module, x: torch.Tensor, target=None, layer: str | nn.Module | None = None) -> torch.Tensor:
    """Grad-CAM maps (B, *spatial) at ``layer``'s own resolution: ReLU of the gradient-weighted channel sum.

    Not resized, not normalised (see ``overlay`` for display). ``target``: int, one per sample, or None (predicted).
    """
    return explain(model, x, target, layer).maps


# ---- classic CAM -----------------------------------------------------------------------------------------------
_NEUTRAL = ("Flatten", "Dropout", "Identity")


def gap_linear_head(model: nn.Module, input_shape: tuple | None = None, *, rows: list[LayerRow] | None = None):
    """``(pool name, linear name)`` when the model ends in global average pooling + one linear layer, else None.

    Between them only flatten / dropout / identity layers may run, and the linear layer must be the last call.
    """
    rows = rows if rows is not None else layer_table(model, input_shape)
    leaves = [r for r in rows if r.leaf]
    pools = [i for i, r in enumerate(leaves) if r.global_field and "AvgPool" in r.type
             and all(s == 1 for s in r.output_shape[2:])]
    if not pools:
        return None
    tail = leaves[pools[-1] + 1:]
    linears = [r for r in tail if r.type == "Linear"]
    if len(linears) != 1 or tail[-1] is not linears[0] or any(r.type not in _NEUTRAL for r in tail[:-1]):
        return None
    return leaves[pools[-1]].name, linears[0].name


def classic_cam(model: nn.Module, x: torch.Tensor, target=None, *, head=None) -> torch.Tensor:
    """Class activation maps ``sum_k w_ck A_k`` (B, *spatial) of a GAP + linear head (raw: may be negative).

    ``head``: ``gap_linear_head(...)``'s answer when already known. Raises ValueError for other heads.
    """
    head = head or gap_linear_head(model, None, rows=layer_table(model, (), example=x[:1]))
    if head is None:
        raise ValueError("classic CAM needs a head made of global average pooling and one linear layer; "
                         "use Grad-CAM for this model")
    modules = dict(model.named_modules())
    pool, fc = modules[head[0]], modules[head[1]]
    store = {}
    handle = pool.register_forward_hook(lambda _m, args, _out: store.__setitem__("a", args[0]))
    try:
        with eval_mode(model), torch.no_grad():
            logits = model(x)
    finally:
        handle.remove()
    w = fc.weight[_targets(target, logits)]  # (B, K)
    a = store["a"]  # (B, K, *spatial)
    return torch.einsum("bk...,bk->b...", a, w).detach()


# ---- display ---------------------------------------------------------------------------------------------------
# "jet" as piecewise-linear RGB stops (dark blue -> blue -> cyan -> yellow -> red -> dark red)
_JET = np.array([[0, 0, .5], [0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0], [.5, 0, 0]])


def colormap(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (any shape) -> RGB floats in [0, 1] with the jet colour scale (shape + (3,))."""
    v = np.clip(np.asarray(values, dtype=np.float64), 0, 1)
    stops = np.linspace(0, 1, len(_JET))
    return np.stack([np.interp(v, stops, _JET[:, c]) for c in range(3)], axis=-1)


def to_rgb(image) -> np.ndarray:
    """A PIL image, a (C, H, W) / (H, W) tensor or array in [0, 1], or (H, W, 3) uint8 -> (H, W, 3) float [0, 1]."""
    if hasattr(image, "convert"):  # PIL
        return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    arr = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if arr.dtype == np.uint8:
        arr = arr / 255.0
    arr = arr.astype(np.float64)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if arr.ndim == 2:
        arr = arr[..., None]
    return np.clip(np.repeat(arr, 3, axis=2) if arr.shape[2] == 1 else arr[..., :3], 0, 1)


def upsample(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A 2-D map (h, w) resized to ``size`` with bilinear interpolation (for display only)."""
    cam = torch.as_tensor(cam, dtype=torch.float32)
    return F.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]


def overlay(image, cam, opacity: float = 0.5) -> np.ndarray:
    """The map drawn over the image: (H, W, 3) uint8.

    The map is resized to the image, scaled to [0, 1] for display (its minimum, or 0 when it is non-negative, to its
    maximum) and coloured with jet; ``opacity`` is the weight of the map (0 = image only, 1 = map only).
    """
    rgb = to_rgb(image)
    c = torch.as_tensor(cam, dtype=torch.float32)
    c = c - min(float(c.min()), 0.0)
    c = c / float(c.max()) if float(c.max()) > 0 else c
    heat = colormap(upsample(c, rgb.shape[:2]).numpy())
    out = (1 - opacity) * rgb + opacity * heat
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)


def spectrogram_image(features: torch.Tensor) -> np.ndarray:
    """Log-mel features (1, n_mels, T) -> (n_mels, T) grey in [0, 1] (row 0 = lowest mel band, as the model sees
    it; flip the finished overlay vertically to show low frequencies at the bottom)."""
    f = torch.as_tensor(features, dtype=torch.float32).reshape(features.shape[-2:])
    return ((f - f.min()) / (f.max() - f.min()).clamp(min=1e-8)).numpy()


def cam_maps(model: nn.Module, x: torch.Tensor, target=None, layer: str | None = None,
             method: str = "Grad-CAM") -> torch.Tensor:
    """The maps (B, *spatial) the Inspect page shows: Grad-CAM at ``layer``, or ``method='classic CAM'`` (GAP +
    linear heads only; ValueError otherwise)."""
    if method == "classic CAM":
        return classic_cam(model, x, target)
    return explain(model, x, target, layer).maps


def seen_by_classifier(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What the classifier looks at: the spatial transformer's output for a model that has one (stn_cnn: its maps
    are in those coordinates), else ``x`` itself."""
    if hasattr(model, "transform"):
        with eval_mode(model), torch.no_grad():
            return model.transform(x)
    return x


def class_probabilities(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """softmax of the model's logits (B, num_classes), in eval mode, without gradients."""
    with eval_mode(model), torch.no_grad():
        return torch.softmax(model(x), 1)


def stn_views(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A spatial-transformer model's (warped inputs, affine matrices (B, 2, 3)) for ``x``, without gradients."""
    with eval_mode(model), torch.no_grad():
        return model.transform(x), model.affine(x)
