"""Low/high-resolution pairs for super-resolution, from any image source the lab reads.

- ``load_images(source)``: whole RGB images (uint8 tensors) split into a training part and a FIXED held-out part of
  whole images (never cropped from during training). ``builtin:photos`` is scikit-image's bundled photographs (no
  download); anything else is what ``core.data.locate`` finds (``builtin:shapes``, a folder, a .zip): every image
  file under it, read at its own size.
- ``downscale(hr, scale)``: the degradation, stated once: bicubic (a = -0.5), antialiased, as PIL's
  ``Image.resize(..., BICUBIC)`` does it (``torch.nn.functional.interpolate(antialias=True)`` matches PIL; tested).
- ``random_pairs``: random high-resolution crops (side ``patch * scale``) and their downscaled versions.
- ``to_y``: the luminance channel of ITU-R BT.601 (as the SR papers compute PSNR); ``channels`` 'y' trains on it only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

PHOTOS_SOURCE = "builtin:photos"
# scikit-image's bundled photos (offline). Held out: three whole photos training never sees.
TRAIN_PHOTOS = ("astronaut", "rocket", "hubble_deep_field", "immunohistochemistry", "brick", "grass", "gravel",
                "clock", "cell", "moon", "page", "text", "colorwheel")
HELD_OUT_PHOTOS = ("chelsea", "coffee", "camera")
SCALES = (2, 3, 4)
CHANNELS = ("y", "rgb")  # y: the luminance only (the papers' setting, colour from bicubic); rgb: all three
MAX_IMAGES = 400  # images read from a folder at most (a huge folder is sampled evenly, not read whole)
HELD_OUT_EVERY = 5  # folders: every 5th image (in name order) is held out, at least one
MAX_SIDE = 2048  # longer images are shrunk to this side on reading (memory stays bounded)


@dataclass
class SRImages:
    """Whole images (uint8 (3, H, W) tensors) of one source: ``train`` to crop from, ``held_out`` to evaluate."""

    source: str
    train: list = field(default_factory=list)
    held_out: list = field(default_factory=list)
    train_names: list = field(default_factory=list)
    held_names: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # (name, reason) of files that could not be read


def to_tensor(img) -> torch.Tensor:
    """A PIL image -> uint8 (3, H, W) RGB tensor."""
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def _photos(names) -> list:
    import skimage.data
    from PIL import Image

    out = []
    for name in names:
        arr = np.asarray(getattr(skimage.data, name)())
        out.append(to_tensor(Image.fromarray(arr[..., :3] if arr.ndim == 3 else arr)))
    return out


def _read(path: Path):
    from PIL import Image

    with Image.open(path) as img:
        img.draft("RGB", (MAX_SIDE, MAX_SIDE))
        img = img.convert("RGB")
        if max(img.size) > MAX_SIDE:
            img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BICUBIC)
        return to_tensor(img)


def load_images(source: str) -> SRImages:
    """The whole images of ``source``, training and held-out (``DataError`` when it has none usable).

    >>> imgs = load_images("builtin:photos"); imgs.held_names
    ['chelsea', 'coffee', 'camera']
    """
    from core.data.bundle import DataError
    from core.data.images import IMAGE_SUFFIXES
    from core.data.load import locate

    source = str(source).strip()
    if source == PHOTOS_SOURCE:
        return SRImages(source, _photos(TRAIN_PHOTOS), _photos(HELD_OUT_PHOTOS), list(TRAIN_PHOTOS),
                        list(HELD_OUT_PHOTOS))
    path, kind = locate(source, "image")
    files = sorted(p for p in (path.rglob("*") if path.is_dir() else [path])
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith("."))
    if len(files) > MAX_IMAGES:  # evenly spread, deterministic
        files = [files[i * len(files) // MAX_IMAGES] for i in range(MAX_IMAGES)]
    out = SRImages(source)
    for i, f in enumerate(files):
        try:
            img = _read(f)
        except Exception as err:  # noqa: BLE001 - an unreadable file is reported, never fatal
            out.skipped.append((f.name, f"not readable as an image ({type(err).__name__})"))
            continue
        held = (i % HELD_OUT_EVERY) == HELD_OUT_EVERY - 1
        (out.held_out if held else out.train).append(img)
        (out.held_names if held else out.train_names).append(f.stem)
    if out.train and not out.held_out:  # fewer than 5 images: hold out the last one
        out.held_out.append(out.train.pop())
        out.held_names.append(out.train_names.pop())
    if not out.train:
        raise DataError(f"{source} has too few readable images for super-resolution (at least 2 are needed: one "
                        "to train on, one held out)")
    return out


def downscale(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic, antialiased downscaling by ``scale`` (float (B, C, H, W) in [0, 1], H and W multiples of ``scale``)
    -> (B, C, H/scale, W/scale), clamped to [0, 1]. Equal to PIL's ``resize(BICUBIC)`` of the same image."""
    h, w = hr.shape[-2] // scale, hr.shape[-1] // scale
    return F.interpolate(hr, size=(h, w), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def upscale(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """The bicubic baseline: (B, C, h, w) -> (B, C, h*scale, w*scale), clamped to [0, 1]."""
    return F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)


def to_y(rgb: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luminance of RGB in [0, 1]: (B, 3, H, W) -> (B, 1, H, W), in [16/255, 235/255] as MATLAB's
    ``rgb2ycbcr`` (the convention the SR papers' PSNR uses)."""
    r, g, b = rgb[:, 0:1], rgb[:, 1:2], rgb[:, 2:3]
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 YCbCr of RGB in [0, 1] (same convention as ``to_y``): (B, 3, H, W) -> (B, 3, H, W)."""
    r, g, b = rgb[:, 0:1], rgb[:, 1:2], rgb[:, 2:3]
    cb = (128.0 - 37.797 * r - 74.203 * g + 112.0 * b) / 255.0
    cr = (128.0 + 112.0 * r - 93.786 * g - 18.214 * b) / 255.0
    return torch.cat([to_y(rgb), cb, cr], 1)


def from_ycbcr(ycc: torch.Tensor) -> torch.Tensor:
    """The inverse of ``to_ycbcr``, clamped to [0, 1]."""
    y, cb, cr = ycc[:, 0:1] * 255 - 16, ycc[:, 1:2] * 255 - 128, ycc[:, 2:3] * 255 - 128
    r = 0.00456621 * y + 0.00625893 * cr
    g = 0.00456621 * y - 0.00153632 * cb - 0.00318811 * cr
    b = 0.00456621 * y + 0.00791071 * cb
    return torch.cat([r, g, b], 1).clamp(0, 1)


def modcrop(img: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop the bottom/right so both sides are multiples of ``scale`` (..., H, W)."""
    h, w = img.shape[-2] - img.shape[-2] % scale, img.shape[-1] - img.shape[-1] % scale
    return img[..., :h, :w]


def as_float(img: torch.Tensor) -> torch.Tensor:
    """uint8 (3, H, W) -> float (1, 3, H, W) in [0, 1]."""
    return img.float().div(255).unsqueeze(0)


def random_pairs(images: list, n: int, patch: int, scale: int, generator: torch.Generator,
                 channels: str = "y") -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random (low, high) resolution pairs: high-resolution crops of side ``patch * scale`` from random
    ``images`` (random flips too), and their bicubic downscaling of side ``patch``.

    Returns (lr, hr): (n, C, patch, patch) and (n, C, patch*scale, patch*scale), C = 1 for 'y', 3 for 'rgb'.
    """
    side = patch * scale
    usable = [img for img in images if min(img.shape[-2:]) >= side]
    if not usable:
        raise ValueError(f"no training image is at least {side} px on its shorter side (patch {patch} x scale "
                         f"{scale}); choose a smaller patch or scale")
    crops = []
    picks = torch.randint(len(usable), (n,), generator=generator).tolist()
    for k in picks:
        img = usable[k]
        y = int(torch.randint(img.shape[-2] - side + 1, (1,), generator=generator))
        x = int(torch.randint(img.shape[-1] - side + 1, (1,), generator=generator))
        crop = img[:, y:y + side, x:x + side]
        if bool(torch.rand(1, generator=generator) < 0.5):
            crop = crop.flip(-1)
        crops.append(crop)
    hr = torch.stack(crops).float().div(255)  # (n, 3, side, side)
    lr = downscale(hr, scale)  # (n, 3, patch, patch)
    if channels == "y":
        return to_y(lr), to_y(hr)
    return lr, hr


def fixed_crops(images: list, side: int, count: int = 4) -> torch.Tensor:
    """The strip's fixed high-resolution crops: the centre ``side`` x ``side`` of the first ``count`` held-out
    images (smaller images are skipped) -> float (k, 3, side, side)."""
    out = []
    for img in images:
        if min(img.shape[-2:]) >= side:
            y, x = (img.shape[-2] - side) // 2, (img.shape[-1] - side) // 2
            out.append(img[:, y:y + side, x:x + side])
        if len(out) == count:
            break
    return torch.stack(out).float().div(255) if out else torch.zeros(0, 3, side, side)
