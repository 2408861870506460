"""Widget groups of the Augment page: each returns a config (a Pipeline, an input sample, a mixup choice).

The pipeline editor draws its widgets from the registry's parameter specs (``core.augment.registry(kind)``), so a
transform added there appears here with no UI change. Editor state lives in ``st.session_state[f"{key}_steps"]``
as plain dicts with a stable id per step, so reordering keeps each step's widget values.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np
import PIL.Image
import streamlit as st
import torch

from core.augment import AugmentError, Pipeline, Step, registry
from core.augment.image import to_tensor


@dataclass
class Sample:
    x: object  # image: float (C, H, W) in [0, 1]; audio: (1, N) waveform; text: str
    label: str | None = None  # class name when the sample comes from a dataset
    sample_rate: int | None = None  # audio only
    source: str | None = None  # the data source it came from (None for photos and uploads)


def _new_id(key: str) -> int:
    st.session_state[f"{key}_next_id"] = st.session_state.get(f"{key}_next_id", 0) + 1
    return st.session_state[f"{key}_next_id"]


def _set_steps(key: str, pipeline: Pipeline) -> None:
    open_ = len(pipeline.steps) <= 3  # a short pipeline starts unfolded; each step keeps its own flag from here on
    st.session_state[f"{key}_steps"] = [{"id": _new_id(key), "name": s.name, "params": dict(s.params), "p": s.p,
                                         "open": open_} for s in pipeline.steps]


def pipeline_editor(kind: str, key: str, default: Pipeline) -> Pipeline:
    """Add / remove / reorder steps, set their parameters and probability; returns the (unvalidated) Pipeline."""
    if f"{key}_steps" not in st.session_state:
        _set_steps(key, default)
    ops = registry(kind)
    steps = st.session_state[f"{key}_steps"]
    add_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
    name = add_col.selectbox("Add a transform", list(ops), key=f"{key}_add_name",
                             format_func=lambda n: f"{n}: {ops[n].help}")
    if button_col.button("Add", key=f"{key}_add", width="stretch"):
        steps.append({"id": _new_id(key), "name": name, "params": ops[name].defaults(), "p": ops[name].default_p,
                      "open": True})  # the new step opens; the others stay as the user left them
        st.rerun()
    for index, step in enumerate(steps):
        _step_ui(kind, key, steps, index, step)
    return Pipeline(kind, [Step(s["name"], dict(s["params"]), s["p"]) for s in steps])


def _step_ui(kind: str, key: str, steps: list, index: int, step: dict) -> None:
    op = registry(kind)[step["name"]]
    wkey = f"{key}_{step['id']}"
    # ``expanded`` must not change when other steps are added: the browser keeps each expander's state as long as
    # its label and initial state stay the same
    with st.expander(f"{index + 1}\\. {step['name']}  (p = {step['p']:.2f})", expanded=step.get("open", True)):
        st.caption(op.help)
        up, down, remove, _ = st.columns([1, 1, 1, 5])
        if up.button("↑", key=f"{wkey}_up", disabled=index == 0, help="move earlier"):
            steps[index - 1], steps[index] = steps[index], steps[index - 1]
            st.rerun()
        if down.button("↓", key=f"{wkey}_down", disabled=index == len(steps) - 1, help="move later"):
            steps[index + 1], steps[index] = steps[index], steps[index + 1]
            st.rerun()
        if remove.button("✕", key=f"{wkey}_remove", help="remove this step"):
            steps.pop(index)
            st.rerun()
        step["p"] = st.slider("probability", 0.0, 1.0, float(step["p"]), 0.05, key=f"{wkey}__probability",
                              help="chance the step runs on each draw")
        for spec in op.params:
            step["params"][spec.name] = param_widget(spec, step["params"].get(spec.name, spec.default), wkey)


def param_widget(spec, value, key: str):
    """One widget for a ParamSpec, initialised with ``value``; returns the value the user set."""
    k, label = f"{key}_{spec.name}", spec.name.replace("_", " ")
    if spec.type == "bool":
        return st.checkbox(label, bool(value), key=k, help=spec.help)
    if spec.type == "choice":
        return st.selectbox(label, spec.choices, index=list(spec.choices).index(value), key=k, help=spec.help)
    if spec.type == "choices":
        return st.multiselect(label, spec.choices, default=list(value), key=k, help=spec.help)
    if spec.type == "int":
        if spec.high - spec.low > 200:
            return int(st.number_input(label, int(spec.low), int(spec.high), int(value), key=k, help=spec.help))
        step = 2 if spec.odd else 1
        return st.slider(label, int(spec.low), int(spec.high), int(value), step, key=k, help=spec.help)
    step = _step_size(spec)
    if spec.type == "float":
        return st.slider(label, float(spec.low), float(spec.high), float(value), step, key=k, help=spec.help)
    if spec.type == "range":
        lo, hi = st.slider(label, float(spec.low), float(spec.high), (float(value[0]), float(value[1])), step,
                           key=k, help=spec.help)
        return [lo, hi]
    if spec.type == "xy":
        a, b = st.columns(2)
        return [a.slider(f"{label} x", float(spec.low), float(spec.high), float(value[0]), step, key=f"{k}_x"),
                b.slider(f"{label} y", float(spec.low), float(spec.high), float(value[1]), step, key=f"{k}_y")]
    text = st.text_input(label, ", ".join(f"{v:g}" for v in value), key=k, help=spec.help + " (comma-separated)")
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        return text  # validation reports it with the parameter's name


def _step_size(spec) -> float:
    span = float(spec.high) - float(spec.low)
    return 0.001 if span <= 1 else 0.01 if span <= 20 else 0.5


def pipeline_files_ui(pipeline: Pipeline, key: str, source: str | None = None) -> None:
    """Save (download JSON), load (upload JSON), export code, and hand the pipeline to the Train page.

    ``source`` is the data set the pipeline was built on (None for a sample photo or an upload): the Train page
    preselects the hand-over only for that data and merely offers it for other data."""
    save, load, use = st.columns(3)
    try:
        valid = pipeline.validated()
    except AugmentError:
        valid = None
    save.download_button("Save JSON", json.dumps((valid or pipeline).to_dict(), indent=2), f"{key}_pipeline.json",
                         "application/json", key=f"{key}_save", disabled=valid is None)
    from ui.augment_choice_ui import handover_promise

    if use.button("Use in training", key=f"{key}_use", disabled=valid is None, type="primary",
                  help="hand this pipeline to the Train page: used for the data it was built on, offered for other "
                       "data"):
        st.session_state["augment_for_training"] = valid.to_dict()
        st.session_state["augment_for_training_from"] = source
    if valid is not None and st.session_state.get("augment_for_training") == valid.to_dict():
        built_on = st.session_state.get("augment_for_training_from")  # what Train will do, by Train's own rule
        (use.success if built_on else use.info)(handover_promise(built_on), icon="✅" if built_on else "ℹ️")
    upload = load.file_uploader("Load a saved pipeline (JSON)", type=["json"], key=f"{key}_load")
    if upload is not None and st.session_state.get(f"{key}_loaded") != upload.file_id:
        try:
            loaded = Pipeline.from_dict(_json_of(upload))
            if loaded.kind != pipeline.kind:
                raise AugmentError(f"that file holds a {loaded.kind} pipeline; this section edits {pipeline.kind} "
                                   "pipelines")
        except (AugmentError, ValueError) as err:
            load.error(f"Not loaded: {err}")
        else:
            st.session_state[f"{key}_loaded"] = upload.file_id
            _set_steps(key, loaded)
            st.rerun()
    if valid is not None and valid.kind == "image":
        with st.expander("Export as Python code (torchvision only)"):
            code = valid.to_code()
            st.download_button("Download augment_pipeline.py", code, "augment_pipeline.py", key=f"{key}_code")
            st.code(code, language="python")


def _json_of(upload):
    """The JSON in an uploaded file; ``ValueError`` naming the file when it is not JSON (no parser jargon)."""
    try:
        return json.loads(upload.getvalue())
    except json.JSONDecodeError as err:
        raise ValueError(f"{upload.name} is not a pipeline file: it is not JSON (line {err.lineno}, column "
                         f"{err.colno}). Save a pipeline with 'Save JSON' and load that file.") from None
    except UnicodeDecodeError:
        raise ValueError(f"{upload.name} is not a pipeline file: it is not text. Save a pipeline with 'Save JSON' "
                         "and load that file.") from None


def image_source_ui(key: str) -> Sample | None:
    """A sample photo, one image of a dataset, or an upload: returns the image as a float (C, H, W) tensor."""
    from core.data import sample_photos

    choice = st.radio("Source", ["Sample photo", "Dataset sample", "Upload"], horizontal=True, key=f"{key}_src")
    if choice == "Sample photo":
        photos = sample_photos()
        name = st.selectbox("Photo", list(photos), key=f"{key}_photo")
        image = photos[name]
        image.thumbnail((512, 512))  # previews stay fast on big photos
        return Sample(to_tensor(image), name)
    if choice == "Upload":
        upload = st.file_uploader("An image", type=["png", "jpg", "jpeg", "bmp", "webp"], key=f"{key}_upload")
        if upload is None:
            return None
        try:
            image = PIL.Image.open(io.BytesIO(upload.getvalue()))
            image.thumbnail((1024, 1024))
            return Sample(to_tensor(image), upload.name)
        except PIL.UnidentifiedImageError:  # its message shows the in-memory file object, not the file
            st.error(f"Could not read {upload.name}: not an image (PIL cannot identify the file format; "
                     "PNG, JPEG, BMP or WebP expected)")
        except (OSError, ValueError, PIL.Image.DecompressionBombError) as err:
            st.error(f"Could not read {upload.name}: the image data is damaged ({err})")
        return None
    bundle = dataset_ui(f"{key}_data", "image")
    if bundle is None:
        return None
    from core.train.data import training_example

    split = bundle.splits["train"]
    i = st.number_input("Sample index", 0, len(split) - 1, 0, key=f"{key}_index")
    x, y = training_example(bundle, int(i))  # at the size the default model trains at (core.train.data)
    return Sample(x, bundle.classes[y], source=bundle.source)


def dataset_ui(key: str, kind: str):
    """Pick a data source of ``kind`` and load it (cached); returns a DataBundle or None (with the reason shown)."""
    source = _source_picker(key, kind)
    if not source:
        return None
    bundle = _load(source)
    if bundle is not None and bundle.kind != kind:
        st.warning(f"{source} holds {bundle.kind} data; this view needs {kind} data.")
        return None
    return bundle


def _source_picker(key: str, kind: str) -> str | None:
    from ui.data_ui import data_source_ui

    return data_source_ui(key, kinds=(kind,))


def _load(source: str):
    # the Datasets page's loader: one in-memory store for both pages, a progress bar, errors shown not raised
    from ui.data_ui import load_bundle_ui

    return load_bundle_ui(source)


def draws_ui(key: str, default_n: int = 8) -> tuple[int, int]:
    """How many draws and the base seed (draw i uses seed + i); 'New draws' moves the seed on."""
    n_col, seed_col, button_col = st.columns([2, 2, 1], vertical_alignment="bottom")
    n = n_col.slider("Draws", 1, 16, default_n, key=f"{key}_n")
    if f"{key}_seed" not in st.session_state:
        st.session_state[f"{key}_seed"] = 0
    if button_col.button("New draws", key=f"{key}_reseed", width="stretch"):
        st.session_state[f"{key}_seed"] += 1000
    seed = seed_col.number_input("Seed", 0, 2**31 - 1, key=f"{key}_seed", help="draw i uses seed + i: replayable")
    return n, int(seed)


def waveform_from_upload(upload) -> tuple[torch.Tensor, int] | None:
    """An uploaded audio file -> mono (1, N) float waveform and its sample rate (soundfile), or None with an error."""
    import soundfile

    try:
        data, sr = soundfile.read(io.BytesIO(upload.getvalue()), dtype="float32", always_2d=True)
    except soundfile.LibsndfileError as err:  # str(err) names the in-memory file object, not the file
        st.error(f"Could not read {upload.name}: not an audio file soundfile can read ({err.error_string})")
        return None
    except RuntimeError as err:
        st.error(f"Could not read {upload.name}: the audio data is damaged ({err})")
        return None
    return torch.from_numpy(data.mean(axis=1)).unsqueeze(0), int(sr)


def current_pipeline(kind: str, key: str, default: Pipeline) -> Pipeline:
    """The pipeline being edited under ``key`` (or ``default``) without drawing the editor."""
    steps = st.session_state.get(f"{key}_steps")
    if steps is None:
        return default
    return Pipeline(kind, [Step(s["name"], dict(s["params"]), s["p"]) for s in steps])


def audio_source_ui(key: str) -> Sample | None:
    """A clip from an audio dataset (built-in sounds by default) or an uploaded file."""
    choice = st.radio("Audio", ["Dataset clip", "Upload"], horizontal=True, key=f"{key}_src")
    if choice == "Upload":
        upload = st.file_uploader("An audio file (wav, flac, ogg)", type=["wav", "flac", "ogg"], key=f"{key}_up")
        read = waveform_from_upload(upload) if upload is not None else None
        if read is None:
            return None
        wave, sr = read
        return Sample(wave[:, : sr * 5], upload.name, sr)  # first 5 s keep previews quick
    bundle = dataset_ui(f"{key}_data", "audio")
    if bundle is None:
        return None
    split = bundle.splits["train"]
    i = st.number_input("Clip index", 0, len(split) - 1, 0, key=f"{key}_index")
    x, y = split[int(i)]
    return Sample(x, bundle.classes[y], bundle.sample_rate)


@st.cache_data(max_entries=256, show_spinner=False)
def audio_draw(wave: np.ndarray, sample_rate: int, pipeline: dict, seed: int) -> tuple[np.ndarray, str]:
    """One seeded draw of the audio ``pipeline`` (``Pipeline.to_dict()``) on a mono clip ``wave`` (N,): the output
    (N,) and what was drawn. Cached, so a rerun recomputes only the rows whose step or seed changed."""
    from ui.augment_figures import draw_caption

    draw = Pipeline.from_dict(pipeline).sample(torch.from_numpy(wave)[None], seed)  # (N,) -> (1, N)
    return draw.output[0].numpy(), draw_caption(draw.records)


@st.cache_resource(max_entries=64, show_spinner=False)
def spectrogram_panel(wave: np.ndarray, sample_rate: int, title: str, zrange: tuple[float, float]):
    """The log-mel figure of a clip (N,) on a fixed dB scale. Cached as a resource: the figure is only read (building
    one costs ~0.1 s; unpickling a cached copy costs more)."""
    from core.augment.spectrogram import MelSettings, log_mel
    from ui.augment_figures import spectrogram_figure

    spec = log_mel(torch.from_numpy(wave)[None], MelSettings(sample_rate=sample_rate))
    return spectrogram_figure(spec, title, height=200, zrange=zrange)
