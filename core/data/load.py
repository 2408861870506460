"""``load(source)``: built-in name, folder, file or zip -> DataBundle, with the kind detected when not given."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from core.data.audio import AUDIO_SUFFIXES, load_audio
from core.data.bundle import DataBundle, DataError, Progress
from core.data.images import IMAGE_SUFFIXES, load_images
from core.data.text import TEXT_SUFFIXES, load_text

EXPECTED = ("builtin:digits|shapes|sounds|reviews, a folder of images or audio in class folders (or ESC-50 / "
            "Free-Spoken-Digit file names), a .csv/.tsv/.txt text file, or a .zip of one of these")
SCAN_LIMIT = 20000  # files looked at to guess the kind of a folder
LOADERS = {"image": load_images, "audio": load_audio, "text": load_text}  # kind -> loader(path, source=..., **opts)


def detect_kind(path: Path) -> str:
    """'image', 'audio' or 'text' from file suffixes (the most common kind among the files under a folder)."""
    if path.is_file():
        if path.suffix.lower() in TEXT_SUFFIXES:
            return "text"
        raise DataError(f"{path} is a single {path.suffix or 'extension-less'} file; expected {EXPECTED}")
    votes = Counter()
    for i, p in enumerate(path.rglob("*")):
        if i >= SCAN_LIMIT:
            break
        suffix = p.suffix.lower()
        kind = ("image" if suffix in IMAGE_SUFFIXES else "audio" if suffix in AUDIO_SUFFIXES
                else "text" if suffix in TEXT_SUFFIXES else None)
        if kind and p.is_file() and not p.name.startswith("."):
            votes[kind] += 1
    if not votes:
        raise DataError(f"no image, audio or text files found in {path}; expected {EXPECTED}")
    return votes.most_common(1)[0][0]


def _resolve(source: str) -> tuple[Path, str | None]:
    """Path on disk for ``source`` (generating built-ins, unpacking zips) and the kind a built-in implies."""
    from core.data import builtin

    if source.startswith("builtin:"):
        name = source.split(":", 1)[1]
        path = builtin.ensure(name)
        return (path / "reviews.csv" if name == "reviews" else path), builtin.KINDS[name]
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{source} does not exist; expected {EXPECTED}")
    if path.is_file() and path.suffix.lower() == ".zip":
        from core.data.archive import extract_upload

        return extract_upload(path), None
    return path, None


def load(source: str | Path, kind: str | None = None, *, progress: Progress | None = None, **opts) -> DataBundle:
    """Load a data set as a DataBundle (splits of torch Datasets + what was skipped and why).

    Args:
        source: "builtin:digits" | "builtin:shapes" | "builtin:sounds" | "builtin:reviews" | a folder | a file | a zip.
        kind: 'image' | 'audio' | 'text'; detected from the files when None.
        progress: optional ``progress(done, total, message)`` for long loads.
        **opts: passed to the loader. Every kind: val_fraction=0.2, seed=0 (the split when the layout has none),
            verify=True (decode everything once; False reads headers only), cache_mb=512 (keep decoded data in
            memory when it fits). Images: image_size (default from the data, 32-64), test_fraction=0.0.
            Audio: sample_rate=16000, clip_seconds (default from the durations), val_fold=5 (ESC-50).
            Text: max_vocab=20000 (specials included), min_freq=1, max_len=256.

    Example: ``bundle = load("builtin:digits"); x, y = bundle.splits["train"][0]``.
    """
    source = str(source).strip()
    path, kind = locate(source, kind)
    return LOADERS[kind](path, source=source, progress=progress, **opts)


def locate(source: str, kind: str | None = None) -> tuple[Path, str]:
    """The path on disk of ``source`` (built-ins generated, zips unpacked) and its kind (given, implied by a
    built-in, or detected from the files); ``DataError`` when there is none."""
    source = str(source).strip()
    if not source:
        raise DataError(f"no data source given; expected {EXPECTED}")
    path, implied = _resolve(source)
    kind = kind or implied or detect_kind(path)
    if kind not in LOADERS:
        raise DataError(f"unknown kind {kind!r}; expected 'image', 'audio' or 'text'")
    return path, kind
