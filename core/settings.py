"""Where things live and what a server allows: runs root, cache, data root, limits.

Read from ``lab.toml`` in the working directory (or the file named by ``$DLLAB_CONFIG``), then overridden by
environment variables, so a teacher can cap a shared server without touching code::

    # lab.toml
    runs_dir = "runs"
    data_root = "/srv/datasets"
    served = true            # typed paths must stay inside data_root; `./lab app` listens on every interface
    address = "0.0.0.0"      # optional: where `./lab app` listens (default: 127.0.0.1 unless served)
    user_header = "X-Forwarded-User"   # optional: the proxy in front names the user
    teacher_token = "change-me"        # optional: ?teacher=change-me sees every run
    allow_downloads = false  # never download pretrained weights (default: true, on first use)
    [limits]
    max_epochs = 20
    max_batch_size = 256
    max_concurrent_runs = 4  # jobs at once; more wait in a queue
    max_jobs_per_user = 2    # served: a student's running + queued jobs at once
    upload_keep_hours = 24   # uploads unused this long are deleted
    upload_cache_mb = 2000   # and the oldest go when the uploads folder is bigger
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass
class Limits:
    max_epochs: int = 100  # the Train page refuses more; a teacher lowers it on a shared server
    max_batch_size: int = 1024  # bigger batches are refused with the reason
    max_upload_mb: int = 200  # zip / clip / photo uploads above this are refused (matches .streamlit/config.toml)
    max_extract_mb: int = 2000  # an uploaded archive that would unpack to more is refused (zip bombs)
    max_zip_entries: int = 20000  # an uploaded archive with more files (and folders) is refused: a million tiny
    #                                files fill the disk's inodes and take minutes to scan, whatever their size
    upload_keep_hours: float = 72.0  # uploads (zip + unpacked folder) not used for this long are deleted
    upload_cache_mb: int = 5000  # the uploads folder's total size; beyond it the least recently used are deleted
    bundle_cache_mb: int = 1024  # decoded data sets the server keeps in memory for every session (least recently
    #                               used dropped first); one larger than this is loaded but not kept
    max_lr_iters: int = 1000  # LR range test length cap
    max_concurrent_runs: int = 4  # jobs (training, sweeps, GANs...) running at once; further jobs wait in a queue
    max_queued_jobs: int = 32  # jobs waiting in the queue at once; a further launch is refused (a runaway clicker)
    max_jobs_per_user: int = 2  # served only: one user's jobs running or queued at once (one runs, one waits);
    #                              a further launch is refused with the reason, so no student takes every slot
    max_job_minutes: float = 240.0  # a job running longer is stopped (status 'stopped', checkpoints kept); 0 = never
    worker_nice: int = 10  # job workers run at this niceness: the pages (the server) get the CPU first, jobs the rest


@dataclass
class Settings:
    runs_dir: Path = Path("runs")  # one folder per run (config.json, metrics.sqlite, checkpoints/, TensorBoard)
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "dllab")  # built-in data sets go here
    data_root: Path = field(default_factory=Path.cwd)  # where typed paths are looked up (default: the working folder
    #                                                    when the settings are read); the only place they may point
    #                                                    when served
    served: bool = False  # True when the app is shared: typed paths are confined to data_root, runs to their owners
    user_header: str | None = None  # served behind a proxy that names the user in this header (e.g. X-Forwarded-User)
    teacher_token: str | None = None  # ?teacher=TOKEN in the URL sees every run on a served app; None = no teacher
    allow_downloads: bool = True  # pretrained weights not on disk may be downloaded on first use (torchvision's)
    address: str | None = None  # where `./lab app` listens; None: every interface when served, else this machine only
    limits: Limits = field(default_factory=Limits)


_ENV = {"runs_dir": "DLLAB_RUNS", "cache_dir": "DLLAB_CACHE", "data_root": "DLLAB_DATA_ROOT", "served": "DLLAB_SERVED",
        "user_header": "DLLAB_USER_HEADER", "teacher_token": "DLLAB_TEACHER_TOKEN",
        "allow_downloads": "DLLAB_ALLOW_DOWNLOADS", "address": "DLLAB_ADDRESS"}
_FLAGS = ("served", "allow_downloads")  # true/false settings
_TEXT = ("user_header", "teacher_token", "address")  # plain strings; the others are paths


def load_settings(config_file: str | os.PathLike | None = None) -> Settings:
    """Settings from ``lab.toml`` (or ``config_file``) and the ``DLLAB_*`` environment variables."""
    path = Path(config_file or os.environ.get("DLLAB_CONFIG", "lab.toml"))
    raw = tomllib.loads(path.read_text()) if path.is_file() else {}
    limits = Limits(**{f.name: raw.get("limits", {})[f.name] for f in fields(Limits) if f.name in raw.get("limits", {})})
    s = Settings(limits=limits)
    for name, env in _ENV.items():
        value = os.environ.get(env, raw.get(name))
        if value is None:
            continue
        if name in _FLAGS:
            setattr(s, name, str(value).lower() in ("1", "true", "yes", "on"))
        elif name in _TEXT:
            setattr(s, name, str(value) or None)
        else:
            setattr(s, name, Path(value).expanduser())
    return s


def server_address(settings: Settings | None = None) -> str:
    """Where the app listens (``./lab app``): ``address`` when set; else every interface when served, and only this
    machine (127.0.0.1) when not: an unserved lab is one person's, whose typed paths reach the whole disk.

    >>> server_address(Settings()), server_address(Settings(served=True))
    ('127.0.0.1', '0.0.0.0')
    """
    settings = settings or load_settings()
    return settings.address or ("0.0.0.0" if settings.served else "127.0.0.1")


def resolve_user_path(text: str, settings: Settings | None = None) -> Path:
    """Turn a path typed by a user into an absolute path, relative paths taken from the data root.

    When the app is served (``settings.served``), a path that leaves the data root (``..``, an absolute path
    elsewhere, a symlink out) is refused with ``PermissionError``.
    """
    settings = settings or load_settings()
    root = settings.data_root.expanduser().resolve()
    path = (root / Path(text).expanduser()).resolve()
    if settings.served and not path.is_relative_to(root):
        raise PermissionError(f"{text!r} is outside the data root {root}; this server only reads data under it")
    return path
