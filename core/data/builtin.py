"""Built-in data sets, generated on first use into the cache folder (atomically, deterministically, offline).

Each generator writes a complete data set into an empty folder. ``ensure(name)`` runs it in a fresh temporary
folder next to the final one and renames it into place, so a half-written set is never seen and two processes
racing to create the same set both end up using one complete copy.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable

from core.data.bundle import DataError
from core.settings import load_settings

VERSIONS = {"digits": 1, "shapes": 1, "sounds": 2, "reviews": 1}  # bump when a generator changes (stale caches)


def _generator(name: str) -> Callable[[Path], None]:
    import importlib

    module, func = _GENERATORS[name]
    return getattr(importlib.import_module(f"core.data.{module}"), func)


# name -> (module under core.data, function writing the set into an empty folder)
_GENERATORS = {"digits": ("gen_images", "write_digits"), "shapes": ("gen_images", "write_shapes"),
               "sounds": ("gen_sounds", "write_sounds"), "reviews": ("gen_reviews", "write_reviews")}


# name -> one-line description, for menus
BUILTINS = {
    "digits": "scikit-learn's 8x8 handwritten digits (images, 10 classes)",
    "shapes": "generated colour shapes (images, imbalanced, one low-resolution class)",
    "sounds": "synthetic environmental sounds (audio, 6 classes, ESC-50 naming)",
    "reviews": "generated product reviews (text, positive/negative, sentiment140 CSV)",
}
KINDS = {"digits": "image", "shapes": "image", "sounds": "audio", "reviews": "text"}  # the one name -> kind map


def builtin_sources(kinds=None) -> list[str]:
    """``builtin:NAME`` sources, in menu order, of the data ``kinds`` given (all when None).

    >>> builtin_sources(("audio",))
    ['builtin:sounds']
    """
    return [f"builtin:{n}" for n in BUILTINS if kinds is None or KINDS[n] in kinds]


def builtin_path(name: str, cache_dir: Path | None = None) -> Path:
    """Where built-in set ``name`` lives (whether or not it exists yet)."""
    cache_dir = Path(cache_dir or load_settings().cache_dir).expanduser()
    return cache_dir / "builtin" / f"{name}-v{VERSIONS.get(name, 1)}"


def is_ready(name: str, cache_dir: Path | None = None) -> bool:
    """True when built-in set ``name`` has already been generated."""
    return builtin_path(name, cache_dir).is_dir()


def ensure(name: str, cache_dir: Path | None = None) -> Path:
    """Path of built-in set ``name``, generating it first if needed. ``ensure("digits")``."""
    if name not in _GENERATORS:
        raise DataError(f"unknown built-in data set {name!r}; choose one of: "
                        + ", ".join(f"builtin:{n}" for n in _GENERATORS))
    final = builtin_path(name, cache_dir)
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=final.parent))
    try:
        _generator(name)(tmp)
        try:
            tmp.rename(final)
        except OSError:
            if not final.is_dir():  # not a lost race: a real failure
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
