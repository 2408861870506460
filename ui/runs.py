"""Showing one run from the run store: the live view (a polling fragment), resume, the results of a finished run.
(The list of runs, the overlay of several and deleting are in ui.run_list.)

Everything here reads the store, so what it shows survives a browser refresh, a second tab or an app restart.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.train.store import ACTIVE, RunInfo, RunStore
from core.train.pace import duration_text, pace
from ui import debug_ui
from ui import train_figures as tf
from ui.jobs import launch_ui, outcome, queue_line, stop_button, watch

HEATMAP_COLUMNS = 300  # the layer x step heatmap shows at most this many recorded steps (evenly spread)
STATUS_ICONS = {"queued": "⏳", "running": "🏃", "finished": "✅", "stopped": "⏹️", "failed": "❌", "interrupted": "⚠️"}


def progress(info: RunInfo, steps: pd.DataFrame | None = None) -> tuple[float, str]:
    """Share of the whole run done (0..1) and a one-line description: steps of the whole run, the epoch (counted
    from 1), seconds per step and the time left (from the recorded ``steps`` and their times, when given)."""
    done = info.last_step + 1  # steps taken
    if done == 0 and info.progress_total and info.progress_text:  # a phase before the first step (feature caching)
        return min(1.0, (info.progress_done or 0) / info.progress_total), info.progress_text
    if not info.total_steps:  # no plan announced: count epochs
        frac = info.epochs_done / info.epochs if info.epochs else 0.0
        return min(1.0, frac), f"epoch {info.epochs_done}/{info.epochs} done, step {done}"
    ends = None if steps is None or steps.empty else [(int(r.step), float(r.time)) for r in
                                                      (steps.iloc[0], steps.iloc[-1])]
    p = pace(done, info.total_steps, *(ends or (None, None)))
    text = f"step {done}/{info.total_steps}"
    if info.steps_per_epoch:
        text += f" · epoch {min(info.epochs, max(done - 1, 0) // info.steps_per_epoch + 1)}/{info.epochs}"
    if p.seconds_per_step is not None:
        text += f" · {p.seconds_per_step:.2f} s/step"
        if info.status in ACTIVE and p.seconds_left is not None:
            text += f" · about {duration_text(p.seconds_left)} left"
    return p.fraction, text


def scroll_to(anchor: str, nonce: str, seconds: float = 15.0) -> None:
    """Bring the element with id ``anchor`` (a heading's anchor) to the top of the browser window and keep it there
    for ``seconds`` while the content below it grows (the browser's scroll anchoring would otherwise follow the
    content below), unless the user scrolls, clicks or types first. ``nonce`` makes each request a new element."""
    import streamlit.components.v1 as components

    components.html(f"""<script>/* {nonce} */
    const doc = window.parent.document;
    let user = false;
    for (const e of ["wheel", "touchstart", "keydown", "mousedown"])
      doc.addEventListener(e, () => {{ user = true; }}, {{once: true, capture: true}});
    const t0 = Date.now();
    const timer = setInterval(() => {{
      if (user || Date.now() - t0 > {seconds * 1000:.0f}) return clearInterval(timer);
      doc.getElementById({anchor!r})?.scrollIntoView({{block: "start"}});
    }}, 250);
    </script>""", height=0)


def _one_based(epochs: pd.DataFrame) -> pd.DataFrame:
    """Epoch numbers as people count them (the store counts from 0, like the trainer)."""
    return epochs.assign(epoch=epochs["epoch"] + 1)


def _status_line(store: RunStore, info: RunInfo, steps: pd.DataFrame) -> None:
    icon = STATUS_ICONS.get(info.status, "")
    acc = "" if info.best_val_acc is None else f" · best val acc **{info.best_val_acc:.1%}**"
    st.markdown(f"{icon} **{info.status}** · `{info.name}` · {info.model} on {info.data}{acc}")
    if info.status == "queued":
        queue_line(info.run_dir)
    frac, text = progress(info, steps)
    st.progress(frac, text=text)
    outcome(store, info)


def _incremental(store: RunStore, table: str) -> pd.DataFrame:
    """``store.steps()`` / ``store.activations()``, reading only rows newer than the last poll of this session."""
    cache_key = f"_runs-cache-{table}-{store.run_dir}"
    old = st.session_state.get(cache_key)
    since = int(old["step"].iloc[-1]) if old is not None and not old.empty else -1
    new = getattr(store, table)(since_step=since)
    df = new if old is None or old.empty else (old if new.empty else pd.concat([old, new], ignore_index=True))
    st.session_state[cache_key] = df
    return df


def _curves(store: RunStore, steps: pd.DataFrame, key: str) -> None:
    epochs = store.epochs()
    smoothing = st.radio("Smoothing", tf.SMOOTHINGS, horizontal=True, key=f"{key}-smooth")
    if steps.empty and epochs.empty:
        st.info("Waiting for the first training steps...")
        return
    c1, c2 = st.columns(2)
    c1.plotly_chart(tf.loss_figure(steps, epochs, smoothing), key=f"{key}-loss", width="stretch")
    c1.plotly_chart(tf.lr_figure(steps), key=f"{key}-lr", width="stretch")
    if epochs.empty:  # no empty accuracy chart / table: say when they come
        c2.info("Accuracy and the per-epoch table appear once the first epoch has been validated."
                if store.info().status in ACTIVE else "No epoch was completed, so there is no accuracy to show.")
        return
    c2.plotly_chart(tf.accuracy_figure(_one_based(epochs)), key=f"{key}-acc", width="stretch")
    c2.dataframe(_one_based(epochs), hide_index=True, key=f"{key}-epochs",
                 column_config={"lr": st.column_config.NumberColumn(format="%.2e")})  # not 0.0000002
    _overfitting(store, epochs)


def _overfitting(store: RunStore, epochs: pd.DataFrame) -> None:
    """The run's overfitting (core.train.overfit), in sight under the curves, with what to try."""
    from core.train.overfit import overfitting

    found = overfitting(epochs.to_dict("records"), int(store.config().get("early_stop") or 0))
    if found is not None:
        st.warning(found.message + "\n\n" + "\n".join(f"- {tip}" for tip in found.advice), icon="📈")


def _activations(store: RunStore, key: str) -> None:
    acts = _incremental(store, "activations")
    if acts.empty:
        return
    st.subheader("Inside the network")
    st.plotly_chart(tf.activation_figure(acts), key=f"{key}-actfig", width="stretch")
    stat = st.radio("Heatmap of", ("std", "frac_zero", "mean", "grad_norm"), horizontal=True, key=f"{key}-stat",
                    help="frac_zero: share of outputs near zero; a layer near 1 has mostly dead units")
    shown = acts[acts["step"].isin(tf.thin(acts["step"].drop_duplicates(), HEATMAP_COLUMNS))]
    st.plotly_chart(tf.activation_heatmap(shown, stat), key=f"{key}-heat", width="stretch")


def live_view(run_dir: str | Path, key: str = "live") -> str:
    """Status, progress, Stop, curves and activation statistics of one run, in the page's job watcher
    (ui.jobs.watch: polls while the run is active, draws the final state itself); returns the status drawn."""
    from ui.session import owner_caption

    def _view(store: RunStore, info: RunInfo) -> None:
        steps = _incremental(store, "steps")
        _status_line(store, info, steps)
        owner_caption(info)
        stop_button(store, info, key, unit="batch")
        _curves(store, steps, key)
        _activations(store, key)
        debug_ui.gradients_view(store, f"{key}-grads")
        if info.status in ACTIVE:
            debug_ui.device_panel(f"{key}-device", store)

    return watch(run_dir, key, _view, status=False)


# ---- after a run: results from the checkpoint -----------------------------------------------------------------
@st.cache_resource(max_entries=4, show_spinner="Evaluating the trained model on the validation split...")
def _evaluated(run_dir: str, checkpoint_mtime: float, _bundle=None):
    """(model, bundle, evaluation) of a run's checkpoint; cached per checkpoint version, read-only afterwards."""
    from core.train.evaluate import evaluate, load_run_model

    model, bundle = load_run_model(run_dir, _bundle)
    return model, bundle, evaluate(model, bundle)


def _run_bundle(run_dir: str | Path):
    """The run's data from the shared cache (the Datasets page's), unless the run used special load options."""
    from ui.data_ui import load_bundle_ui

    cfg = RunStore.open(run_dir).config()
    return None if cfg.get("data_opts") else load_bundle_ui(cfg["data"])


def _example(bundle, index: int, caption: str, where) -> None:
    """Show validation example ``index`` (image at original size, audio player, or the sentence) with the file it
    came from, so a mistake can be found (and fixed) in the data."""
    ds = bundle.splits["val"]
    if bundle.kind == "text":
        source = getattr(ds, "sources", None)
        origin = f" · from `{source[index]}`" if source and len(set(source)) > 1 else ""
        where.markdown(f"> {ds.texts[index]}\n\n{caption}{origin}")
    elif bundle.kind == "audio":
        where.audio(str(ds.paths[index]))
        where.caption(f"`{Path(ds.paths[index]).name}` · {caption}")
    else:
        from ui.data_figures import thumbnail

        where.image(thumbnail(ds.paths[index], 96), caption=f"{Path(ds.paths[index]).name} · {caption}")


def _mistakes(bundle, ev, key: str) -> None:
    wrong = ev.most_confident_wrong(12)
    if not wrong:
        st.success("No validation example is misclassified.")
        return
    cols = st.columns(4)
    for i, m in enumerate(wrong):
        caption = f"true: {ev.classes[m.true]} · predicted: {ev.classes[m.pred]} ({m.confidence:.0%})"
        _example(bundle, m.index, caption, cols[i % 4])


def _probabilities(model, bundle, item, upload):
    """Class probabilities for a sentence (``item``) or an uploaded file (read from a temporary copy)."""
    import tempfile

    from core.train.evaluate import predict_one

    if upload is None:
        return predict_one(model, bundle, item)
    with tempfile.NamedTemporaryFile(suffix=Path(upload.name).suffix) as f:  # removed when done
        f.write(upload.getvalue())
        f.flush()
        try:
            return predict_one(model, bundle, f.name)
        except Exception as err:  # noqa: BLE001 - re-raised with the user's file name, not the temporary one
            raise ValueError(str(err).replace(f.name, upload.name)) from err


def _predict(model, bundle, key: str) -> None:
    item, upload = None, None
    if bundle.kind == "text":
        item = st.text_input("A sentence to classify", key=f"{key}-sentence")
    else:
        types = ["png", "jpg", "jpeg", "bmp", "gif", "webp"] if bundle.kind == "image" else \
            ["wav", "flac", "ogg", "mp3"]
        upload = st.file_uploader(f"An {bundle.kind} file to classify", type=types, key=f"{key}-upload")
    if not item and upload is None:
        return
    try:
        probs = _probabilities(model, bundle, item, upload)
    except Exception as err:  # noqa: BLE001 - an unreadable upload must not break the page
        what = f"{upload.name} as {'an audio clip' if bundle.kind == 'audio' else 'an image'}" if upload else "that"
        st.error(f"Could not read {what}: {err}")
        return
    if upload is not None:  # what was classified, next to the answer (read fine: the model just did)
        if bundle.kind == "image":
            import io

            from ui.data_figures import thumbnail

            st.image(thumbnail(io.BytesIO(upload.getvalue()), 128), caption=upload.name)  # 8 px digits enlarged
        else:
            st.audio(upload.getvalue())
            st.caption(upload.name)
    top = int(probs.argmax())
    st.markdown(f"Prediction: **{bundle.classes[top]}** ({probs[top]:.1%})")
    st.plotly_chart(tf.probabilities_figure(probs, list(bundle.classes)), key=f"{key}-probs")


def _summary(model, run_dir) -> None:
    from core.train.evaluate import model_summary, run_freezing

    rows = model_summary(model)
    total = sum(r.params for r in rows)
    store = RunStore.open(run_dir)
    freezing = run_freezing(model, store.config(), store.info().epochs_done)  # what the run did, from its config
    trained = total - freezing.never_trained
    st.markdown(f"**{total:,}** parameters, **{trained:,}** of them trained by the run: {freezing.text()}.")
    table = pd.DataFrame([r.__dict__ for r in rows])
    if not freezing.backbone:
        table = table.drop(columns="frozen_while_freezing")
    st.dataframe(table, hide_index=True)


def resume_button(run_dir: str | Path, key: str = "resume", owner: str | None = None) -> Path | None:
    """For a stopped / interrupted / failed run with a last checkpoint: a button that continues it as a new run.

    Returns the new run directory when clicked (the caller shows it), else None. ``owner`` owns the new run.
    """
    from core.train import TrainConfig
    from core.train.worker import launch
    from ui.session import may_control

    info = RunStore.open(run_dir).info()
    last = Path(run_dir) / "checkpoints" / "last.pt"
    if info.status not in ("stopped", "interrupted", "failed") or not last.is_file() or not may_control(info):
        return None  # (someone else's run is read-only here: core.access.can_control)
    if not st.button("Resume from the last checkpoint", key=f"{key}-btn",
                     help="a new run that continues this one's model, optimizer and schedule"):
        return None
    cfg = RunStore.open(run_dir).config()
    cfg.pop("runs_dir", None)
    return launch_ui(lambda: launch(TrainConfig.from_dict(cfg).replace(resume_from=str(run_dir)),
                                    runs_dir=Path(run_dir).parent, owner=owner), "Cannot resume")


def results_view(run_dir: str | Path, key: str = "results") -> None:
    """Confusion matrix, per-class accuracy, confident mistakes, predict, model summary, downloads."""
    from core.train.evaluate import checkpoint_path

    path = checkpoint_path(run_dir)
    if path is None:
        st.info("This run saved no checkpoint, so there is nothing to evaluate.")
        return
    try:
        model, bundle, ev = _evaluated(str(run_dir), path.stat().st_mtime, _run_bundle(run_dir))
    except Exception as err:  # noqa: BLE001 - missing data, changed code: say so, keep the page alive
        st.warning(f"Could not reload this run's model for evaluation: {err}")
        return
    st.caption(f"Checkpoint `{path.name}`: validation accuracy {ev.accuracy:.1%} on {len(ev.targets)} examples.")
    view = _view_picker(f"{key}-view")
    if view == "Confusion matrix":
        st.plotly_chart(tf.confusion_figure(ev.confusion(), ev.classes), key=f"{key}-cm")
    elif view == "Per class":
        st.plotly_chart(tf.per_class_figure(ev.per_class_accuracy(), ev.classes), key=f"{key}-pc")
    elif view == "Confident mistakes":
        _mistakes(bundle, ev, key)
    elif view == "Predict":
        _predict(model, bundle, key)
    elif view == "Model":
        _summary(model, run_dir)
    else:
        _download(model, path, Path(run_dir), key)


def _download(model, path: Path, run_dir: Path, key: str) -> None:
    """The model to take away (plain state_dict, the Python file that rebuilds it), and the training checkpoint,
    read from disk only when the user asks for it (not on every rerun)."""
    from ui.model_downloads import model_downloads

    model_downloads(run_dir, model, key)
    st.markdown(f"`{path.name}` is a **training checkpoint**: a dict with the model's weights under `\"model\"`, "
                "the optimizer and schedule state (to resume), the run's config and the epoch.")
    st.code('ckpt = torch.load(f, weights_only=True)\nmodel.load_state_dict(ckpt["model"])', language="python")

    @st.fragment
    def _button() -> None:
        if st.button(f"Prepare {path.name} ({path.stat().st_size / 2**20:.1f} MB) for download", key=f"{key}-prep"):
            st.download_button(f"Download the full training checkpoint ({path.name}: weights, optimizer, schedule)",
                               path.read_bytes(), file_name=f"{run_dir.name}-{path.name}", key=f"{key}-dl",
                               on_click="ignore", help="for resuming training: a dict whose ['model'] is the "
                                                       "state_dict; torch.load(f, weights_only=True)")

    _button()


RESULT_VIEWS = ("Confusion matrix", "Per class", "Confident mistakes", "Predict", "Model", "Download")


def _view_picker(key: str) -> str:
    """Which result view to show: a keyed radio, so an upload or a typed sentence (a rerun) keeps the user on the
    view they chose (st.tabs forgets it and jumps back to the first tab)."""
    return st.radio("Result view", RESULT_VIEWS, horizontal=True, key=key, label_visibility="collapsed")
