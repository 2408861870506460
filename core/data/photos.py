"""Sample photos for augmentation previews: scikit-image's bundled images (no download)."""
from __future__ import annotations

from functools import lru_cache

from PIL import Image

PHOTO_NAMES = ("cat", "astronaut", "coffee", "rocket", "chelsea", "immunohistochemistry")


@lru_cache(maxsize=1)
def _photos() -> dict[str, Image.Image]:
    import skimage.data

    return {name: Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in PHOTO_NAMES}


def sample_photos() -> dict[str, Image.Image]:
    """Name -> RGB PIL image of scikit-image's bundled photos (cat, astronaut, coffee, ...); fresh copies.

    >>> sample_photos()["cat"].size
    (451, 300)
    """
    return {name: img.copy() for name, img in _photos().items()}
