"""Widget groups of the Inspect page: what to inspect, the layer table with the receptive field, Grad-CAM.

Loaded models are shared read-only between sessions (``st.cache_resource``), each with a lock: inspecting puts
hooks on a model for the length of one call, so two sessions must not do it at the same time.
Long work (class visualisation, export) runs as jobs: see ui.inspect_jobs.
"""

import threading
from pathlib import Path

import streamlit as st
import torch

from core.inspect import (cam_layers, classic_cam, default_cam_layer, explain, gap_linear_head, layer_table,
                          layer_totals)
from core.inspect.cam import MAX_CAM_BATCH
from core.inspect.target import IMAGENET_PREFIX, imagenet_target, load_run
from core.train.evaluate import checkpoint_path
from core.train.run_info import ACTIVE
from core.train.store import RunStore
from ui import inspect_figures as fig
from ui.session import my_runs

IMAGENET_CHOICE = f"{IMAGENET_PREFIX}efficientnet_lite0"
IMAGENET_LABEL = "pretrained ImageNet (EfficientNet-Lite0) on sample photos"
AXES = {"image": ("row", "column"), "spectrogram": ("mel band", "frame"), "waveform": ("time step",)}


# ---- what to inspect -------------------------------------------------------------------------------------------
def inspect_source_ui(key: str) -> str:
    """Pick a finished training run with a checkpoint (newest first), or the pretrained ImageNet model."""
    runs = my_runs("train")
    runs = [r for r in runs if r.status not in ACTIVE and checkpoint_path(r.run_dir) is not None]
    labels = {str(r.run_dir): f"{r.name}  ({r.model} on {r.data}, {r.status})" for r in runs}
    labels[IMAGENET_CHOICE] = IMAGENET_LABEL
    return st.selectbox("Model to inspect", list(labels), format_func=labels.get, key=key,
                        help="training runs that saved a checkpoint, and a pretrained ImageNet classifier")


@st.cache_resource(max_entries=4, show_spinner="Loading the model, its examples and its layer table…")
def _loaded(where: str, version: float, _bundle=None):
    """(target, lock, layer rows) for a run (at one checkpoint version) or the pretrained model; read-only."""
    if where.startswith(IMAGENET_PREFIX):
        target = imagenet_target(where[len(IMAGENET_PREFIX):])
    else:
        target = load_run(where, _bundle)  # with what the run trained (its Freezing)
    rows = layer_table(target.model, target.input_shape, example=target.batch([0])[0])
    return target, threading.Lock(), rows


def version_of(where: str) -> float:
    """The checkpoint's modification time (a new checkpoint is a new version); 0 for the pretrained model."""
    path = None if where.startswith(IMAGENET_PREFIX) else checkpoint_path(where)
    return path.stat().st_mtime if path else 0.0


def load_target_ui(where: str):
    """``(target, lock, rows)`` of the choice, from the shared cache; None (with the reason shown) on failure."""
    from ui.data_ui import load_bundle_ui

    try:
        bundle = None
        if not where.startswith(IMAGENET_PREFIX):
            cfg = RunStore.open(where).config()
            if not cfg.get("data_opts"):
                bundle = load_bundle_ui(cfg["data"])  # shared with the other pages; shows why when unusable
                if bundle is None:
                    return None
        return _loaded(where, version_of(where), bundle)
    except Exception as err:  # noqa: BLE001 - missing data, changed code: say so, keep the page alive
        st.warning(f"Could not load this model: {type(err).__name__}: {err}")
        return None


def sample_ui(target, key: str, label: str = "Example") -> int:
    """Pick one example: by name (sample photos) or by its index in the validation split."""
    n = len(target.samples)
    if target.sample_names:
        return st.selectbox(label, range(n), format_func=lambda i: target.sample_names[i], key=key)
    return int(st.number_input(f"{label} (validation index, 0–{n - 1})", 0, n - 1, 0, key=key))


def true_label(target, y: int) -> str:
    return target.classes[y] if 0 <= y < len(target.classes) else "no label"


# ---- layers ----------------------------------------------------------------------------------------------------
DEPTHS = {"two levels": 2, "blocks": 1, "every layer": None}


def layers_view(target, rows, key: str) -> None:
    """Totals, the sortable table, the receptive-field growth chart and the field of one unit on an example."""
    totals = layer_totals(target.model, rows)
    cols = st.columns(5)
    cols[0].metric("Parameters", f"{totals.params:,}")
    freezing = target.freezing  # what the run trained (its config), not the rebuilt model's requires_grad
    never = freezing.never_trained if freezing is not None else totals.frozen
    cols[1].metric("Trained by the run" if freezing is not None else "Trainable", f"{totals.params - never:,}")
    cols[2].metric("Frozen for the whole run" if freezing is not None else "Frozen", f"{never:,}")
    cols[3].metric("Multiply-adds / example", f"{totals.mult_adds:,}")
    cols[4].metric("Size of the weights", f"{totals.param_megabytes:.2f} MB")
    shape = f"{len(target.samples[0][0])} token ids (the first validation example)" \
        if target.input_kind == "tokens" else f"{tuple(target.input_shape)} ({target.input_kind})"
    st.caption(f"Input: {shape}. A parameter shared by two layers is counted once; click a column header to sort."
               + (f" In this run {freezing.text()}." if freezing is not None else ""))
    depth = st.radio("Rows", list(DEPTHS), horizontal=True, key=f"{key}-depth")
    st.dataframe(fig.layer_frame(rows, DEPTHS[depth]), hide_index=True, key=f"{key}-table", width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="localized")
                                for c in ("params", "trainable", "mult-adds")})
    if not target.spatial:
        st.info("A text model's recurrent layer reads the whole sentence, so every unit after it sees every token: "
                "the receptive field is global from there on.")
        return
    st.plotly_chart(fig.field_growth_figure(rows), key=f"{key}-growth")
    st.caption("The receptive field grows by (kernel − 1) × dilation × jump at each layer; the jump (the product "
               "of the strides so far) multiplies at every stride. A residual block takes the larger field of its "
               "two branches. Global pooling and linear layers mix everything: their field is global.")
    field_on_example_ui(target, rows, key)


def field_on_example_ui(target, rows, key: str) -> None:
    """Pick a layer and one of its units: the part of an example that unit can see is outlined."""
    layers = {}
    for r in rows:
        if r.receptive_field is not None and len(r.output_shape) - 2 == len(r.receptive_field):
            layers.setdefault(r.name, r)
    if not layers:
        return
    st.subheader("What one unit can see")
    left, right = st.columns([1, 2])
    with left:
        names = list(layers)
        name = st.selectbox("Layer", names, index=len(names) - 1, key=f"{key}-rf-layer")
        row = layers[name]
        index = sample_ui(target, f"{key}-rf-example")
        unit = tuple(st.slider(f"Unit: {axis}", 0, n - 1, n // 2, key=f"{key}-rf-{axis}") if n > 1 else 0
                     for axis, n in zip(AXES[target.input_kind], row.output_shape[2:]))  # one unit: no slider
    x = target.batch([index])[0][0]
    box = row.box(unit, tuple(target.input_shape[1:]))
    title = f"{name}: field {row.field_text}, unit {unit}"
    with right:
        if target.input_kind == "waveform":
            st.plotly_chart(fig.waveform_figure(x, span=box[0], title=title), key=f"{key}-rf-fig")
        else:
            st.plotly_chart(fig.image_with_box(fig.to_display(x, target.input_kind), box, title,
                                               flip_rows=target.input_kind == "spectrogram"), key=f"{key}-rf-fig")


# ---- Grad-CAM --------------------------------------------------------------------------------------------------
def _what_the_classifier_sees(target, lock, x: torch.Tensor) -> torch.Tensor:
    """The spatial transformer's output for stn_cnn (maps are in its coordinates), else the input itself."""
    if hasattr(target.model, "transform"):
        with lock, torch.no_grad():
            return target.model.transform(x)
    return x


def _cams(target, lock, x, cls, layer: str, method: str):
    with lock:
        if method == "classic CAM":
            return classic_cam(target.model, x, cls)
        return explain(target.model, x, cls, layer)


def cam_view(target, lock, rows, key: str) -> None:
    """Grad-CAM (or classic CAM) of one example for the predicted class or any other, with opacity; then a grid."""
    if not target.spatial:
        st.info("Grad-CAM needs a layer with positions (a convolution over an image, a spectrogram or a waveform); "
                "a text model's LSTM has none.")
        return
    layers = cam_layers(target.model, None, rows=rows)
    if not layers:
        st.info("This model has no convolutional layer (an MLP flattens its input first), so there is no map.")
        return
    head = gap_linear_head(target.model, None, rows=rows)
    left, right = st.columns([1, 2])
    with left:
        index = sample_ui(target, f"{key}-example")
        x, y = target.batch([index])
        with lock, torch.no_grad():
            probs = torch.softmax(target.model(x), 1)[0]
        pred = int(probs.argmax())
        cls = st.selectbox("Class to explain", [-1, *range(len(target.classes))], key=f"{key}-class",
                           format_func=lambda c: f"predicted: {target.classes[pred]} ({probs[pred]:.0%})" if c < 0
                           else f"{target.classes[c]} ({probs[c]:.0%})")
        layer = st.selectbox("Layer", layers, index=layers.index(default_cam_layer(target.model, None, rows=rows)),
                             key=f"{key}-layer", help="deeper layers: coarser maps of larger parts")
        method = st.radio("Method", ["Grad-CAM", "classic CAM"] if head else ["Grad-CAM"], horizontal=True,
                          key=f"{key}-method", help="classic CAM: only for a global-average-pool + linear head")
        opacity = st.slider("Opacity of the map", 0.0, 1.0, 0.5, 0.05, key=f"{key}-opacity")
    chosen = pred if cls < 0 else cls
    with right:
        cam = _one_map(target, lock, x, chosen, layer, method, index, key)
        if cam is not None:
            caption = (f"{method} for **{target.classes[chosen]}** at "
                       f"`{layer if method == 'Grad-CAM' else head[0]}` ({' × '.join(map(str, cam.shape))}) · "
                       f"true class: {true_label(target, int(y[0]))}")
            _show_map(target, lock, x, cam, opacity, caption, f"{key}-map", index)
    st.subheader("Maps of several examples")
    cam_grid_ui(target, lock, layer, opacity, key)


def _show_map(target, lock, x, cam, opacity: float, caption: str, key: str, index: int = 0) -> None:
    if target.input_kind == "waveform":
        st.plotly_chart(fig.waveform_figure(x[0], cam, title="Grad-CAM over time"), key=key)
    else:
        seen = _what_the_classifier_sees(target, lock, x)[0]
        st.image(fig.cam_display(seen, cam, target.input_kind, opacity), width=360)
        if hasattr(target.model, "transform"):
            caption += " · shown on the spatial transformer's output, where the classifier looks"
    if target.input_kind == "spectrogram":
        caption += " · low frequencies at the bottom, time to the right"
    st.markdown(caption)
    paths = getattr(target.raw, "paths", None)
    if target.kind == "audio" and paths is not None:
        st.audio(str(paths[index]))



def cam_grid_ui(target, lock, layer: str, opacity: float, key: str) -> None:
    """Grad-CAM of up to MAX_CAM_BATCH validation examples (one batched pass) for their predicted classes."""
    n_all = len(target.samples)
    c1, c2 = st.columns(2)
    n = c1.slider("Examples", 1, min(MAX_CAM_BATCH, n_all), min(8, n_all), key=f"{key}-grid-n")
    shift = int(c2.number_input("Shift", 0, max(0, n_all - 1), 0, key=f"{key}-grid-shift",
                                help="the examples are spread evenly over the validation split; shift moves them"))
    picks = [(shift + i * n_all // n) % n_all for i in range(n)]
    x, y = target.batch(picks)
    maps = _grid_maps(target, lock, x, layer, picks, key)
    if maps is None:
        return
    cols = st.columns(4)
    for i in range(n):
        where = cols[i % 4]
        if target.input_kind == "waveform":
            where.plotly_chart(fig.waveform_figure(x[i], maps[0][i]), key=f"{key}-grid-{i}")
        else:
            where.image(fig.cam_display(_what_the_classifier_sees(target, lock, x[i:i + 1])[0], maps[0][i],
                                        target.input_kind, opacity), width="stretch")
        pred = int(maps[1][i])
        mark = "" if int(y[i]) < 0 else (" ✅" if pred == int(y[i]) else " ❌")
        name = target.sample_names[picks[i]] if target.sample_names else f"#{picks[i]}"
        where.caption(f"{name}: true {true_label(target, int(y[i]))} · predicted {target.classes[pred]}{mark}")


def _one_map(target, lock, x, cls: int, layer: str, method: str, index: int, key: str):
    """The chosen example's map: here when one forward + backward pass fits the server's inline budget (classic
    CAM: one forward pass, always), else from a 'cam_grid' job of this one example; None until it has finished."""
    from core.inspect.jobs import cam_grid_config, cam_grid_needs_job, read_cam_grid
    from ui.inspect_jobs import job_ui

    if method == "classic CAM" or not cam_grid_needs_job(target, 1):
        result = _cams(target, lock, x, cls, layer, method)
        return (result if isinstance(result, torch.Tensor) else result.maps)[0]
    st.caption("Grad-CAM of this model is too heavy for this page: it runs in a worker.")
    done = job_ui("cam_grid", cam_grid_config(target.ref, layer, [index], cls), "Map this example", f"{key}-one")
    return read_cam_grid(done)[0][0] if done is not None else None


def _grid_maps(target, lock, x, layer: str, picks: list[int], key: str):
    """(maps, explained classes) of the grid: here when the batch fits the server's inline budget, else from a
    'cam_grid' job (a button starts it; None until it has finished)."""
    from core.inspect.jobs import cam_grid_config, cam_grid_needs_job, read_cam_grid
    from ui.inspect_jobs import job_ui

    if not cam_grid_needs_job(target, len(picks)):
        ex = _cams(target, lock, x, None, layer, "Grad-CAM")
        return ex.maps, ex.targets
    st.caption("Mapping this many examples is too heavy for this page on this model: it runs in a worker.")
    done = job_ui("cam_grid", cam_grid_config(target.ref, layer, picks), "Map the examples", f"{key}-grid")
    return read_cam_grid(done) if done is not None else None


# ---- spatial transformer ---------------------------------------------------------------------------------------
def stn_view(target, lock, key: str) -> None:
    """Inputs next to what the spatial transformer made of them, with the predicted affine transforms."""
    n_all = len(target.samples)
    n = st.slider("Examples", 1, min(MAX_CAM_BATCH, n_all), min(8, n_all), key=f"{key}-n")
    x, _ = target.batch(range(n))
    with lock, torch.no_grad():
        warped, theta = target.model.transform(x), target.model.affine(x)
    st.caption("Left: the input. Right: what the localisation net's affine transform made of it, which is what the "
               "classifier sees. At initialisation the transform is the identity; training moves it only when "
               "straightening, zooming or shifting helps the classifier.")
    cols = st.columns(4)
    for i in range(n):
        pair = [fig.enlarge(fig.to_display(x[i], "image"), 112), fig.enlarge(fig.to_display(warped[i], "image"), 112)]
        cols[i % 4].image(pair, width=112)
        t = theta[i].numpy()
        cols[i % 4].caption(f"θ = [[{t[0, 0]:.2f}, {t[0, 1]:.2f}, {t[0, 2]:.2f}], "
                            f"[{t[1, 0]:.2f}, {t[1, 1]:.2f}, {t[1, 2]:.2f}]]")


def run_dir_of(where: str) -> Path | None:
    return None if where.startswith(IMAGENET_PREFIX) else Path(where)
