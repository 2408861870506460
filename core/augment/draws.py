"""Seeded parameter draws for the image transforms: what torchvision's ``make_params`` draws, from a given generator.

torchvision's v2 transforms draw their parameters from torch's process-wide generator, which every session of the
app (threads of one process) shares, so a seeded preview could not be replayed while another session draws. Each
function here makes the same random calls as the transform's ``make_params``, in the same order and with the same
arguments, but from an explicit ``torch.Generator``: for a generator seeded with ``s`` the result equals
``torch.manual_seed(s); t.make_params([x])`` (tests/core/test_augment_draws.py checks every registered transform).

>>> t = v2.RandomRotation(30)
>>> round(draw_params(t, torch.zeros(3, 8, 8), torch.Generator().manual_seed(0))["angle"], 4)
-0.2246
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from core.augment.extra import AddGaussianNoise, RandomColorSpace


def uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    """One number from U(low, high), as torchvision draws it (``torch.empty(1).uniform_``)."""
    return torch.empty(1).uniform_(low, high, generator=generator).item()


def randint(low: int, high: int, generator: torch.Generator | None) -> int:
    """One whole number in [low, high), as torchvision draws it."""
    return int(torch.randint(low, high, size=(1,), generator=generator))


def runs(p: float, generator: torch.Generator | None) -> bool:
    """The probability check of ``v2.RandomApply`` and of transforms with their own ``p``: one U(0, 1) draw."""
    return not bool(torch.rand(1, generator=generator) >= p)


def _color_jitter(t: v2.ColorJitter, x, g) -> dict:
    fn_idx = torch.randperm(4, generator=g)
    b, c, s, h = (None if r is None else uniform(r[0], r[1], g)
                  for r in (t.brightness, t.contrast, t.saturation, t.hue))
    return dict(fn_idx=fn_idx, brightness_factor=b, contrast_factor=c, saturation_factor=s, hue_factor=h)


def _random_crop(t: v2.RandomCrop, x, g) -> dict:
    height, width = F.get_size(x)
    left, right, top, bottom = t.padding if t.padding is not None else (0, 0, 0, 0)
    height, width = height + top + bottom, width + left + right
    crop_h, crop_w = t.size
    if t.pad_if_needed and height < crop_h:
        diff = crop_h - height
        top, bottom, height = top + diff, bottom + diff, height + 2 * diff
    if t.pad_if_needed and width < crop_w:
        diff = crop_w - width
        left, right, width = left + diff, right + diff, width + 2 * diff
    if height < crop_h or width < crop_w:
        raise ValueError(f"Required crop size {(crop_h, crop_w)} is larger than "
                         f"{'padded ' if t.padding is not None else ''}input image size {(height, width)}.")
    padding = [left, top, right, bottom]  # F.pad's order
    i = int(torch.randint(0, height - crop_h + 1, size=(), generator=g)) if height > crop_h else 0
    j = int(torch.randint(0, width - crop_w + 1, size=(), generator=g)) if width > crop_w else 0
    return dict(needs_crop=height > crop_h or width > crop_w, top=i, left=j, height=crop_h, width=crop_w,
                needs_pad=any(padding), padding=padding)


def _area_and_ratio(scale, ratio, area: int, g) -> tuple[float, float]:
    """A target area (fraction ``scale`` of ``area``) and an aspect ratio log-uniform in ``ratio``."""
    log_ratio = torch.log(torch.tensor(ratio))
    target = area * uniform(scale[0], scale[1], g)
    aspect = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1], generator=g)).item()
    return target, aspect


def _random_resized_crop(t: v2.RandomResizedCrop, x, g) -> dict:
    height, width = F.get_size(x)
    for _ in range(10):
        target, aspect = _area_and_ratio(t.scale, t.ratio, height * width, g)
        w, h = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return dict(top=randint(0, height - h + 1, g), left=randint(0, width - w + 1, g), height=h, width=w)
    ratio = width / height  # ten misses: a central crop, as torchvision falls back
    w, h = width, height
    if ratio < min(t.ratio):
        h = int(round(w / min(t.ratio)))
    elif ratio > max(t.ratio):
        w = int(round(h * max(t.ratio)))
    return dict(top=(height - h) // 2, left=(width - w) // 2, height=h, width=w)


def _random_rotation(t: v2.RandomRotation, x, g) -> dict:
    return dict(angle=uniform(t.degrees[0], t.degrees[1], g))


def _random_affine(t: v2.RandomAffine, x, g) -> dict:
    height, width = F.get_size(x)
    angle = uniform(t.degrees[0], t.degrees[1], g)
    translate = (0, 0)
    if t.translate is not None:
        dx, dy = float(t.translate[0] * width), float(t.translate[1] * height)
        translate = (int(round(uniform(-dx, dx, g))), int(round(uniform(-dy, dy, g))))
    scale = uniform(t.scale[0], t.scale[1], g) if t.scale is not None else 1.0
    shear = [0.0, 0.0]
    if t.shear is not None:
        shear[0] = uniform(t.shear[0], t.shear[1], g)
        if len(t.shear) == 4:
            shear[1] = uniform(t.shear[2], t.shear[3], g)
    return dict(angle=angle, translate=translate, scale=scale, shear=tuple(shear))


def _gaussian_blur(t: v2.GaussianBlur, x, g) -> dict:
    sigma = uniform(t.sigma[0], t.sigma[1], g)
    return dict(sigma=[sigma, sigma])


def _random_perspective(t: v2.RandomPerspective, x, g) -> dict:
    height, width = F.get_size(x)
    bound_h, bound_w = int(t.distortion_scale * (height // 2)) + 1, int(t.distortion_scale * (width // 2)) + 1
    corner = lambda low, high: randint(low, high, g)  # noqa: E731
    top_left = [corner(0, bound_w), corner(0, bound_h)]
    top_right = [corner(width - bound_w, width), corner(0, bound_h)]
    bottom_right = [corner(width - bound_w, width), corner(height - bound_h, height)]
    bottom_left = [corner(0, bound_w), corner(height - bound_h, height)]
    start = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
    return dict(coefficients=perspective_coefficients(start, [top_left, top_right, bottom_right, bottom_left]))


def perspective_coefficients(start: list, end: list) -> list[float]:
    """The homography (a, b, c, d, e, f, g, h) mapping each output pixel (x, y) to the input pixel
    ((ax + by + c) / (gx + hy + 1), (dx + ey + f) / (gx + hy + 1)), for the four corners ``end`` -> ``start``:
    eight linear equations solved by least squares in double precision (as torchvision solves them)."""
    a = torch.zeros(8, 8, dtype=torch.float64)
    for i, ((x, y), (u, v)) in enumerate(zip(end, start)):
        a[2 * i] = torch.tensor([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a[2 * i + 1] = torch.tensor([0, 0, 0, x, y, 1, -v * x, -v * y])
    b = torch.tensor(start, dtype=torch.float64).view(8)
    return torch.linalg.lstsq(a, b, driver="gels").solution.to(torch.float32).tolist()


def _random_erasing(t: v2.RandomErasing, x, g) -> dict:
    channels, height, width = F.get_dimensions(x)
    if t.value is not None and len(t.value) not in (1, channels):
        raise ValueError(f"If value is a sequence, it should have either a single value or {channels} "
                         "(number of inpt channels)")
    for _ in range(10):
        area, aspect = _area_and_ratio(t.scale, t.ratio, height * width, g)
        h, w = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
        if not (h < height and w < width):
            continue
        if t.value is None:
            v = torch.empty([channels, h, w], dtype=torch.float32).normal_(generator=g)
        else:
            v = torch.tensor(t.value)[:, None, None]
        return dict(i=randint(0, height - h + 1, g), j=randint(0, width - w + 1, g), h=h, w=w, v=v)
    return dict(i=0, j=0, h=height, w=width, v=None)


def _no_draw(t: v2.Transform, x, g) -> dict:
    return t.make_params([x])  # deterministic (sizes, channel counts): nothing random to redirect


def _own(t, x, g) -> dict:
    return t.make_params([x], generator=g)  # our transforms take the generator themselves


_DRAWS: dict[type, Callable[[Any, Any, torch.Generator | None], dict]] = {
    v2.ColorJitter: _color_jitter, v2.RandomCrop: _random_crop, v2.RandomResizedCrop: _random_resized_crop,
    v2.RandomRotation: _random_rotation, v2.RandomAffine: _random_affine, v2.GaussianBlur: _gaussian_blur,
    v2.RandomPerspective: _random_perspective, v2.RandomErasing: _random_erasing,
    v2.RandomHorizontalFlip: _no_draw, v2.RandomVerticalFlip: _no_draw, v2.RandomGrayscale: _no_draw,
    v2.Pad: _no_draw, v2.Resize: _no_draw, v2.Normalize: _no_draw,
    AddGaussianNoise: _own, RandomColorSpace: _own,
}


def has_draw(cls: type) -> bool:
    """True when transforms of class ``cls`` can draw their parameters from a given generator."""
    return cls in _DRAWS


def draw_params(t, x, generator: torch.Generator | None) -> dict:
    """``t.make_params([x])`` drawn from ``generator`` instead of torch's process-wide generator."""
    try:
        return _DRAWS[type(t)](t, x, generator)
    except KeyError:
        raise TypeError(f"{type(t).__name__} has no seeded draw in core.augment.draws; add one") from None
