"""Showing runs from the run store: the live view (a polling fragment), the runs table, the overlay of runs.

Everything here reads the store, so what it shows survives a browser refresh, a second tab or an app restart.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import streamlit as st

from core.train.store import ACTIVE, RunInfo, RunStore, list_runs
from ui import train_figures as tf

POLL_SECONDS = 2.0  # how often the live view re-reads an active run
HEATMAP_COLUMNS = 300  # the layer x step heatmap shows at most this many recorded steps (evenly spread)
STATUS_ICONS = {"queued": "⏳", "running": "🏃", "finished": "✅", "stopped": "⏹️", "failed": "❌", "interrupted": "⚠️"}


def runs_table(runs: list[RunInfo]) -> pd.DataFrame:
    """The runs as a DataFrame for st.dataframe: status, data, model, epochs, best val acc, duration, started."""
    return pd.DataFrame({
        "run": [r.name for r in runs],
        "status": [f"{STATUS_ICONS.get(r.status, '')} {r.status}" for r in runs],
        "data": [r.data for r in runs],
        "model": [r.model for r in runs],
        "epochs": [f"{r.epochs_done}/{r.epochs}" for r in runs],
        "best val acc": [r.best_val_acc for r in runs],
        "duration (s)": [None if r.duration is None else round(r.duration, 1) for r in runs],
        "started": [None if r.started is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started))
                    for r in runs],
    })


def progress(info: RunInfo) -> tuple[float, str]:
    """Fraction done within the current epoch (0..1) and a one-line description (epochs counted from 1)."""
    step = info.last_step + 1  # steps taken
    spe = info.steps_per_epoch
    if spe:
        epoch = (step - 1) // spe if step > 0 else 0  # 0-based epoch of the last step
        within = step - epoch * spe
        return min(1.0, within / spe), f"epoch {epoch + 1}/{info.epochs}, batch {within}/{spe} (step {step})"
    frac = info.epochs_done / info.epochs if info.epochs else 0.0
    return min(1.0, frac), f"epoch {info.epochs_done}/{info.epochs} done, step {step}"


def _one_based(epochs: pd.DataFrame) -> pd.DataFrame:
    """Epoch numbers as people count them (the store counts from 0, like the trainer)."""
    return epochs.assign(epoch=epochs["epoch"] + 1)


def _status_line(store: RunStore, info: RunInfo) -> None:
    icon = STATUS_ICONS.get(info.status, "")
    acc = "" if info.best_val_acc is None else f" · best val acc **{info.best_val_acc:.1%}**"
    st.markdown(f"{icon} **{info.status}** · `{info.name}` · {info.model} on {info.data}{acc}")
    frac, text = progress(info)
    st.progress(frac, text=text)
    if info.status == "failed":
        st.error(f"The run failed: {info.error}")
    elif info.status == "interrupted":
        st.warning("The worker stopped without saying so (killed, out of memory, or the machine restarted). "
                   "Everything it recorded up to then is shown.")
    if info.status in ("failed", "interrupted"):
        from core.train.worker import log_tail

        tail = log_tail(info.run_dir)
        if tail.strip():
            with st.expander("Worker log (last lines)"):
                st.code(tail, language=None)
    for _, note in store.notes().iterrows():
        (st.warning if note.level == "warning" else st.info)(note.message)


def _stop_button(store: RunStore, info: RunInfo, key: str) -> None:
    if info.status not in ACTIVE:
        return
    if info.stop_requested:
        st.caption("Stop requested; the run stops after the current batch.")
    elif st.button("Stop", key=f"{key}-stop", type="secondary", help="stops after the current batch"):
        store.request_stop()
        st.caption("Stop requested; the run stops after the current batch.")


def _incremental(store: RunStore, table: str) -> pd.DataFrame:
    """``store.steps()`` / ``store.activations()``, reading only rows newer than the last poll of this session."""
    cache_key = f"_runs-cache-{table}-{store.run_dir}"
    old = st.session_state.get(cache_key)
    since = int(old["step"].iloc[-1]) if old is not None and not old.empty else -1
    new = getattr(store, table)(since_step=since)
    df = new if old is None or old.empty else (old if new.empty else pd.concat([old, new], ignore_index=True))
    st.session_state[cache_key] = df
    return df


def _curves(store: RunStore, key: str) -> None:
    steps, epochs = _incremental(store, "steps"), store.epochs()
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


def live_view(run_dir: str | Path, key: str = "live") -> None:
    """Status, progress, Stop, curves and activation statistics of one run; polls while the run is active."""
    store = RunStore.open(run_dir)
    active = store.info().status in ACTIVE

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def _view() -> None:
        info = store.info()
        _status_line(store, info)
        _stop_button(store, info, key)
        _curves(store, key)
        _activations(store, key)
        if active and info.status not in ACTIVE:
            st.rerun()  # the run just ended: rerun the page once, which stops the polling and shows results

    _view()


def overlay_view(runs: list[RunInfo], key: str = "overlay") -> None:
    """Curves of several runs on one chart, metric chosen by the user."""
    metric = st.radio("Compare", ("val_acc", "val_loss", "train_loss", "loss", "lr"), horizontal=True,
                      key=f"{key}-metric", help="loss / lr: per step; the others per epoch",
                      format_func=lambda m: tf.METRIC_NAMES.get(m, m))
    stores = {f"{r.name}": RunStore.open(r.run_dir) for r in runs}
    curves = {label: (s.steps() if metric in ("loss", "lr") else _one_based(s.epochs()))
              for label, s in stores.items()}
    st.plotly_chart(tf.overlay_figure(curves, metric), key=f"{key}-fig", width="stretch")


def runs_browser(runs_dir=None, key: str = "runs") -> None:
    """The runs table (re-read every few seconds while a run is active) with multi-row selection; two or more
    selected runs are overlaid."""
    active = any(r.status in ACTIVE for r in list_runs(runs_dir))

    @st.fragment(run_every=POLL_SECONDS * 2 if active else None)
    def _browser() -> None:
        runs = list_runs(runs_dir)
        if not runs:
            st.info("No runs yet: start one above.")
            return
        event = st.dataframe(runs_table(runs), hide_index=True, key=f"{key}-table", on_select="rerun",
                             selection_mode="multi-row", width="stretch",
                             column_config={"best val acc": st.column_config.NumberColumn(format="percent")})
        chosen = [runs[i] for i in event.selection.rows if i < len(runs)] if event is not None else []
        if len(chosen) >= 2:
            overlay_view(chosen, key=f"{key}-overlay")
        else:
            st.caption("Select two or more rows to overlay their curves.")

    _browser()


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
    """Show validation example ``index`` (image at original size, audio player, or the sentence)."""
    ds = bundle.splits["val"]
    if bundle.kind == "text":
        where.markdown(f"> {ds.texts[index]}\n\n{caption}")
    elif bundle.kind == "audio":
        where.audio(str(ds.paths[index]))
        where.caption(caption)
    else:
        from ui.data_figures import thumbnail

        where.image(thumbnail(ds.paths[index], 96), caption=caption)


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
    top = int(probs.argmax())
    st.markdown(f"Prediction: **{bundle.classes[top]}** ({probs[top]:.1%})")
    st.plotly_chart(tf.probabilities_figure(probs, list(bundle.classes)), key=f"{key}-probs")


def _summary(model, freeze_epochs: int) -> None:
    from core.train.evaluate import model_summary

    rows = model_summary(model)
    total = sum(r.params for r in rows)
    frozen = sum(r.params for r in rows if r.frozen_while_freezing)
    text = f"**{total:,}** parameters, all trained at the end of the run."
    if freeze_epochs:
        text += (f" During the first {freeze_epochs} epoch(s) the backbone (**{frozen:,}**) was frozen and only the "
                 f"head (**{total - frozen:,}**) trained.")
    st.markdown(text)
    table = pd.DataFrame([r.__dict__ for r in rows])
    if not freeze_epochs:
        table = table.drop(columns="frozen_while_freezing")
    st.dataframe(table, hide_index=True)


def resume_button(run_dir: str | Path, key: str = "resume") -> Path | None:
    """For a stopped / interrupted / failed run with a last checkpoint: a button that continues it as a new run.

    Returns the new run directory when clicked (the caller shows it), else None.
    """
    from core.train import TrainConfig
    from core.train.worker import launch

    info = RunStore.open(run_dir).info()
    last = Path(run_dir) / "checkpoints" / "last.pt"
    if info.status not in ("stopped", "interrupted", "failed") or not last.is_file():
        return None
    if not st.button("Resume from the last checkpoint", key=f"{key}-btn",
                     help="a new run that continues this one's model, optimizer and schedule"):
        return None
    cfg = RunStore.open(run_dir).config()
    cfg.pop("runs_dir", None)
    try:
        return launch(TrainConfig.from_dict(cfg).replace(resume_from=str(run_dir)), runs_dir=Path(run_dir).parent)
    except ValueError as err:
        st.error(f"Cannot resume: {err}")
        return None


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
    tabs = st.tabs(["Confusion matrix", "Per class", "Confident mistakes", "Predict", "Model", "Download"])
    with tabs[0]:
        st.plotly_chart(tf.confusion_figure(ev.confusion(), ev.classes), key=f"{key}-cm")
    with tabs[1]:
        st.plotly_chart(tf.per_class_figure(ev.per_class_accuracy(), ev.classes), key=f"{key}-pc")
    with tabs[2]:
        _mistakes(bundle, ev, key)
    with tabs[3]:
        _predict(model, bundle, key)
    with tabs[4]:
        _summary(model, int(RunStore.open(run_dir).config().get("freeze_epochs") or 0))
    with tabs[5]:
        from ui.model_downloads import model_downloads

        model_downloads(run_dir, path, model, key)
