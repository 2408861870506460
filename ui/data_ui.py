"""Widgets for choosing and loading data: the source picker every page shares, and a cached, progress-showing load."""
from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import soundfile as sf
import streamlit as st
from PIL import Image

from core.data import BUILTINS, DataError, builtin_sources, load
from core.data.archive import save_upload
from core.settings import load_settings, resolve_user_path

MODES = ("Built-in", "Path", "Upload a zip")
OWN_UPLOADS = "data_own_uploads"  # session_state key: folders (or files) unpacked from this session's zip uploads


def _builtin_ui(key: str, kinds: tuple[str, ...] | None) -> str:
    names = builtin_sources(kinds)
    last = st.session_state.get("data_source")
    return st.selectbox("Built-in data set", names, index=names.index(last) if last in names else 0,
                        format_func=lambda s: f"{s} — {BUILTINS[s.split(':', 1)[1]]}", key=f"{key}_builtin")


def _path_ui(key: str) -> str | None:
    settings = load_settings()
    last = st.session_state.get("data_source") or ""
    text = st.text_input("Folder or file", value="" if last.startswith("builtin:") else last, key=f"{key}_path",
                         placeholder="e.g. data/pets or reviews.csv",
                         help=f"Relative paths start at the data root {settings.data_root}. Images or audio in class "
                              "folders (optionally under train/ val/ test/), ESC-50 or Free-Spoken-Digit file names, "
                              "or a .csv/.tsv text file.")
    if not text.strip():
        return None
    try:  # a zip this session unpacked (under the cache) stays usable even when paths are confined to the data root
        path = _own_upload(text.strip()) or resolve_user_path(text.strip(), settings)
    except PermissionError as err:
        st.error(str(err))
        return None
    if not path.exists():
        st.error(f"{path} does not exist.")
        return None
    return str(path)


def _own_upload(text: str) -> Path | None:
    """The typed path if it lies inside a zip unpacked by this session, else None. Other people's uploads sit
    in the same cache folder: on a served app they must stay out of reach."""
    typed = Path(text).expanduser()
    if not typed.is_absolute():
        return None
    path = typed.resolve()
    own = st.session_state.get(OWN_UPLOADS, ())
    return path if any(path.is_relative_to(Path(p).resolve()) for p in own) else None


def _upload_ui(key: str) -> str | None:
    limits = load_settings().limits
    upload = st.file_uploader(f"A .zip of a data folder or text file (at most {limits.max_upload_mb} MB)",
                              type=["zip"], key=f"{key}_zip")
    if upload is None:
        return None
    done = st.session_state.get(f"{key}_unpacked")
    st.caption("An upload lasts for this browser session: a reload or a shared link starts without it (upload "
               "it again, or put the folder under the data root and type its path).")
    if done and done[0] == upload.file_id:  # unpacked on an earlier rerun: skip hashing the bytes again
        return done[1]
    try:
        with st.spinner(f"Unpacking {upload.name}…"):
            path = str(save_upload(upload.getvalue(), upload.name, limits=limits))
    except DataError as err:
        st.error(str(err))
        return None
    st.session_state[f"{key}_unpacked"] = (upload.file_id, path)
    st.session_state.setdefault(OWN_UPLOADS, []).append(path)
    return path


def data_source_ui(key: str, kinds: tuple[str, ...] | None = None) -> str | None:
    """Pick a data source (built-in, a path inside the data root, or an uploaded zip); returns it or None.

    The choice is remembered in ``st.session_state["data_source"]`` so the next page starts from it.
    ``kinds`` (e.g. ``("image",)``) limits the built-in menu. Example: ``source = data_source_ui("datasets")``.
    """
    last = st.session_state.get("data_source") or ""
    default = 0 if not last or last.startswith("builtin:") else 1
    mode = st.radio("Data source", MODES, index=default, horizontal=True, key=f"{key}_mode")
    if mode == MODES[0]:
        source = _builtin_ui(key, kinds)
    elif mode == MODES[1]:
        source = _path_ui(key)
    else:
        source = _upload_ui(key)
    if source:
        st.session_state["data_source"] = source
    return source


CACHED_INDEXES = 64  # data set indexes (labels only: a few bytes per sample) kept for every session


@st.cache_resource
def _bundle_store() -> tuple[OrderedDict, threading.Lock]:
    # A shared store rather than @st.cache_resource on the load itself: the progress bar lives outside the load, and
    # Streamlit cannot replay elements created outside a cached function. Bundles here are read-only (no .transform).
    # key -> (bundle, its memory in bytes); least recently used first; bounded by limits.bundle_cache_mb
    return OrderedDict(), threading.Lock()


@st.cache_resource
def _index_store() -> tuple[OrderedDict, threading.Lock]:
    return OrderedDict(), threading.Lock()  # key -> DataIndex (labels only), least recently used first


def load_bundle_ui(source: str, kind: str | None = None, reload: bool = False, verify: bool = True):
    """``core.data.load(source)`` kept across reruns and sessions, with a progress bar while it loads; None (and
    the reason shown) when the source cannot be used. ``reload=True`` reads it again (files changed on disk);
    ``verify=False`` reads image/audio headers only (fast on big folders; corrupt data inside a file goes unseen).
    The shared store keeps at most ``limits.bundle_cache_mb`` of data (least recently used dropped first).
    A page that only shows counts and the kind uses ``data_index_ui``: it decodes nothing."""
    store, lock = _bundle_store()
    key = (source, kind, verify)
    with lock:
        held = None if reload else store.get(key)
        if held is not None:
            store.move_to_end(key)
            return held[0]
    bundle = _with_progress(source, lambda progress: load(source, kind, progress=progress, verify=verify))
    if bundle is not None:
        keep_within(store, lock, key, bundle, bundle.memory_bytes(), load_settings().limits.bundle_cache_mb * 2**20)
    return bundle


def keep_within(store: OrderedDict, lock: threading.Lock, key, value, size: int, budget: int) -> None:
    """Put ``value`` (``size`` bytes) in ``store`` and drop the least recently used until all fit in ``budget``;
    a value larger than the whole budget is not kept."""
    with lock:
        store.pop(key, None)
        if size > budget:
            return
        store[key] = (value, size)
        while sum(s for _, s in store.values()) > budget:
            store.popitem(last=False)


def data_index_ui(source: str, kind: str | None = None, reload: bool = False):
    """The data set's index (``core.data.index``: kind, classes, labels per split; no pixels or samples decoded),
    kept across reruns and sessions; None (and the reason shown) when the source cannot be used."""
    from core.data import index

    store, lock = _index_store()
    key = (source, kind)
    with lock:
        found = None if reload else store.get(key)
        if found is not None:
            store.move_to_end(key)
            return found
    found = _with_progress(source, lambda progress: index(source, kind, progress=progress))
    if found is not None:
        with lock:
            store[key] = found
            while len(store) > CACHED_INDEXES:
                store.popitem(last=False)
    return found


def _with_progress(source: str, read):
    """``read(progress)`` with a progress bar and a spinner; errors are shown and None returned."""
    bar = st.empty()

    def progress(done: int, total: int, message: str) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{message} ({done}/{total})")

    try:
        with st.spinner(f"Loading {source}…"):
            return read(progress)
    except (DataError, OSError) as err:
        message = str(err)  # core's messages usually name the path already: do not print it twice
        st.error(f"Cannot use this data: {message}" if source in message else f"Cannot use {source}: {message}")
        if getattr(err, "skipped", None):  # e.g. every image is broken: say which files and why
            skipped_table(err.skipped, source)
        return None
    except Exception as err:  # a bug, not bad data: say so, keep the page alive, show the details
        st.error(f"Loading {source} failed unexpectedly ({type(err).__name__}: {err}). Please report it.")
        with st.expander("Details"):
            st.exception(err)
        return None
    finally:
        bar.empty()


def skipped_table(skipped: list, source: str) -> None:
    """The files that could not be read, with the reason for each (paths relative to the data set's folder)."""
    st.dataframe([{"file": short_path(s.path, source), "reason": s.reason} for s in skipped], hide_index=True)


@st.cache_data(ttl=30, show_spinner=False)
def source_kind(source: str) -> str | None:
    """'image', 'audio' or 'text' for a source, from its file names (nothing read); None when it cannot be told."""
    from core.data.load import locate

    try:
        return locate(source)[1]
    except (DataError, OSError):
        return None


def short_path(path: str | Path, root: str | Path | None = None) -> str:
    """A path shown relative to the data set's folder when possible (tables stay readable)."""
    path = Path(path)
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def image_grid(bundle, picks: dict[str, list[int]], split: str = "train") -> None:
    """One row per class: the picked images at their original size (enlarged with visible pixels when tiny)."""
    from ui.data_figures import thumbnail

    ds = bundle.splits[split]
    width = max((len(v) for v in picks.values()), default=1)
    for c, idx in picks.items():
        cols = st.columns([1.2] + [1] * width, vertical_alignment="center")
        cols[0].markdown(f"**{c}**")
        for col, i in zip(cols[1:], idx):
            try:
                with Image.open(ds.paths[i]) as im:
                    size = f"{im.width}×{im.height}"
                col.image(thumbnail(ds.paths[i]), caption=size)
            except (OSError, ValueError) as err:  # header-only loads let corrupt pixel data through to here
                col.warning(f"{ds.paths[i].name}: {err}")


def audio_grid(bundle, picks: dict[str, list[int]], split: str = "train") -> None:
    """One row per class: a player for each picked clip (the original file)."""
    ds = bundle.splits[split]
    width = max((len(v) for v in picks.values()), default=1)
    for c, idx in picks.items():
        cols = st.columns([1.2] + [2] * width, vertical_alignment="center")
        cols[0].markdown(f"**{c}**")
        for col, i in zip(cols[1:], idx):
            col.audio(ds.paths[i].read_bytes(), format=_audio_format(ds.paths[i]))
            col.caption(ds.paths[i].name)


def text_samples(bundle, picks: dict[str, list[int]], split: str = "train") -> None:
    """A table of the picked texts with their class."""
    ds = bundle.splits[split]
    rows = [{"class": c, "text": ds.texts[i]} for c, idx in picks.items() for i in idx]
    st.dataframe(rows, hide_index=True, column_config={"text": st.column_config.TextColumn(width="large")})


def _audio_format(path: Path) -> str:
    return {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg"}.get(path.suffix.lower(), "audio/wav")


def wav_bytes(wave, sample_rate: int) -> bytes:
    """A mono float waveform as 16-bit WAV bytes for ``st.audio`` (its own numpy path rescales to full volume and
    fails on silence; this plays the clip as loud as it really is)."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(wave, dtype=np.float32).reshape(-1), -1, 1), sample_rate, format="WAV",
             subtype="PCM_16")
    return buf.getvalue()


def clip_ui(bundle, key: str) -> None:
    """Pick a training clip; show it as the model hears it: player, waveform, mel and log-mel spectrograms."""
    from core.data.audio import read_audio
    from core.data.features import mel_view
    from ui import data_figures as figs

    left, right = st.columns(2)
    cls = left.selectbox("Class", bundle.classes, key=f"{key}_class")
    train = bundle.splits["train"]
    options = bundle.examples(len(train))[cls]
    if not options:
        st.info(f"No training clips of {cls!r}.")
        return
    i = right.selectbox("Clip", options, format_func=lambda k: train.paths[k].name, key=key)
    try:
        wave = read_audio(train.paths[i], bundle.sample_rate)
    except (OSError, RuntimeError) as err:  # e.g. the file changed on disk since loading
        st.error(f"Cannot read {train.paths[i]}: {err}")
        return
    view = mel_view(wave, bundle.sample_rate)
    st.audio(wav_bytes(wave.numpy(), bundle.sample_rate), format="audio/wav")
    st.caption(f"Mono at {bundle.sample_rate} Hz, as the model gets it (before cropping/padding).")
    from core.data.summary import upsampled_note

    note = upsampled_note(bundle.stats or {})
    if note:
        st.caption(f"ℹ️ {note}")
    st.plotly_chart(figs.waveform(wave.numpy(), bundle.sample_rate), key=f"{key}_wave")
    mel_col, log_col = st.columns(2)
    mel_col.plotly_chart(figs.spectrogram(view.mel, view.hop_seconds, view.mel_hz, "Mel spectrogram", "power"),
                         key=f"{key}_mel")
    log_col.plotly_chart(figs.spectrogram(view.log_mel, view.hop_seconds, view.mel_hz, "Log-mel spectrogram",
                                          "dB"), key=f"{key}_logmel")
