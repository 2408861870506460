"""GAN page widgets: the new-run form (``gan_config_ui`` returns a GanConfig and the data probe), the live view
of a GAN run (losses with the ideal lines, D outputs, progress strip, collapse meter; polls while it trains)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.gan import GanConfig, recommended
from core.gan.data import DataProbe, data_names, describe, probe_data
from core.gan.models import MODELS, names
from core.gan.snapshots import list_snapshots, read_report
from core.train.store import RunInfo, RunStore, list_runs
from ui import gan_figures as gf
from ui.jobs import launch_ui, outcome, queue_line, stop_button, watch
from ui.runs import STATUS_ICONS

REREAD = 200  # steps of the series the live view reads again on each poll (longer than any log_every)
STRIP_FRAMES = 6  # snapshots shown in the progress strip (evenly spread, the last always included)
KIND_WORDS = {"pattern": "the 1010 pattern", "points": "2-D points", "image": "images"}


@st.cache_data(ttl=60, show_spinner="Reading the image headers…")
def cached_probe(source: str, image_size: int) -> DataProbe:
    """``probe_data`` kept for a minute (headers only; a folder that changes is seen again soon)."""
    return probe_data(source, image_size)


def _source_ui(key: str) -> str | None:
    from ui.data_ui import data_source_ui

    choice = st.radio("Data", ["toy:1010", "toy:ring", "images"], horizontal=True, key=f"{key}-data",
                      format_func=lambda s: {"images": "images (built-in or yours)"}.get(s, s),
                      help="; ".join(f"{s}: {describe(s)}" for s in data_names()[:2]))
    if choice != "images":
        st.caption(describe(choice))
        return choice
    return data_source_ui(f"{key}-img", kinds=("image",))


def _switches_ui(key: str, base: GanConfig) -> dict:
    """The four independent improvements of the teaching material, pre-set from ``base``."""
    st.markdown("**The four switches** (each one of the improvements of the plain GAN)")
    c = st.columns(4)
    loss = c[0].radio("Loss", ["mse", "bce"], index=["mse", "bce"].index(base.loss), key=f"{key}-loss",
                      format_func=str.upper,
                      help="MSE: (D - target)²; BCE: log-loss, keeps its gradient when D is sure")
    act = c[1].radio("Hidden activation", ["sigmoid", "leaky_relu"], key=f"{key}-act",
                     index=["sigmoid", "leaky_relu"].index(base.activation),
                     format_func=lambda a: {"sigmoid": "Sigmoid", "leaky_relu": "LeakyReLU"}[a])
    ln = c[2].toggle("LayerNorm", value=base.layer_norm, key=f"{key}-ln",
                     help="after each hidden layer (a DCGAN gets it instead of batch-norm)")
    opt = c[3].radio("Optimizer", ["sgd", "adam"], index=["sgd", "adam"].index(base.optimizer), key=f"{key}-opt",
                     format_func=lambda o: {"sgd": "SGD", "adam": "Adam"}[o])
    return dict(loss=loss, activation=act, layer_norm=ln, optimizer=opt)


def _image_size_ui(key: str, probe: DataProbe) -> int:
    """The side the images are trained at: their own (snapped to a DCGAN size) or one of the DCGAN sizes."""
    from core.gan.data import IMAGE_SIZES

    return st.selectbox("Train the images at", [0, *IMAGE_SIZES], key=f"{key}-size",
                        format_func=lambda s: f"their own size ({probe.size}x{probe.size})" if s == 0 else f"{s}x{s}",
                        help="resizing changes the data; a fixed-size DCGAN must match the size chosen here")


def _judge_ui(key: str, source: str) -> str | None:
    """A finished classifier run on the same data, as the judge of generated images (or none)."""
    judges = [r for r in visible(list_runs(kind="train")) if r.data == source and r.status == "finished"]
    options = [None] + [str(r.run_dir) for r in judges]
    return st.selectbox("Judge (a classifier trained on this data)", options, key=f"{key}-judge",
                        format_func=lambda d: "none" if d is None else f"{Path(d).name}",
                        help="class histogram of the generated images, classes covered and a Frechet distance on "
                             "the judge's features; train one on the Train page")


def gan_config_ui(key: str = "gan") -> tuple[GanConfig | None, DataProbe | None]:
    """Data, model, preset, the four switches, k, LRs, batch, length, judge -> (GanConfig, probe of the data)."""
    source = _source_ui(key)
    if not source:
        st.info("Choose an image data set (or a toy) to configure a run.")
        return None, None
    probe = cached_probe(source, 0)
    if probe.error:
        st.error(f"Cannot use this data: {probe.error}")
        return GanConfig(data=source), probe
    image_size = 0
    if probe.kind == "image":
        image_size = _image_size_ui(key, probe)
        probe = cached_probe(source, image_size)
        st.caption(f"{probe.channels}-channel images, typically {probe.native_size}x{probe.native_size}: "
                   f"trained at {probe.size}x{probe.size}, scaled to [-1, 1]; classes: {', '.join(probe.classes[:12])}")
    left, right = st.columns(2)
    models = names(probe.kind)
    model = left.selectbox("Model", models, key=f"{key}-model-{probe.kind}",
                           format_func=lambda m: f"{m} — {MODELS[m].summary}")
    preset = right.radio("Start from", ["improved", "plain"], horizontal=True, key=f"{key}-preset",
                         help="plain: MSE, sigmoid, no LayerNorm, SGD (the first GAN of the notes); improved: all "
                              "four switches on (a DCGAN: its own recipe, batch-norm, Adam 2e-4, betas 0.5/0.999)")
    base = recommended(source, model, preset)
    k = f"{key}-{source}-{model}-{preset}"  # widgets start again from the preset when any of these change
    switches = _switches_ui(k, base)
    c = st.columns(5)
    d_steps = c[0].number_input("k (D steps per G step)", 1, 10, base.d_steps, key=f"{k}-k")
    lr_g = c[1].number_input("LR generator", 1e-6, 1.0, base.lr_g, format="%.1e", key=f"{k}-lrg")
    lr_d = c[2].number_input("LR discriminator", 1e-6, 1.0, base.lr_d, format="%.1e", key=f"{k}-lrd")
    batch = c[3].number_input("Batch size", 1, 4096, base.batch_size, key=f"{k}-bs")
    epochs = c[4].number_input("Epochs", 1, 10_000, base.epochs, key=f"{k}-ep")
    extra = {}
    with st.expander("More settings"):
        a = st.columns(4)
        extra["max_steps"] = a[0].number_input("Max steps (0: all epochs)", 0, 1_000_000, 0, key=f"{k}-ms")
        extra["snapshot_every"] = a[1].number_input("Snapshot every N steps", 1, 100_000, base.snapshot_every,
                                                    key=f"{k}-snap")
        extra["seed"] = a[2].number_input("Seed", 0, 2**31 - 1, 0, key=f"{k}-seed")
        if source == "toy:1010":
            extra["noise_input"] = a[3].toggle("Random noise input", False, key=f"{k}-noise",
                                               help="off: the generator is fed the constant 0.5, as in the exercise")
        if probe.kind == "image":
            extra["judge"] = _judge_ui(k, source)
    config = base.replace(**switches, image_size=image_size, d_steps=int(d_steps), lr_g=float(lr_g), lr_d=float(lr_d),
                          batch_size=int(batch), epochs=int(epochs), **extra)
    on = [n for n, v in config.improvements().items() if v]
    st.caption(f"{len(on)} of 4 improvements on" + (f": {', '.join(on)}" if on else " — the plain GAN"))
    return config, probe


def visible(runs: list[RunInfo]) -> list[RunInfo]:
    """The runs this session may see (its own and runs on shared data; a teacher sees all)."""
    from core.access import visible_runs
    from ui.session import current_user, is_teacher

    return visible_runs(runs, current_user(), teacher=is_teacher())


def gan_runs(runs_dir=None) -> list[RunInfo]:
    """The GAN runs this session may see, newest first."""
    return visible(list_runs(runs_dir, kind="gan"))


# ---- a run: live view ---------------------------------------------------------------------------------------
def _status_line(store: RunStore, info: RunInfo) -> None:
    icon = STATUS_ICONS.get(info.status, "")
    st.markdown(f"{icon} **{info.status}** · `{info.name}` · {info.model} on {info.data}")
    step = info.last_step + 1
    total = info.total_steps or 0
    st.progress(min(1.0, step / total) if total else 0.0, text=f"step {step}/{total}" if total else f"step {step}")
    if info.status == "queued":
        queue_line(info.run_dir)
    outcome(store, info)


def _series(store: RunStore) -> pd.DataFrame:
    """The run's per-step scalars, re-reading only the last ``REREAD`` steps of this session's previous poll (a
    step's series and its collapse figures can reach the store in different flushes)."""
    cache_key = f"_gan-scalars-{store.run_dir}"
    old = st.session_state.get(cache_key)
    since = int(old["step"].iloc[-1]) - REREAD if old is not None and not old.empty else -1
    new = store.scalars(since_step=since)
    df = new if since < 0 else pd.concat([old[old["step"] <= since], new], ignore_index=True)
    st.session_state[cache_key] = df
    return df


def _charts(series: pd.DataFrame, loss: str, key: str) -> None:
    steps = series.dropna(subset=["g_loss"]) if "g_loss" in series else series.iloc[0:0]
    if steps.empty:
        st.info("Waiting for the first training steps…")
        return
    c = st.columns([2, 2, 1])
    summed = c[2].toggle("D losses summed", key=f"{key}-sum", help="real + fake in one line (ideal 2 ln 2 for BCE)")
    smooth = c[2].toggle("Smooth", value=True, key=f"{key}-smooth")
    c[0].plotly_chart(gf.loss_figure(steps, loss, summed, smooth), key=f"{key}-loss", width="stretch")
    c[1].plotly_chart(gf.d_output_figure(steps, smooth), key=f"{key}-dout", width="stretch")


def _strip(run_dir: Path, kind: str, key: str) -> None:
    snaps = list_snapshots(run_dir)
    if not snaps:
        return
    st.markdown("**Progress strip** — the same seeds, rendered as training goes on")
    idx = sorted(set(np.linspace(0, len(snaps) - 1, min(STRIP_FRAMES, len(snaps))).round().astype(int)))
    shown = [snaps[i] for i in idx]
    if kind == "image":
        cols = st.columns(STRIP_FRAMES)  # always as many columns: a short strip keeps small pictures
        for col, s in zip(cols, shown):
            col.image(str(s.path), caption=f"step {s.step}", width="stretch")
    elif kind == "points":
        real = ring_sample()
        st.plotly_chart(gf.ring_figure([(s.step, s.values()) for s in shown], real), key=f"{key}-ring",
                        width="stretch")
    else:
        st.plotly_chart(gf.pattern_strip([(s.step, s.values()) for s in snaps[-12:]]), key=f"{key}-pattern",
                        width="stretch")


@st.cache_data
def ring_sample(n: int = 1000) -> np.ndarray:
    """Real ring points to draw faintly behind the generated ones."""
    import torch

    from core.gan.data import load_gan_data

    return load_gan_data("toy:ring", samples=n, generator=torch.Generator().manual_seed(0)).values.numpy()


def collapse_meter(run_dir: Path, series: pd.DataFrame, key: str) -> None:
    """The meter, the verdict in plain words, what to try, and the figure over time (modes / classes covered)."""
    report = read_report(run_dir)
    if report is None:
        return
    st.markdown(f"**Is it collapsing?** (measured at step {report.step} on {report.samples} samples)")
    c = st.columns([1, 2])
    label, column, total = _meter_label(report)
    c[0].plotly_chart(gf.meter_figure(report.score, report.level, label), key=f"{key}-meter", width="stretch")
    with c[1]:
        {"ok": st.success, "warning": st.warning, "error": st.error, "early": st.info}[report.level](report.verdict)
        for tip in report.advice:
            st.markdown(f"- {tip}")
        if report.frechet_distance is not None:
            st.caption(f"Frechet distance on the judge's features: {report.frechet_distance:.2f} (lower is closer "
                       "to the real images)")
    if column:
        st.plotly_chart(gf.coverage_figure(series, column, total, label), key=f"{key}-cov", width="stretch")
    if report.class_histogram:
        st.plotly_chart(gf.class_histogram_figure(report.classes, report.class_histogram), key=f"{key}-hist",
                        width="stretch")


def _meter_label(report) -> tuple[str, str | None, int | None]:
    if report.kind == "points":
        return f"modes covered: {report.modes_covered} of {report.modes_total}", "modes_covered", report.modes_total
    if report.classes_covered is not None:
        return (f"classes covered: {report.classes_covered} of {len(report.classes)}", "classes_covered",
                len(report.classes))
    if report.kind == "image":
        return "variety vs the real images", "diversity_ratio", 1
    return "closeness to 1 0 1 0", "pattern_error", None


def live_view(run_dir: str | Path, key: str = "gan-live") -> str:
    """Status, Stop, the charts, the progress strip and the collapse meter of a GAN run, in the page's job watcher
    (ui.jobs.watch: polls while active, draws the final state itself); returns the status drawn."""
    from ui.session import owner_caption

    cfg = GanConfig.from_dict(RunStore.open(run_dir).config())

    def _view(store: RunStore, info: RunInfo) -> None:
        _status_line(store, info)
        owner_caption(info)
        stop_button(store, info, key)
        series = _series(store)
        _charts(series, cfg.loss, key)
        kind = "image" if not cfg.is_toy else ("points" if cfg.data == "toy:ring" else "pattern")
        _strip(Path(run_dir), kind, key)
        collapse_meter(Path(run_dir), series, key)

    return watch(run_dir, key, _view, status=False)


def resume_button(run_dir: str | Path, key: str = "gan-resume") -> Path | None:
    """For a stopped / interrupted / failed GAN run with a checkpoint: a button that continues it as a new run (a
    job of its own). Returns the new run directory when clicked, else None."""
    from core.jobs import launch
    from ui.session import current_user, may_control

    if not (Path(run_dir) / "checkpoints" / "last.pt").is_file() or not may_control(RunStore.open(run_dir).info()):
        return None  # (someone else's run is read-only here: core.access.can_control)
    if not st.button("Resume from the last checkpoint", key=f"{key}-btn",
                     help="a new run that continues both networks, both optimizers and the random streams"):
        return None
    cfg = GanConfig.from_dict(RunStore.open(run_dir).config()).replace(resume_from=str(run_dir), runs_dir=None)
    return launch_ui(lambda: launch("gan", cfg.to_dict(), owner=current_user(), runs_dir=Path(run_dir).parent),
                     "Cannot resume")
