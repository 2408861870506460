"""Receptive-field arithmetic: how one layer changes the field, jump and start of the units it outputs.

The standard recurrence (per spatial dimension), for a layer with kernel k, stride s, padding p and dilation d::

    j_out = j_in * s                                  # distance in input pixels between neighbouring units
    r_out = r_in + (k - 1) * d * j_in                 # receptive field size in input pixels
    start_out = start_in + ((k - 1) * d / 2 - p) * j_in   # centre of the first output unit's field

The input starts at r = 1, j = 1, start = 0.5 (pixel i spans [i, i + 1], so its centre is i + 0.5). Unit ``i`` of a
layer is centred at ``start + i * j`` and sees ``[centre - r / 2, centre + r / 2]`` (clipped to the input).

``padding="same"`` pads ``(k - 1) * d // 2`` before the first pixel (the odd one goes after the last, as torch does).
An upsampling by f divides the jump by f; its units read the input at i / f, rounded to whole units, so the field
grows by its taps (bilinear: two units) and by that rounding (see ``_upsample``): a covering box, not an exact one.

A :class:`Field` is ``GLOBAL`` once a layer mixes every position (global pooling, a linear layer on flattened
features, attention, a recurrent layer), and ``None`` when it cannot be known (a layer with no rule here that
changes the spatial size).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

PASS_THROUGH = "pass"  # sentinel: the layer keeps the field of its input


@dataclass(frozen=True)
class Field:
    """Receptive field of the units of one tensor, per spatial dimension (height, width) or (time,)."""

    size: tuple[float, ...]  # r: input pixels one unit sees
    jump: tuple[float, ...]  # j: input pixels between neighbouring units (the product of strides so far)
    start: tuple[float, ...]  # centre of the first unit's field, in input pixel coordinates
    flat: bool = False  # the spatial dimensions were flattened into features (a following Linear mixes them all)

    @classmethod
    def input(cls, dims: int) -> "Field":
        """The field of the input itself: every unit sees one pixel."""
        return cls((1.0,) * dims, (1.0,) * dims, (0.5,) * dims)


GLOBAL = "global"  # the units see every input position


def combine(fields: list) -> Field | str | None:
    """The field of a tensor computed from several (a residual sum, a concatenation): the largest one.

    ``GLOBAL`` wins; unknown (None) parts are ignored unless nothing is known.
    """
    known = [f for f in fields if f is not None]
    if not known:
        return None
    if any(f == GLOBAL for f in known):
        return GLOBAL
    return max(known, key=lambda f: math.prod(f.size))


def _tuple(value, dims: int) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims


def _step(field: Field, k, s, p, d) -> Field:
    """Apply one kernel (k, s, p, d per dimension) to ``field`` with the standard recurrence."""
    dims = len(field.size)
    k, s, p, d = (_tuple(v, dims) for v in (k, s, p, d))
    size = tuple(r + (ki - 1) * di * j for r, ki, di, j in zip(field.size, k, d, field.jump))
    # dilation spreads the kernel to (k - 1) * d + 1 pixels: its centre moves (k - 1) * d / 2 from its first tap
    start = tuple(st + ((ki - 1) * di / 2 - pi) * j for st, ki, di, pi, j in zip(field.start, k, d, p, field.jump))
    jump = tuple(j * si for j, si in zip(field.jump, s))
    return Field(size, jump, start)


def _conv_padding(m: nn.Module, dims: int):
    """Numeric padding before the first pixel of a convolution ('valid' -> 0; 'same' -> torch's left padding: half
    the dilated kernel's extra pixels rounded down, the odd one going after the last pixel)."""
    if m.padding == "same":
        return tuple((d * (k - 1)) // 2 for k, d in zip(_tuple(m.kernel_size, dims), _tuple(m.dilation, dims)))
    if m.padding == "valid":
        return (0,) * dims
    return m.padding


def _padding_used(padding, k, s, d, spatial_in, spatial_out, dims: int) -> tuple:
    """The padding a layer really applied per dimension: the declared one when it explains the output size, else
    the one that does (a module that pads inside its forward, e.g. TensorFlow-style "SAME" convolutions), with the
    odd pixel at the end, as TensorFlow puts it."""
    k, s, d, padding = (_tuple(v, dims) for v in (k, s, d, padding))
    if spatial_in is None or spatial_out is None:
        return padding
    used = []
    for p, ki, si, di, i, o in zip(padding, k, s, d, spatial_in, spatial_out):
        span = di * (ki - 1) + 1
        if o in ((i + 2 * p - span) // si + 1, -(-(i + 2 * p - span) // si) + 1):  # floor or ceil mode
            used.append(p)
        else:
            used.append(max((o - 1) * si + span - i, 0) // 2)
    return tuple(used)


def _adaptive(field: Field, in_size: tuple, out_size: tuple) -> Field | str:
    """Adaptive pooling: global when the output is one unit; else its widest window and mean stride."""
    if all(o == 1 for o in out_size):
        return GLOBAL
    k = tuple(max(math.ceil((i + 1) * n / o) - (i * n) // o for i in range(o)) for n, o in zip(in_size, out_size))
    s = tuple(n / o for n, o in zip(in_size, out_size))
    return _step(field, k, s, 0, 1)


_TAPS = {"nearest": 1, "nearest-exact": 1, "linear": 2, "bilinear": 2, "trilinear": 2, "bicubic": 4}


def _upsample(field: Field, m: nn.Upsample, in_size: tuple, out_size: tuple) -> Field:
    """Upsampling by f = out / in: output unit i reads the input near x(i) = (i + 0.5) / f - 0.5 (i * (in - 1) /
    (out - 1) with ``align_corners``), taking ``_TAPS`` neighbours (nearest: 1, linear: 2, cubic: 4). The field is
    the taps' fields, widened by the rounding of x(i) to whole input units (the taps are whole units, x(i) is not)."""
    taps = _TAPS.get(m.mode, 2)
    size, jump, start = [], [], []
    for r, j, st, i, o in zip(field.size, field.jump, field.start, in_size, out_size):
        if m.align_corners and o > 1:  # x(i) lands anywhere between two units: the taps are up to half a unit off
            step, first, rounding = (i - 1) / (o - 1), 0.0, 1.0
        else:  # x(i) moves in steps of i / o < 1 unit, so the taps lag it by up to 1 - step
            step, first = i / o, 0.5 * i / o - 0.5
            rounding = max(1 - step, 0.0)
        size.append(r + (taps - 1) * j + rounding * j)
        jump.append(j * step)
        start.append(st + first * j)
    return Field(tuple(size), tuple(jump), tuple(start))


_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_POOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
_ADAPTIVE = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
             nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
_MIXING = (nn.MultiheadAttention, nn.RNNBase, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer,
           nn.EmbeddingBag)  # (an EmbeddingBag pools its whole bag of tokens into one vector)


def layer_field(m: nn.Module, field, in_shape: tuple | None, out_shape: tuple | None):
    """The field after leaf module ``m`` given the field of its input (shapes include the batch dimension).

    Returns a Field, ``GLOBAL`` or None (unknown).
    """
    if field == GLOBAL or isinstance(m, _MIXING):
        return GLOBAL
    if field is None:
        return None
    dims = len(field.size)
    if isinstance(m, nn.Linear):  # on flattened features it mixes everything; on (B, T, D) it acts per position
        return GLOBAL if field.flat or (in_shape is not None and len(in_shape) == 2) else field
    if isinstance(m, nn.Flatten):
        return Field(field.size, field.jump, field.start, flat=True)
    spatial_in = in_shape[2:] if in_shape and len(in_shape) == dims + 2 else None
    spatial_out = out_shape[2:] if out_shape and len(out_shape) == dims + 2 else None
    if isinstance(m, _CONV) and m.weight.dim() - 2 == dims:
        pad = _padding_used(_conv_padding(m, dims), m.kernel_size, m.stride, m.dilation, spatial_in, spatial_out, dims)
        return _step(field, m.kernel_size, m.stride, pad, m.dilation)
    if isinstance(m, nn.Embedding):
        return field  # one token in, one vector out: a unit still sees one position
    if isinstance(m, _POOL) and spatial_in is not None:
        stride, dilation = m.stride or m.kernel_size, getattr(m, "dilation", 1)
        pad = _padding_used(m.padding, m.kernel_size, stride, dilation, spatial_in, spatial_out, dims)
        return _step(field, m.kernel_size, stride, pad, dilation)
    if isinstance(m, _ADAPTIVE) and spatial_in is not None and spatial_out is not None:
        return _adaptive(field, spatial_in, spatial_out)
    if isinstance(m, nn.Upsample) and spatial_in is not None and spatial_out is not None:
        return _upsample(field, m, spatial_in, spatial_out)
    if in_shape is not None and out_shape is not None and in_shape[2:] != out_shape[2:]:
        return None  # no rule for this layer and it changes the spatial size: unknown from here on
    return field  # element-wise / per-position layers (norms, activations, dropout) keep the field


def unit_box(field: Field, unit: tuple[int, ...]) -> tuple[tuple[float, float], ...]:
    """Per dimension, the input interval ``[centre - r/2, centre + r/2]`` that unit ``unit`` sees (unclipped)."""
    return tuple((st + i * j - r / 2, st + i * j + r / 2)
                 for st, i, j, r in zip(field.start, unit, field.jump, field.size))


def clipped_box(field: Field, unit: tuple[int, ...], input_size: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Per dimension, the input pixels ``[first, last]`` (inclusive) that unit ``unit`` can see."""
    out = []
    for (lo, hi), n in zip(unit_box(field, unit), input_size):
        out.append((max(0, math.ceil(lo - 1e-3)), min(n - 1, math.floor(hi + 1e-3) - 1)))  # rows keep 4 decimals
    return tuple(out)
