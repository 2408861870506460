"""The Inspect page's long work, run as jobs (core.inspect.jobs): class visualisation and export.

A job is started with a button and followed in the page's job watcher (ui.jobs.watch), which draws its result
itself once it has finished; the page is bound to the job its session started (run id in session state and the
URL), so a reload finds it again and a classmate's job with the same settings is never shown instead.
"""

import json
from pathlib import Path
from typing import Callable

import streamlit as st

from core.inspect.export import FORMATS, LABELS, missing_packages
from core.inspect.jobs import (MAX_VISUAL_CLASSES, MAX_VISUAL_STEPS, export_job_config, export_problems,
                               read_class_visual, visual_job_config)
from core.jobs import launch, read_result
from core.train.run_info import ACTIVE
from core.train.store import RunStore
from ui import inspect_figures as fig
from ui.jobs import bind_job, bound_job, launch_ui, watch
from ui.session import current_user, my_runs



def _same(config: dict, run_dir: Path) -> bool:
    try:
        stored = RunStore.open(run_dir).config()
    except FileNotFoundError:
        return False
    return json.dumps(stored, sort_keys=True) == json.dumps(config, sort_keys=True)


def job_ui(kind: str, config: dict, label: str, key: str,
           result: Callable[[Path], None] | None = None) -> Path | None:
    """A button that launches the job, and the job this session started (bound by its run id: session state and
    the URL), in its watcher (ui.jobs.watch): progress while it runs, then ``result(run_dir)`` drawn inside the
    watcher once it has finished, for the settings it was made with. Returns the finished job's folder (for a
    caller that draws the result itself), else None."""
    jobs = my_runs(kind)
    # this session's own job for these settings (by run id; never a classmate's with the same settings)
    job = bound_job(f"{key}-job", jobs, lambda r: _same(config, r.run_dir))
    busy = job is not None and job.status in ACTIVE
    again = job is not None and job.status == "finished"
    if st.button(f"{label} again" if again else label, key=f"{key}-start", disabled=busy, type="primary"):
        started = launch_ui(lambda: launch(kind, config, owner=current_user()), "Cannot start")
        if started is None:
            return None
        bind_job(f"{key}-job", started.name)
        st.rerun()
    if job is None:
        return None

    def _view(store: RunStore, info) -> None:
        if info.status == "finished" and result is not None:
            result(info.run_dir)

    return job.run_dir if watch(job.run_dir, f"{key}-watch", _view) == "finished" else None


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
    job_ui("class_visual", visual_job_config(where, classes, steps), "Visualise", key,
           lambda done: _visual_result(done, key))


def _visual_result(done: Path, key: str) -> None:
    vis, result = read_class_visual(done)
    cols = st.columns(min(4, len(vis.targets)))
    for i, (cls, name) in enumerate(zip(vis.targets, result["class_names"])):
        image = fig.display_input(vis.images[i], result["input_kind"])
        cols[i % len(cols)].image(image, width="stretch",
                                  caption=f"{name}: p = {vis.end_probs[i]:.0%} (logit {vis.start_logits[i]:.2f} → "
                                          f"{vis.end_logits[i]:.2f})")
    from core.inspect.visual import not_reached_note

    note = not_reached_note(vis, result["class_names"], int(result.get("steps") or RunStore.open(done).config().get("steps") or MAX_VISUAL_STEPS), MAX_VISUAL_STEPS)
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
    labels = {**LABELS, "script": "Python training script"}
    fmt = st.radio("Format", [*FORMATS, "script"], format_func=labels.get, horizontal=True, key=f"{key}-format")
    st.caption({"state_dict": "A plain state_dict (`model.load_state_dict(torch.load(f, weights_only=True))`) and "
                              "a Python file that defines the architecture without the lab: "
                              "`from <file> import load_model`.",
                "exported": "`torch.export.load(f).module()`: the graph torch.export captured, batch size dynamic.",
                "onnx": "`onnxruntime.InferenceSession(f)`: for other runtimes and languages.",
                "script": "Export as Python: the whole run (data, model, augmentation, optimizer, schedule, "
                          "seeded loop, evaluation) as one file that trains it again without the lab, with "
                          "the same losses and accuracy on the same data and CPU."}[fmt])
    if fmt == "script":
        script_export_ui(where, key)
        return
    missing = missing_packages(fmt) if fmt in FORMATS else []
    if missing:
        st.error(f"{LABELS[fmt]} export needs {', '.join(missing)}, which is not installed here "
                 f"(`pip install {' '.join(missing)}`).")
        return
    job_ui("export", export_job_config(where, fmt), "Export and check", key, lambda done: _export_result(done, key))


def _export_result(done: Path, key: str) -> None:
    result = read_result(done)
    (st.success if result["ok"] else st.error)(result["message"] + ".")
    for note in result.get("notes") or []:
        st.caption(note)
    for i, path in enumerate(result["files"]):
        path = Path(path)
        if path.is_file():
            st.download_button(f"Download {path.name}", path.read_bytes(), file_name=path.name,
                               key=f"{key}-dl-{i}", on_click="ignore")


def script_export_ui(run_dir: str, key: str, label: str = "Export and check") -> None:
    """Export as Python: the run as a training script (+ notebook), written by an 'export' job; downloads."""
    problems = export_problems(export_job_config(str(run_dir), "script"))
    if problems:
        st.info("This run cannot be exported as a script: " + "; ".join(problems) + ".")
        return
    done = job_ui("export", export_job_config(str(run_dir), "script"), label, key)
    if done is None:
        return
    result = read_result(done)
    st.success(result["message"] + ".")
    for i, path in enumerate(map(Path, result["files"])):
        if path.is_file():
            st.download_button(f"Download {path.name}", path.read_bytes(), file_name=path.name,
                               key=f"{key}-dl-{i}", on_click="ignore")
