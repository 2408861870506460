"""Using a trained upsampler: load it from a run, enhance a whole image (tiled, memory bounded), refuse bad inputs,
and evaluate it against bicubic on whole images.

>>> model, cfg = load_enhancer("runs/20260101-120000-enhance-espcn-builtin-photos")   # doctest: +SKIP
>>> enhance(model, cfg, lr)  # (1, 3, h, w) -> (1, 3, h*s, w*s)                          # doctest: +SKIP
"""
from __future__ import annotations

import io
import math
import os
from pathlib import Path

import torch

from core.enhance.config import EnhanceConfig, EvalReport, ImageScore
from core.enhance.data import as_float, downscale, from_ycbcr, modcrop, to_y, to_ycbcr, upscale
from core.enhance.models import build_model, run_model
from core.enhance.metrics import psnr, sharpness, ssim

MAX_INPUT_SIDE = 1024  # an image to enhance may be at most 1024 px on its longer side ...
MAX_INPUT_PIXELS = 1024 * 1024  # ... and one megapixel (the output is scale^2 times bigger); larger is refused
TILE = 128  # inputs are enhanced in tiles of 128 x 128 low-resolution pixels (memory stays bounded) ...
TILE_MARGIN = 12  # ... each with 12 px of context on every side (more than any model's receptive radius)
LAST = "last.pt"


def load_enhancer(where: str | os.PathLike, map_location="cpu") -> tuple[torch.nn.Module, EnhanceConfig]:
    """(the upsampler in eval mode, its run's config) from an enhance run directory or checkpoint file."""
    path = Path(where)
    path = path / "checkpoints" / LAST if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"{Path(where).name} has no enhance checkpoint yet (checkpoints/{LAST})")
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if "upsampler" not in ckpt:
        raise ValueError(f"{Path(where).name} is not an enhance run (its checkpoint has no upsampler)")
    cfg = EnhanceConfig.from_dict(ckpt["config"])
    model = build_model(cfg.model, cfg.scale, 1 if cfg.channels == "y" else 3)
    model.load_state_dict(ckpt["upsampler"])
    return model.eval(), cfg


def _tiled(model, x: torch.Tensor) -> torch.Tensor:
    """``run_model`` on (1, C, h, w) tile by tile (TILE with TILE_MARGIN of context), stitched: same result as one
    pass away from the tiles' edges, with memory bounded by the tile size."""
    s, (h, w) = model.scale, x.shape[-2:]
    if h <= TILE and w <= TILE:
        return run_model(model, x)
    out = torch.zeros(1, x.shape[1], h * s, w * s)
    for y0 in range(0, h, TILE):
        for x0 in range(0, w, TILE):
            y1, x1 = min(y0 + TILE, h), min(x0 + TILE, w)
            ya, xa = max(0, y0 - TILE_MARGIN), max(0, x0 - TILE_MARGIN)
            yb, xb = min(h, y1 + TILE_MARGIN), min(w, x1 + TILE_MARGIN)
            sr = run_model(model, x[..., ya:yb, xa:xb])
            out[..., y0 * s:y1 * s, x0 * s:x1 * s] = sr[..., (y0 - ya) * s:(y1 - ya) * s, (x0 - xa) * s:(x1 - xa) * s]
    return out


@torch.no_grad()
def enhance(model, config: EnhanceConfig, lr: torch.Tensor) -> torch.Tensor:
    """Upsample an RGB image (1, 3, h, w) in [0, 1] -> (1, 3, h*s, w*s). Y models enhance the luminance and take the
    colour (Cb, Cr) from bicubic, as the papers do."""
    if config.channels == "y":
        ycc = to_ycbcr(upscale(lr, config.scale))
        return from_ycbcr(torch.cat([_tiled(model, to_y(lr)).clamp(0, 1), ycc[:, 1:]], 1))
    return _tiled(model, lr).clamp(0, 1)


def read_upload(data: bytes, name: str = "the file"):
    """A user's image as RGB PIL, or ``ValueError`` with the reason in one sentence: not an image, or larger than
    ``MAX_INPUT_SIDE`` / ``MAX_INPUT_PIXELS`` (checked from the header, before decoding)."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError):
        raise ValueError(f"{name} is not an image PIL can read (PNG, JPEG, BMP, WebP, TIFF ...)") from None
    except Image.DecompressionBombError:
        raise ValueError(f"{name} declares an enormous size; images above {MAX_INPUT_SIDE} px are refused") from None
    w, h = img.size
    if max(w, h) > MAX_INPUT_SIDE or w * h > MAX_INPUT_PIXELS:
        raise ValueError(f"{name} is {w} x {h} px; images to enhance may be at most {MAX_INPUT_SIDE} px on a side "
                         f"and {MAX_INPUT_PIXELS // 1_000_000} megapixel (shrink or crop it first)")
    try:
        return img.convert("RGB")
    except (OSError, ValueError):
        raise ValueError(f"{name} is a damaged image (it could not be decoded)") from None


def enhance_file(run_dir, image: str | os.PathLike, out: str | os.PathLike) -> dict:
    """Enhance the image file ``image`` with the run's model and save the result as ``out`` (PNG unless its suffix
    says otherwise); returns the sizes. Refuses non-images and images above the stated size."""
    from PIL import Image

    from core.enhance.data import to_tensor

    model, cfg = load_enhancer(run_dir)
    img = read_upload(Path(image).read_bytes(), Path(image).name)
    sr = enhance(model, cfg, as_float(to_tensor(img)))
    arr = sr[0].mul(255).round().byte().permute(1, 2, 0).numpy()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(out)
    return {"input": list(img.size), "output": [arr.shape[1], arr.shape[0]], "scale": cfg.scale, "out": str(out)}


def _mean(values) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else float("nan")


@torch.no_grad()
def evaluate_images(model, config: EnhanceConfig, images: list, names: list, features=None,
                    save_dir: str | os.PathLike | None = None, source: str = "", on: str = "y") -> EvalReport:
    """PSNR / SSIM (on Y or RGB as ``on`` says, border cropped by the scale) of the model and of bicubic on whole images (uint8 (3, H, W)):
    each is cropped to a multiple of the scale, downscaled, upscaled back by both. ``features``: a LiteFeatures for
    the perceptual distance. ``save_dir``: write NAME_model.png / NAME_bicubic.png / NAME_original.png there."""
    from core.enhance.losses import perceptual_distance

    s, scores = config.scale, []
    for img, name in zip(images, names):
        hr = as_float(modcrop(img, s))
        lr = downscale(hr, s)
        sr, bic = enhance(model, config, lr), upscale(lr, s)
        score = ImageScore(name, psnr(sr, hr, s, on), psnr(bic, hr, s, on), ssim(sr, hr, s, on), ssim(bic, hr, s, on))
        if features is not None:
            crop = (slice(None), slice(None), slice(s, -s), slice(s, -s))
            score.perceptual = float(perceptual_distance(features, sr[crop], hr[crop]))
            score.perceptual_bicubic = float(perceptual_distance(features, bic[crop], hr[crop]))
        score.sharpness = sharpness(sr) / max(sharpness(hr), 1e-8)
        scores.append(score)
        if save_dir is not None:
            _save(save_dir, name, {"model": sr, "bicubic": bic, "original": hr})
    rows = [vars(sc) for sc in scores]
    means = {k: _mean([r[k] for r in rows]) for k in rows[0] if k != "name"} if rows else {}
    return EvalReport(source or config.data, s, on, rows, means)


def _save(folder, name: str, images: dict) -> None:
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for label, t in images.items():
        arr = t[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
        tmp = folder / f".{name}_{label}.png"
        Image.fromarray(arr).save(tmp, format="PNG")
        os.replace(tmp, folder / f"{name}_{label}.png")


def evaluate_run(run_dir, source: str | None = None, split: str = "held_out", on: str = "y") -> EvalReport:
    """``enhance eval``: the run's model and bicubic on ``source``'s images (default: the run's own data), the
    held-out whole images (``split`` 'held_out') or all of them ('all'); measured on ``on`` ('y' or 'rgb')."""
    from core.enhance.data import load_images
    from core.enhance.losses import LiteFeatures

    model, cfg = load_enhancer(run_dir)
    imgs = load_images(source or cfg.data)
    images, names = imgs.held_out, imgs.held_names
    if split == "all":
        images, names = imgs.train + imgs.held_out, imgs.train_names + imgs.held_names
    report = evaluate_images(model, cfg, images, names, LiteFeatures(), source=imgs.source, on=on)
    report.skipped = [list(s) for s in imgs.skipped]
    return report
