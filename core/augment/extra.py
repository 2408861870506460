"""Two image transforms torchvision.transforms.v2 lacks in the form we want, written as v2 transforms.

Both follow v2's contract (``make_params`` draws the randomness, ``transform`` applies it), so a pipeline can show and
replay what was drawn. Each class is self-contained (imports only torch, torchvision and PIL): exported pipeline code
prints their source in full, so the exported file runs without this package.
"""
from __future__ import annotations

import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F


class AddGaussianNoise(v2.Transform):
    """Add noise drawn from N(mean, std^2) to every pixel value (in [0, 1] units; uint8 and PIL images are scaled).

    On float tensors this equals ``v2.GaussianNoise(mean, sigma=std, clip=clip)`` for the same seed; unlike it,
    it draws the noise in ``make_params`` (so it can be shown and replayed) and also takes PIL images.

    >>> AddGaussianNoise(std=0.1)(torch.zeros(3, 4, 4)).shape
    torch.Size([3, 4, 4])
    """

    def __init__(self, mean: float = 0.0, std: float = 0.05, clip: bool = True):
        super().__init__()
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std}")
        self.mean, self.std, self.clip = float(mean), float(std), bool(clip)

    def make_params(self, flat_inputs: list, generator: torch.Generator | None = None) -> dict:
        """The noise, from ``generator`` (default: torch's global one, as torchvision transforms draw)."""
        image = next(i for i in flat_inputs if isinstance(i, (torch.Tensor, PIL.Image.Image)))
        if isinstance(image, torch.Tensor):  # empty_like keeps the memory layout, so draws match torchvision's
            device = generator.device if generator is not None else image.device
            noise = torch.empty_like(image.as_subclass(torch.Tensor), dtype=torch.float32, device=device)
            noise = noise.normal_(generator=generator)
        else:
            noise = torch.randn(F.get_dimensions(image), generator=generator)
        return {"noise": noise * self.std + self.mean}  # one value per pixel and channel

    def transform(self, inpt, params: dict):
        if isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.Mask, tv_tensors.KeyPoints)):
            return inpt  # geometry is untouched by noise
        if isinstance(inpt, PIL.Image.Image):
            out = self.transform(F.to_dtype(F.pil_to_tensor(inpt), torch.float32, scale=True), params)
            return F.to_pil_image(out)
        if not inpt.is_floating_point():
            out = self.transform(F.to_dtype(inpt, torch.float32, scale=True), params)
            return tv_tensors.wrap(F.to_dtype(out.clamp(0, 1), inpt.dtype, scale=True), like=inpt)
        out = inpt + params["noise"].to(inpt.device, inpt.dtype)
        return out.clamp(0, 1) if self.clip else out


class RandomColorSpace(v2.Transform):
    """Re-express an RGB image in another colour space, picked at random from ``spaces``, channels scaled to [0, 1].

    'hsv': hue, saturation, value (as scikit-image's rgb2hsv); 'ycbcr': JPEG's full-range YCbCr (as PIL's
    ``convert('YCbCr')``); 'lab': CIE L*a*b* under D65 (as scikit-image's rgb2lab) with L/100 and (a+128)/255,
    (b+128)/255. A colour-less (1-channel) image is returned unchanged.
    """

    SPACES = ("hsv", "ycbcr", "lab")

    def __init__(self, spaces=SPACES):
        super().__init__()
        spaces = tuple(spaces)
        if not spaces or any(s not in self.SPACES for s in spaces):
            raise ValueError(f"spaces must be a non-empty list drawn from {self.SPACES}, got {spaces}")
        self.spaces = spaces

    def make_params(self, flat_inputs: list, generator: torch.Generator | None = None) -> dict:
        """The colour space, from ``generator`` (default: torch's global one, as torchvision transforms draw)."""
        return {"space": self.spaces[int(torch.randint(len(self.spaces), (), generator=generator))]}

    def transform(self, inpt, params: dict):
        if isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.Mask, tv_tensors.KeyPoints)):
            return inpt
        if isinstance(inpt, PIL.Image.Image):
            out = self.transform(F.pil_to_tensor(inpt.convert("RGB")), params)
            return F.to_pil_image(out)
        if inpt.shape[-3] != 3:
            return inpt
        x = F.to_dtype(inpt.as_subclass(torch.Tensor), torch.float32, scale=True).clamp(0, 1)
        out = getattr(self, "_to_" + params["space"])(x).clamp(0, 1)
        return tv_tensors.wrap(F.to_dtype(out, inpt.dtype, scale=True), like=inpt)

    @staticmethod
    def _to_hsv(x: torch.Tensor) -> torch.Tensor:
        r, g, b = x.unbind(-3)
        v, _ = x.max(-3)
        delta = v - x.min(-3).values
        safe = torch.where(delta > 0, delta, torch.ones_like(delta))
        h = torch.where(b == v, 4 + (r - g) / safe, torch.where(g == v, 2 + (b - r) / safe, (g - b) / safe))
        h = torch.where(delta > 0, torch.remainder(h / 6, 1.0), torch.zeros_like(h))
        s = torch.where(v > 0, delta / torch.where(v > 0, v, torch.ones_like(v)), torch.zeros_like(v))
        return torch.stack([h, s, v], -3)

    @staticmethod
    def _to_ycbcr(x: torch.Tensor) -> torch.Tensor:
        m = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
        out = torch.einsum("ij,...jhw->...ihw", m.to(x), x)  # (..., 3, H, W) -> (..., 3, H, W)
        return out + torch.tensor([0.0, 0.5, 0.5]).to(x).view(3, 1, 1)

    @staticmethod
    def _to_lab(x: torch.Tensor) -> torch.Tensor:
        linear = torch.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
        m = torch.tensor([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
                          [0.019334, 0.119193, 0.950227]])
        xyz = torch.einsum("ij,...jhw->...ihw", m.to(x), linear)
        xyz = xyz / torch.tensor([0.95047, 1.0, 1.08883]).to(x).view(3, 1, 1)  # D65 white point
        f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-12) ** (1 / 3), 7.787 * xyz + 16 / 116)
        fx, fy, fz = f.unbind(-3)
        lab = torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], -3)
        return (lab + torch.tensor([0.0, 128.0, 128.0]).to(x).view(3, 1, 1)) / torch.tensor(
            [100.0, 255.0, 255.0]).to(x).view(3, 1, 1)
