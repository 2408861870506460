"""Uploaded zips, unpacked safely: size limits, no paths outside the target folder, no links, extracted-size cap."""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath

from core.data.bundle import DataError
from core.settings import Limits, load_settings

IGNORED = ("__MACOSX/", ".DS_Store", "Thumbs.db")  # archive clutter from macOS / Windows, not data
CHUNK = 1 << 20


def _check_entry(info: zipfile.ZipInfo) -> None:
    """Refuse absolute paths, drive letters, '..' components and symbolic links."""
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or (parts and ":" in parts[0]) or ".." in parts:
        raise DataError(f"refused: the archive entry {info.filename!r} would be written outside the target folder")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise DataError(f"refused: the archive entry {info.filename!r} is a symbolic link")


def _copy_limited(src, dst: Path, budget: int) -> int:
    """Stream ``src`` into ``dst``; stop with DataError once more than ``budget`` bytes came out. Returns bytes."""
    written = 0
    with open(dst, "wb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > budget:
                raise DataError("refused: the archive unpacks to more than the allowed size (a zip bomb?)")
            out.write(chunk)
    return written


def safe_extract(zip_path: str | Path, dest: str | Path, limits: Limits | None = None) -> Path:
    """Unpack ``zip_path`` into the new folder ``dest`` (all or nothing); returns ``dest``.

    Refuses archives larger than ``limits.max_upload_mb``, with more than ``limits.max_zip_entries`` entries,
    unpacking to more than ``limits.max_extract_mb`` (counted while writing, so lying headers do not help), entries
    with absolute or ``..`` paths, and symlinks.
    Example: ``safe_extract("photos.zip", "/tmp/photos")``.
    """
    zip_path, dest = Path(zip_path), Path(dest)
    limits = limits or load_settings().limits
    max_zip, max_out = limits.max_upload_mb * 2**20, limits.max_extract_mb * 2**20
    if zip_path.stat().st_size > max_zip:
        raise DataError(f"refused: {zip_path.name} is larger than the {limits.max_upload_mb} MB upload limit")
    if not zipfile.is_zipfile(zip_path):
        raise DataError(f"{zip_path.name} is not a zip archive; expected a .zip of a data folder or text file")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unzip-", dir=dest.parent))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            if len(zf.infolist()) > limits.max_zip_entries:
                raise DataError(f"refused: {zip_path.name} holds {len(zf.infolist())} files and folders; this server "
                                f"unpacks at most {limits.max_zip_entries} (max_zip_entries in lab.toml)")
            infos = [i for i in zf.infolist() if not any(x in i.filename for x in IGNORED)]
            for info in infos:
                _check_entry(info)
            if sum(i.file_size for i in infos) > max_out:
                raise DataError(f"refused: the archive would unpack to more than {limits.max_extract_mb} MB")
            budget = max_out
            for info in infos:
                target = tmp / info.filename.replace("\\", "/")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src:
                    budget -= _copy_limited(src, target, budget)
        try:
            tmp.rename(dest)
        except OSError:
            if not dest.is_dir():
                raise
    except zipfile.BadZipFile as err:
        raise DataError(f"{zip_path.name} is a damaged zip archive ({err})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def data_root(folder: Path) -> Path:
    """Descend through folders that hold nothing but one sub-folder or one file (``data.zip`` -> ``data/``)."""
    while True:
        children = [c for c in folder.iterdir() if not c.name.startswith(".")]
        if len(children) != 1:
            return folder
        folder = children[0]
        if folder.is_file():
            return folder


def extract_upload(zip_path: str | Path, cache_dir: Path | None = None) -> Path:
    """Unpack an uploaded zip once into ``cache_dir/uploads/<content hash>`` and return the data folder (or file)."""
    zip_path = Path(zip_path)
    digest = hashlib.sha256()
    with open(zip_path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    dest = Path(cache_dir or load_settings().cache_dir).expanduser() / "uploads" / digest.hexdigest()[:16]
    if not dest.is_dir():
        safe_extract(zip_path, dest)
    os.utime(dest)  # used now: pruning goes by the last use
    return data_root(dest)


def save_upload(data: bytes, name: str, cache_dir: Path | None = None, limits: Limits | None = None) -> Path:
    """Keep uploaded zip bytes under the cache folder, unpack them safely, return the data folder (or file)."""
    limits = limits or load_settings().limits
    if len(data) > limits.max_upload_mb * 2**20:
        raise DataError(f"refused: {name} is larger than the {limits.max_upload_mb} MB upload limit")
    folder = Path(cache_dir or load_settings().cache_dir).expanduser() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}.zip"
    prune_uploads(folder, limits, keep=path.stem)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.part")  # unique: concurrent uploads
        tmp.write_bytes(data)
        tmp.replace(path)
    os.utime(path)
    try:
        return extract_upload(path, cache_dir)
    except DataError as err:  # the message names the stored copy; the user knows the file by its own name
        path.unlink(missing_ok=True)  # a refused archive is not kept
        raise DataError(str(err).replace(path.name, name)) from None


def prune_uploads(folder: Path, limits: Limits | None = None, now: float | None = None,
                  keep: str | None = None) -> list[str]:
    """Delete uploads (a ``<hash>.zip`` with its unpacked ``<hash>/`` folder) not used for
    ``limits.upload_keep_hours``, then the least recently used until the folder holds at most
    ``limits.upload_cache_mb``. ``keep``: a hash never deleted (the upload being saved). Returns the hashes deleted.
    """
    limits = limits or load_settings().limits
    now = time.time() if now is None else now
    uploads: dict[str, list[Path]] = {}
    for entry in folder.iterdir() if folder.is_dir() else ():
        if not entry.name.startswith("."):  # partial writes and temporary unzip folders belong to running uploads
            uploads.setdefault(entry.name.removesuffix(".zip"), []).append(entry)
    used = {h: max(p.stat().st_mtime for p in paths) for h, paths in uploads.items()}
    size = {h: sum(_size(p) for p in paths) for h, paths in uploads.items()}
    total, deleted = sum(size.values()), []
    for h in sorted(uploads, key=used.get):  # least recently used first
        too_old = now - used[h] > limits.upload_keep_hours * 3600
        if h != keep and (too_old or total > limits.upload_cache_mb * 2**20):
            for p in uploads[h]:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            total -= size[h]
            deleted.append(h)
    return deleted


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
