"""Widgets of the Enhance page: the run form (returns an EnhanceConfig), the training view, before/after zoom, the
checkerboard view, enhancing an upload, and the PSNR-vs-perception chart. Everything computed comes from
core.enhance; this module only draws."""

import hashlib
from pathlib import Path

import streamlit as st

from core.enhance import EnhanceConfig, read_upload
from core.enhance.apply import MAX_INPUT_PIXELS, MAX_INPUT_SIDE
from core.enhance.data import PHOTOS_SOURCE
from core.enhance.losses import PERCEPTUAL_BLOCKS
from core.enhance.models import MODELS
from core.enhance.train import list_strips
from core.enhance.views import checkerboard, held_out_names, tradeoff_points, zoom
from core.train.store import RunInfo, RunStore
from ui import enhance_figures as ef
from ui.jobs import launch_ui, watch

CRITIC_WORDS = {"none": "none (L1/MSE only)", "plain": "plain GAN (SRGAN)", "relativistic": "relativistic (ESRGAN)"}


def _source_ui(key: str) -> str | None:
    from ui.data_ui import data_source_ui

    choice = st.radio("Data", ["photos", "images"], horizontal=True, key=f"{key}-data",
                      format_func={"photos": "scikit-image photos (3 held out)",
                                   "images": "another image source (built-in, folder, zip)"}.get)
    if choice == "photos":
        return PHOTOS_SOURCE
    st.caption("Every 5th image (in name order) is held out for evaluation; the rest give the training crops.")
    return data_source_ui(f"{key}-img", kinds=("image",))


def enhance_config_ui(key: str = "enh") -> EnhanceConfig | None:
    """Data, scale, model, channels, losses and length -> an EnhanceConfig (None until a data source is chosen)."""
    base = EnhanceConfig()
    source = _source_ui(key)
    if not source:
        return None
    c = st.columns(3)
    scale = c[0].radio("Scale", [2, 3, 4], horizontal=True, key=f"{key}-scale", format_func=lambda s: f"x{s}")
    model = c[1].selectbox("Model", list(MODELS), key=f"{key}-model", format_func=lambda m: MODELS[m].label,
                           index=list(MODELS).index(base.model))
    c[1].caption(MODELS[model].about)
    channels = c[2].radio("Channels", ["y", "rgb"], horizontal=True, key=f"{key}-ch",
                          format_func={"y": "Y (luminance)", "rgb": "RGB"}.get,
                          help="Y: the papers' setting (colour from bicubic); RGB: all three channels")
    c = st.columns(4)
    pixel = c[0].radio("Pixel loss", ["l1", "mse"], horizontal=True, key=f"{key}-pix", format_func=str.upper)
    perceptual = c[1].number_input("Perceptual weight", 0.0, 10.0, base.perceptual_weight, 0.05, key=f"{key}-perc",
                                   help=f"EfficientNet-Lite0 features (blocks {PERCEPTUAL_BLOCKS}: edges and "
                                        "textures at 1/4 and 1/8 resolution); 0 = off")
    critic = c[2].selectbox("Critic", list(CRITIC_WORDS), key=f"{key}-critic", format_func=CRITIC_WORDS.get)
    adv = c[3].number_input("Adversarial weight", 0.0, 1.0, base.adversarial_weight, 0.005, format="%.3f",
                            key=f"{key}-adv", disabled=critic == "none")
    c = st.columns(3)
    steps = c[0].number_input("Steps", 10, 20000, base.total_steps, 100, key=f"{key}-steps",
                              help="each step: a batch of fresh random crops")
    patch = c[1].number_input("Patch (low-res px)", 8, 96, base.patch, 4, key=f"{key}-patch")
    every = c[2].number_input("Strip every N steps", 10, 5000, base.eval_every, 10, key=f"{key}-every")
    return base.replace(data=source, scale=int(scale), model=model, channels=channels, pixel_loss=pixel,
                        perceptual_weight=float(perceptual), critic=critic, adversarial_weight=float(adv),
                        max_steps=int(steps), epochs=max(1, -(-int(steps) // base.steps_per_epoch)),
                        patch=int(patch), eval_every=int(every))


def enhance_runs(runs_dir=None) -> list[RunInfo]:
    """The enhance runs this session may see, newest first."""
    from ui.session import my_runs

    return my_runs("enhance", runs_dir)


def _charts_and_strip(store: RunStore, key: str) -> None:
    series = store.scalars()
    c = st.columns(2)
    c[0].plotly_chart(ef.loss_figure(series), key=f"{key}-loss", width="stretch")
    c[1].plotly_chart(ef.psnr_figure(series), key=f"{key}-psnr", width="stretch")
    strips = list_strips(store.run_dir)
    if strips:
        step, path = strips[-1]
        st.image(str(path), caption=f"Held-out crops at step {step}: rows bicubic, model, original")


def training_view(run_dir, key: str) -> str:
    """Progress, Stop and the live charts and strip while training, the same after it (ui.jobs.watch)."""
    return watch(run_dir, key, lambda store, info: _charts_and_strip(store, f"{key}-live"))


def comparison_ui(run_dir, key: str) -> None:
    """Side-by-side zoom on the same region of a held-out image: bicubic, the model, the original."""
    names = held_out_names(run_dir)
    if not names:
        st.info("The run has no held-out results yet (they are written when training ends).")
        return
    c = st.columns(4)
    name = c[0].selectbox("Held-out image", names, key=f"{key}-img")
    x = c[1].slider("Region x", 0.0, 1.0, 0.5, 0.05, key=f"{key}-x")
    y = c[2].slider("Region y", 0.0, 1.0, 0.5, 0.05, key=f"{key}-y")
    size = c[3].select_slider("Region size (px)", [24, 32, 48, 64, 96, 128], 48, key=f"{key}-size")
    crops = zoom(run_dir, name, x, y, int(size))
    cols = st.columns(3)
    for col, (label, img) in zip(cols, crops.items()):
        col.image(img, caption=label, width="stretch", clamp=True)


@st.cache_data(max_entries=32, show_spinner=False)
def _checkerboard(run_dir: str, name: str):
    """``checkerboard`` kept per held-out image (a finished run's images never change)."""
    return checkerboard(run_dir, name)


def checkerboard_ui(run_dir, key: str) -> None:
    """The residual's spectrum and the flattest region, magnified: where transposed convolutions leave a grid."""
    names = held_out_names(run_dir)
    if not names:
        return
    name = st.selectbox("Image", names, key=f"{key}-cb")
    view = _checkerboard(str(run_dir), name)
    c = st.columns([2, 3])
    c[0].plotly_chart(ef.spectrum_figure(view.spectrum), key=f"{key}-spec", width="stretch")
    c[0].caption("Bright dots on a regular grid away from the centre are a periodic pattern (a checkerboard); "
                 "the smooth glow is the detail the model adds.")
    t, l, s = view.flat_box
    c[1].markdown(f"The flattest {s}x{s} region (at y={t}, x={l}), contrast x8:")
    cols = c[1].columns(3)
    for col, (label, img) in zip(cols, view.flat.items()):
        col.image(img, caption=label, width="stretch")


def apply_ui(run_dir, key: str) -> None:
    """Upload an image -> refused with the reason, or enhanced by a job -> shown and downloadable."""
    from core.jobs import launch
    from ui.session import current_user

    up = st.file_uploader(f"An image to enhance (at most {MAX_INPUT_SIDE} px a side, "
                          f"{MAX_INPUT_PIXELS // 1_000_000} megapixel)", key=f"{key}-up")
    if up is not None and st.button("Enhance it", key=f"{key}-go"):
        try:
            read_upload(up.getvalue(), up.name)
            folder = Path(run_dir) / "uploads"
            folder.mkdir(exist_ok=True)
            digest = hashlib.sha256(up.getvalue()).hexdigest()[:16]  # two students' uploads never share a file
            image = folder / f"{digest}{Path(up.name).suffix.lower() or '.png'}"
            image.write_bytes(up.getvalue())
        except ValueError as err:  # not an image, too large: one sentence, nothing started
            st.error(f"Refused: {err}")
        else:
            cfg = {"run": str(run_dir), "image": str(image), "data": up.name, "model": Path(run_dir).name}
            started = launch_ui(lambda: launch("enhance_apply", cfg, owner=current_user(),
                                               runs_dir=Path(run_dir).parent))
            if started is not None:
                st.session_state[f"{key}-job"] = str(started)
    job = st.session_state.get(f"{key}-job")
    if job:
        watch(job, f"{key}-apply", lambda store, info: _enhanced(job, key) if info.status == "finished" else None)


def _enhanced(job, key: str) -> None:
    """The applied job's result: the enhanced image and its download."""
    from core.jobs import read_result

    out = Path(job) / "enhanced.png"
    result = read_result(job) or {}
    (w, h), (w2, h2) = result.get("input", (0, 0)), result.get("output", (0, 0))
    st.image(str(out), caption=f"Enhanced from {w} x {h} to {w2} x {h2} px")
    st.download_button("Download the enhanced image", out.read_bytes(), "enhanced.png", "image/png", key=f"{key}-dl")


def tradeoff_ui(runs: list[RunInfo], key: str) -> None:
    """PSNR against the perceptual distance of the finished runs, with and without a critic."""
    points = tradeoff_points([r.run_dir for r in runs if r.status == "finished"])
    if not points:
        st.info("Finish a run (and its twin with a critic) to place them on this chart.")
        return
    st.plotly_chart(ef.tradeoff_figure(points), key=f"{key}-trade", width="stretch")
    st.caption("A critic pushes the output towards textures that look real: sharper, perceptually closer, but "
               "further from the original pixel by pixel, so its PSNR is lower.")


def resume_button(run_dir, key: str) -> Path | None:
    """For a stopped / interrupted / failed run with a checkpoint: continue it as a new run (a job of its own)."""
    from core.jobs import launch
    from ui.session import current_user

    from ui.jobs import launch_ui
    from ui.session import may_control

    if not (Path(run_dir) / "checkpoints" / "last.pt").is_file() or not may_control(RunStore.open(run_dir).info()):
        return None  # nothing to resume from, or someone else's run (its owner and the teacher resume it)
    if not st.button("Resume from the last checkpoint", key=f"{key}-resume",
                     help="a new run that continues the upsampler, its optimizer (and the critic) from here"):
        return None
    cfg = EnhanceConfig.from_dict(RunStore.open(run_dir).config()).replace(resume_from=str(run_dir), runs_dir=None)
    return launch_ui(lambda: launch("enhance", cfg.to_dict(), owner=current_user(), runs_dir=Path(run_dir).parent),
                     "Cannot resume")
