"""Image augmentations: a registry of torchvision.transforms.v2 transforms (plus the two in ``extra``) with specs.

Each entry says how validated parameters become constructor keywords, so the same keywords build the live object
and the exported code. Adding a transform is one ``_entry(...)`` line.
"""
from __future__ import annotations

import re
from typing import Callable

import torch

from torchvision.transforms import v2

from core.augment.extra import AddGaussianNoise, RandomColorSpace
from core.augment.specs import OpSpec, ParamSpec as P

PAD_MODES = ("constant", "edge", "reflect", "symmetric")
# sources whose images stay the same class when mirrored left-right
_FLIP_SAFE = ("builtin:shapes",)
# names that hint at oriented symbols (digits, letters, signs): never flip these
_NO_FLIP = re.compile(r"digit|mnist|letter|char|text|emnist|svhn|sign|ocr|handwrit", re.IGNORECASE)


def _entry(cls: type, help: str, params: tuple = (), kwargs: Callable[[dict], dict] = dict, own_p: bool = False,
           default_p: float = 1.0) -> OpSpec:
    """A registry entry for transform class ``cls``; ``kwargs`` maps validated params to constructor keywords."""
    def build(params: dict, p: float):
        kw = dict(kwargs(params), **({"p": p} if own_p else {}))
        return cls(**kw)

    return OpSpec(cls.__name__, help, tuple(params), build, own_p, default_p, {"cls": cls, "kwargs": kwargs})


def _size(default: int = 224) -> P:
    return P("size", "int", default, 1, 4096, "output side length in pixels (square)")


def _crop_kwargs(p: dict) -> dict:
    return {"size": p["size"], "padding": p["padding"] or None, "pad_if_needed": p["pad_if_needed"],
            "padding_mode": p["padding_mode"]}


def _rrc_kwargs(p: dict) -> dict:
    return {"size": p["size"], "scale": p["scale"], "ratio": p["ratio"], "antialias": True}


def _affine_kwargs(p: dict) -> dict:
    return {"degrees": p["degrees"], "translate": p["translate"], "scale": p["scale"], "shear": p["shear"] or None}


IMAGE_OPS: dict[str, OpSpec] = {op.name: op for op in [
    _entry(v2.ColorJitter, "random brightness, contrast, saturation and hue changes (each in random order)", (
        P("brightness", "float", 0.2, 0, 2, "factor drawn from [1-b, 1+b]"),
        P("contrast", "float", 0.2, 0, 2, "factor drawn from [1-c, 1+c]"),
        P("saturation", "float", 0.2, 0, 2, "factor drawn from [1-s, 1+s]"),
        P("hue", "float", 0.02, 0, 0.5, "hue shift drawn from [-h, h] (fraction of the colour wheel)"),
    ), default_p=0.8),
    _entry(v2.RandomHorizontalFlip, "mirror left-right", own_p=True, default_p=0.5),
    _entry(v2.RandomVerticalFlip, "mirror top-bottom (upside-down photos are rare; wrong for digits and text)",
           own_p=True, default_p=0.5),
    _entry(v2.RandomGrayscale, "drop colour (3 equal channels)", own_p=True, default_p=0.1),
    _entry(v2.RandomCrop, "crop a random square window, after optional padding", (
        _size(),
        P("padding", "int", 0, 0, 512, "pixels added on every side before cropping (0 = none)"),
        P("padding_mode", "choice", "constant", help="how padded pixels are filled", choices=PAD_MODES),
        P("pad_if_needed", "bool", True, help="pad images smaller than the crop instead of failing"),
    ), kwargs=_crop_kwargs),
    _entry(v2.RandomResizedCrop, "crop a random area and aspect ratio, then resize to size", (
        _size(),
        P("scale", "range", (0.5, 1.0), 0.01, 1.0, "fraction of the image area kept"),
        P("ratio", "range", (0.75, 4 / 3), 0.1, 10.0, "aspect ratio (width / height) of the crop"),
    ), kwargs=_rrc_kwargs),
    _entry(v2.RandomRotation, "rotate by an angle drawn from [-degrees, degrees]", (
        P("degrees", "float", 15.0, 0, 180, "largest rotation either way"),
        P("expand", "bool", False, help="grow the canvas so corners are not cut (output gets bigger)"),
    )),
    _entry(v2.Pad, "add a border on every side", (
        P("padding", "int", 16, 0, 512, "pixels added on every side"),
        P("padding_mode", "choice", "constant", help="constant (black), edge, reflect or symmetric",
          choices=PAD_MODES),
    )),
    _entry(v2.RandomAffine, "random rotation, translation, scale and shear in one warp", (
        P("degrees", "float", 10.0, 0, 180, "rotation drawn from [-degrees, degrees]"),
        P("translate", "xy", (0.1, 0.1), 0, 1, "largest shift as a fraction of width, height"),
        P("scale", "range", (0.9, 1.1), 0.05, 5, "zoom factor range"),
        P("shear", "float", 0.0, 0, 89, "shear angle drawn from [-shear, shear] (0 = none)"),
    ), kwargs=_affine_kwargs),
    _entry(v2.GaussianBlur, "blur with a Gaussian kernel of random width", (
        P("kernel_size", "int", 5, 1, 101, "kernel side in pixels (odd)", odd=True),
        P("sigma", "range", (0.1, 2.0), 0.01, 50, "standard deviation drawn from this range",
          strictly_positive=True),
    ), default_p=0.5),
    _entry(v2.RandomPerspective, "random perspective warp (a tilted camera)", (
        P("distortion_scale", "float", 0.3, 0, 1, "how far corners may move (fraction of the size)"),
    ), own_p=True, default_p=0.5),
    _entry(v2.RandomErasing, "blank out a random rectangle (cutout)", (
        P("scale", "range", (0.02, 0.2), 0.001, 1, "fraction of the area erased"),
        P("ratio", "range", (0.3, 3.3), 0.05, 20, "aspect ratio of the rectangle"),
        P("value", "float", 0.0, 0, 1, "fill value (0 = black)"),
    ), own_p=True, default_p=0.5),
    _entry(v2.Resize, "resize to a square of size x size", (_size(),),
           kwargs=lambda p: {"size": (p["size"], p["size"]), "antialias": True}),
    _entry(v2.Normalize, "subtract mean, divide by std per channel (put it last; ImageNet statistics by default). "
           "For exported pipelines: training in the lab leaves it out, as its models take pixels in [0, 1]", (
        P("mean", "floats", (0.485, 0.456, 0.406), -10, 10, "per-channel mean (1 or 3 values)"),
        P("std", "floats", (0.229, 0.224, 0.225), 0, 10, "per-channel std (1 or 3 values)",
          strictly_positive=True),
    ), kwargs=lambda p: {"mean": list(p["mean"]), "std": list(p["std"])}),
    _entry(AddGaussianNoise, "add Gaussian noise to every pixel", (
        P("mean", "float", 0.0, -1, 1, "noise mean"),
        P("std", "float", 0.05, 0, 1, "noise standard deviation (pixel values are in [0, 1])"),
        P("clip", "bool", True, help="clip the result to [0, 1]"),
    ), default_p=0.5),
    _entry(RandomColorSpace, "re-express the image in HSV, YCbCr or LAB (one picked at random)", (
        P("spaces", "choices", RandomColorSpace.SPACES, help="colour spaces to pick from",
          choices=RandomColorSpace.SPACES),
    ), kwargs=lambda p: {"spaces": list(p["spaces"])}, default_p=0.2),
]}


def flip_safe(source: str | None) -> bool:
    """True when mirroring images of ``source`` keeps their class (known-safe sources, or names that suggest photos)."""
    if not source or _NO_FLIP.search(source):
        return False
    return source in _FLIP_SAFE or not source.startswith("builtin:")


def image_warnings(steps: list, image_size: tuple[int, int] | None = None, source: str | None = None) -> list[str]:
    """Settings likely to hurt training: one plain-English line each. ``steps`` are validated ``Step`` objects;
    ``image_size`` (H, W) and the data ``source`` make some checks possible (crop size, flips of digits)."""
    out = []
    names = [s.name for s in steps]
    if source and "RandomHorizontalFlip" in names and not flip_safe(source):
        out.append(f"horizontal flips on {source}: mirrored digits, letters or signs are different (or no) classes")
    for i, s in enumerate(steps):
        out += [f"step {i + 1} {s.name}: {w}" for w in _step_warnings(s, image_size)]
    if "Normalize" in names and names.index("Normalize") != len(names) - 1:
        out.append("Normalize is not the last step: later steps expect pixel values in [0, 1]")
    return out


def _step_warnings(step, image_size) -> list[str]:
    p, out = step.params, []
    if step.name == "RandomResizedCrop" and p["scale"][0] < 0.25:
        out.append(f"crops may keep only {p['scale'][0]:.0%} of the image: the object is often cut out")
    if step.name == "RandomCrop" and image_size and p["size"] < 0.5 * min(image_size):
        out.append(f"a {p['size']}px crop of a {min(image_size)}px image keeps under a quarter of it")
    if step.name in ("RandomRotation", "RandomAffine") and p["degrees"] > 20 and not p.get("expand", False):
        out.append(f"rotations up to {p['degrees']:g} degrees cut off corners (black wedges appear)")
    if step.name == "RandomAffine" and max(p["translate"]) > 0.25:
        out.append("shifts over 25% can push the object out of the frame")
    if step.name == "ColorJitter" and p["hue"] > 0.1:
        out.append(f"hue shifts up to {p['hue']:g} turn colours into others (a red apple becomes green)")
    if step.name == "ColorJitter" and max(p["brightness"], p["contrast"]) > 0.8:
        out.append("brightness/contrast factors near 0 make nearly black or flat images")
    if step.name == "RandomErasing" and p["scale"][1] > 0.33:
        out.append(f"erasing up to {p['scale'][1]:.0%} of the image can hide the whole object")
    if step.name == "RandomVerticalFlip":
        out.append("upside-down images rarely occur in photos; flips change the meaning of digits and letters")
    if step.name == "RandomPerspective" and p["distortion_scale"] > 0.6:
        out.append("strong perspective warps squeeze the image into a thin sliver")
    if step.name == "AddGaussianNoise" and p["std"] > 0.2:
        out.append(f"noise std {p['std']:g} drowns fine detail")
    if step.name == "GaussianBlur" and image_size and p["kernel_size"] > min(image_size):
        out.append(f"a {p['kernel_size']}px blur kernel is wider than the {min(image_size)}px image: it smears it all")
    if step.name == "Resize" and p["size"] < 16:
        out.append(f"{p['size']}px images keep almost nothing")
    return out


def to_tensor(image) -> "torch.Tensor":
    """A PIL image (any mode) -> float32 (C, H, W) in [0, 1] with C = 3 (RGB) or 1 (greyscale), as Datasets yield."""
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    return v2.functional.to_dtype(v2.functional.pil_to_tensor(image), torch.float32, scale=True).contiguous()


def to_image(x: "torch.Tensor", steps: list | None = None):
    """A (C, H, W) tensor -> PIL image for display. When the last of ``steps`` is Normalize it is undone first
    (so a normalised draw still looks like a photo); other values outside [0, 1] are clipped."""
    x = x.detach().float().cpu()
    if steps and steps[-1].name == "Normalize":
        mean, std = (torch.tensor(steps[-1].params[k], dtype=x.dtype).view(-1, 1, 1) for k in ("mean", "std"))
        x = x * std + mean  # (C, H, W) * (1 or C, 1, 1)
    x = x.clamp(0, 1)
    return v2.functional.to_pil_image(x[0] if x.shape[0] == 1 else x[:3])
