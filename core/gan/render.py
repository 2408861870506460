"""Generated images as pictures: uint8 arrays, a grid (torchvision's ``make_grid``), PNG bytes and animated GIFs
(Pillow). Small images (8x8 digits) are enlarged with nearest-neighbour, so every pixel stays a visible square.

>>> png = grid_png(torch.zeros(4, 1, 8, 8), nrow=2)                   # doctest: +SKIP
"""
from __future__ import annotations

import io
import os

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid

MIN_TILE = 64  # images smaller than this are enlarged (nearest) to at least this many pixels across
GIF_MS = 80  # default time per GIF frame


def scale_for(side: int, min_tile: int = MIN_TILE) -> int:
    """The whole-number enlargement that makes a ``side``-pixel image at least ``min_tile`` across."""
    return max(1, -(-min_tile // max(1, side)))


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] (B, C, H, W) -> uint8 in [0, 255], same shape."""
    return ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def _enlarge(x: torch.Tensor, scale: int) -> torch.Tensor:
    """(B, C, H, W) uint8 -> (B, C, H*scale, W*scale), nearest neighbour."""
    return x.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1) if scale > 1 else x


def _pil(chw: torch.Tensor) -> Image.Image:
    """uint8 (C, H, W) -> a PIL image (L for grey, RGB for colour)."""
    arr = chw.permute(1, 2, 0).numpy()  # (C, H, W) -> (H, W, C)
    return Image.fromarray(np.ascontiguousarray(arr[..., 0] if arr.shape[2] == 1 else arr))  # uint8: L or RGB


def images(x: torch.Tensor, scale: int | None = None) -> list[Image.Image]:
    """One PIL image per generated image of ``x`` (B, C, H, W) in [-1, 1] (enlarged when small)."""
    scale = scale or scale_for(x.shape[-1])
    return [_pil(t) for t in _enlarge(to_uint8(x), scale)]


def grid_image(x: torch.Tensor, nrow: int = 8, scale: int | None = None, padding: int = 2) -> Image.Image:
    """The images of ``x`` (B, C, H, W) in [-1, 1] as one grid picture, ``nrow`` per row."""
    scale = scale or scale_for(x.shape[-1])
    grid = make_grid(_enlarge(to_uint8(x), scale), nrow=nrow, padding=padding, pad_value=255)  # (C', H', W')
    return _pil(grid[:1] if x.shape[1] == 1 else grid)


def png_bytes(image: Image.Image, compress_level: int = 1) -> bytes:
    """A PIL image encoded as PNG (light compression by default: these images are small, and a slider waits)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def grid_png(x: torch.Tensor, nrow: int = 8, scale: int | None = None) -> bytes:
    """The grid of ``x`` as PNG bytes."""
    return png_bytes(grid_image(x, nrow, scale))


def gif_bytes(frames: torch.Tensor, ms_per_frame: int = GIF_MS, scale: int | None = None,
              bounce: bool = False) -> bytes:
    """An animated, looping GIF of ``frames`` (F, C, H, W) in [-1, 1]; ``bounce`` plays it back and forth."""
    pics = images(frames, scale)
    if bounce and len(pics) > 2:
        pics = pics + pics[-2:0:-1]
    buf = io.BytesIO()
    pics[0].save(buf, format="GIF", save_all=True, append_images=pics[1:], duration=ms_per_frame, loop=0,
                 optimize=False, disposal=1)
    return buf.getvalue()


def write_bytes(data: bytes, path: str | os.PathLike) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, then rename)."""
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
