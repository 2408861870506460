"""The Inspect page's long work, run as jobs (core.inspect.jobs): class visualisation and export.

A job is started with a button, polled while it runs (a fragment), and its result stays in the run store, so a
reload or a second tab shows the same result for the same settings.
"""
from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from core.access import visible_runs
from core.inspect.export import FORMATS, LABELS, missing_packages
from core.inspect.jobs import (MAX_VISUAL_CLASSES, MAX_VISUAL_STEPS, export_job_config, read_class_visual,
                               visual_job_config)
from core.jobs import launch, read_result
from core.train.run_info import ACTIVE
from core.train.store import RunStore, list_runs
from ui import inspect_figures as fig
from ui.jobs import job_ui as follow_job
from ui.session import current_user, is_teacher



def _same(config: dict, run_dir: Path) -> bool:
    try:
        stored = RunStore.open(run_dir).config()
    except FileNotFoundError:
        return False
    return json.dumps(stored, sort_keys=True) == json.dumps(config, sort_keys=True)


def latest_job(kind: str, config: dict):
    """The newest visible job of ``kind`` launched with exactly ``config`` (RunInfo), or None."""
    jobs = visible_runs(list_runs(kind=kind), current_user(), teacher=is_teacher())
    return next((r for r in jobs if _same(config, r.run_dir)), None)


def job_ui(kind: str, config: dict, label: str, key: str) -> Path | None:
    """A button that launches the job and the state of the latest one with these settings; its run directory
    once it has finished (None before, with progress or the reason it did not finish shown)."""
    latest = latest_job(kind, config)
    busy = latest is not None and latest.status in ACTIVE
    again = latest is not None and latest.status == "finished"
    if st.button(f"{label} again" if again else label, key=f"{key}-start", disabled=busy, type="primary"):
        try:
            launch(kind, config, owner=current_user())
        except ValueError as err:  # refused: the reasons, nothing started
            st.error(f"Cannot start: {err}")
            return None
        st.rerun()
    if latest is None:
        return None
    if busy:
        follow_job(latest.run_dir, key)  # place in the queue or progress, Stop; reruns the page when it ends
        return None
    if latest.status != "finished":
        st.warning(f"The last try {latest.status}" + (f": {latest.error}" if latest.error else "."))
        return None
    return latest.run_dir


# ---- class visualisation ---------------------------------------------------------------------------------------
def visual_view(where: str, target, lock, key: str) -> None:
    """Backquery: a few classes' "ideal" inputs, made in a worker; for the sigmoid MLP also the exact inverse."""
    if not target.spatial:
        st.info("A text model's input is a list of token ids: there is no gradient to follow between words, so it "
                "cannot be asked what a class looks like this way.")
        return
    st.caption("A **backquery** runs the trained network backwards: from a grey input, the input itself (never the "
               "weights) is changed step by step in the direction that raises one class's logit. A small prior "
               "(a random shift of a pixel each step, an occasional blur) keeps it from growing noise. What comes "
               "out is the network's idea of the class: the patterns that excite it most.")
    if target.name == "mlp_sigmoid":
        inverse_ui(target, lock, key)
    n = len(target.classes)
    classes = st.multiselect("Classes", list(range(n)), default=list(range(min(4, n))), key=f"{key}-classes",
                             format_func=lambda c: target.classes[c], max_selections=MAX_VISUAL_CLASSES)
    steps = st.slider("Ascent steps", 8, MAX_VISUAL_STEPS, 64, 8, key=f"{key}-steps",
                      help="each step is one forward and backward pass of the selected classes as a batch")
    if not classes:
        st.info("Choose at least one class.")
        return
    done = job_ui("class_visual", visual_job_config(where, classes, steps), "Visualise", key)
    if done is None:
        return
    vis, result = read_class_visual(done)
    cols = st.columns(min(4, len(vis.targets)))
    for i, (cls, name) in enumerate(zip(vis.targets, result["class_names"])):
        image = fig.display_input(vis.images[i], result["input_kind"])
        cols[i % len(cols)].image(image, width="stretch",
                                  caption=f"{name}: p = {vis.end_probs[i]:.0%} (logit {vis.start_logits[i]:.2f} → "
                                          f"{vis.end_logits[i]:.2f})")
    from core.inspect.visual import not_reached_note

    note = not_reached_note(vis, result["class_names"], int(result.get("steps") or steps), MAX_VISUAL_STEPS)
    if note:
        st.warning(note, icon="🎯")
    st.plotly_chart(fig.logit_bars(result["class_names"], vis.start_logits, vis.end_logits), key=f"{key}-bars")


def inverse_ui(target, lock, key: str) -> None:
    """The sigmoid MLP run backwards exactly: pseudo-inverse of each linear layer, logit of each sigmoid."""
    from core.inspect import invert_mlp

    st.markdown("**Exact inverse** (the notes' sigmoid MLP): each linear layer is solved with its pseudo-inverse "
                "and each sigmoid undone with log(y / (1 − y)), from the wanted logits back to an input.")
    c1, c2 = st.columns(2)
    cls = c1.selectbox("Class", range(len(target.classes)), format_func=lambda c: target.classes[c],
                       key=f"{key}-inv-class")
    margin = c2.slider("Wanted logit margin", 0.5, 10.0, 2.0, 0.5, key=f"{key}-inv-margin")
    with lock:
        inv = invert_mlp(target.model, cls, tuple(target.input_shape), margin=margin)
    lo, hi = float(inv.image.min()), float(inv.image.max())
    shown = (inv.image - lo) / max(hi - lo, 1e-12)
    st.image(fig.enlarge(fig.to_display(shown, "image"), 160), width=160,
             caption=f"values {lo:.2f} … {hi:.2f} scaled to grey")
    if inv.exact:
        st.success("Exact: the network maps this input to the wanted logits.")
    else:
        st.warning(f"Not exact: {inv.clipped} hidden values fell outside (0, 1), where a sigmoid cannot reach, and "
                   "were squeezed back, or a layer is wider than its input. Logits obtained: "
                   + ", ".join(f"{v:.2f}" for v in inv.logits.tolist()))


# ---- export ----------------------------------------------------------------------------------------------------
def export_view(where: str, target, key: str) -> None:
    """Choose a format, export in a worker, see the check, download the files."""
    if where.startswith("imagenet:"):
        st.info("Export is for the lab's own runs: pick a training run above.")
        return
    fmt = st.radio("Format", list(FORMATS), format_func=LABELS.get, horizontal=True, key=f"{key}-format")
    st.caption({"state_dict": "A plain state_dict (`model.load_state_dict(torch.load(f, weights_only=True))`) and "
                              "a Python file that defines the architecture without the lab: "
                              "`from <file> import load_model`.",
                "torchscript": "`torch.jit.load(f)`: runs without Python class definitions (C++ too).",
                "exported": "`torch.export.load(f).module()`: the graph torch.export captured, batch size dynamic.",
                "onnx": "`onnxruntime.InferenceSession(f)`: for other runtimes and languages."}[fmt])
    missing = missing_packages(fmt)
    if missing:
        st.error(f"{LABELS[fmt]} export needs {', '.join(missing)}, which is not installed here "
                 f"(`pip install {' '.join(missing)}`).")
        return
    done = job_ui("export", export_job_config(where, fmt), "Export and check", key)
    if done is None:
        return
    result = read_result(done)
    (st.success if result["ok"] else st.error)(result["message"] + ".")
    for note in result.get("notes") or []:
        st.caption(note)
    for i, path in enumerate(result["files"]):
        path = Path(path)
        if path.is_file():
            st.download_button(f"Download {path.name}", path.read_bytes(), file_name=path.name,
                               key=f"{key}-dl-{i}", on_click="ignore")
