"""Widget groups of the Adversarial page: what to attack, which sample, which attack; and showing one result."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
import torch

from core.attacks import AttackRefused, AttackTarget, load_run_target, preset_for, run_problems
from core.attacks.single import (AttackSettings, SingleAttack, amplified, attack_one, png_bytes, smallest_eps_one,
                                 top_k)
from core.settings import load_settings
from core.train.evaluate import checkpoint_path
from core.train.store import ACTIVE, RunStore, list_runs
from ui import attack_figures as af

AUDIO_EPS_MAX = 0.05  # the audio slider's end: a sign perturbation of 0.05 is louder than most quiet clips
GRID = 12  # validation samples offered at a time
SHOWN_PX = 224  # original / perturbation / adversarial are drawn this wide


@dataclass
class Sample:
    """The one input being attacked."""

    x: torch.Tensor  # a batch of one: (1, C, H, W) pixels or (1, 1, N) waveform
    label: int | None  # true class when known (validation), None for an upload (the clean prediction is used)
    name: str  # what to call it: "validation #12", the uploaded file's name


def attackable_runs(runs_dir=None) -> list:
    """Training runs this session may see that are not training any more (finished, stopped, failed,
    interrupted), newest first."""
    from core.access import visible_runs
    from ui.session import current_user, is_teacher

    runs = [r for r in list_runs(runs_dir, kind="train") if r.status not in ACTIVE]
    return visible_runs(runs, current_user(), teacher=is_teacher())


def _session_target(run_dir: Path) -> AttackTarget:
    """The run's model, loaded once per checkpoint version and kept in this session only."""
    from ui.data_ui import load_bundle_ui

    path = checkpoint_path(run_dir)
    key = ("adv-target", str(run_dir), path.stat().st_mtime if path else None)
    cached = st.session_state.get("adv-target")
    if cached is not None and cached[0] == key:
        return cached[1]
    cfg = RunStore.open(run_dir).config()
    bundle = None if cfg.get("data_opts") else load_bundle_ui(cfg["data"])
    with st.spinner("Loading the run's model…"):
        target = load_run_target(run_dir, bundle=bundle)
    st.session_state["adv-target"] = (key, target)
    return target


PRETRAINED = "pretrained ImageNet model (EfficientNet-Lite0)"
SOURCES = ("a run trained here", PRETRAINED)


@st.cache_resource(show_spinner="Loading the pretrained ImageNet model…")
def _pretrained() -> AttackTarget:
    """Shared by every session: read-only (attacks leave models exactly as they found them)."""
    from core.attacks import load_pretrained_target

    return load_pretrained_target("efficientnet_lite0")


def target_ui(key: str) -> AttackTarget | None:
    """Pick what to attack: a run (a run that cannot be attacked is refused with the reason: None returned) or the
    pretrained ImageNet model."""
    source = st.radio("What to attack", SOURCES, horizontal=True, key=f"{key}-source")
    if source == PRETRAINED:
        try:
            target = _pretrained()
        except (OSError, RuntimeError, ValueError) as err:
            st.error(f"The pretrained model cannot be loaded: {err}")
            return None
    else:
        target = _run_target_ui(key)
    for note in target.notes if target is not None else []:
        st.caption(f"ℹ️ {note}")
    return target


def _run_target_ui(key: str) -> AttackTarget | None:
    runs = attackable_runs()
    if not runs:
        st.info("No finished runs yet. Train a model on the Train page (or with `./lab core train`), then attack "
                "it here, or attack the pretrained ImageNet model.")
        return None
    by_name = {r.name: r for r in runs}
    if st.session_state.get(f"{key}-run") not in by_name:  # open on the newest run that can be attacked
        from core.access import first_to_show
        from ui.session import current_user

        first = first_to_show(runs, current_user(), ok=lambda r: not run_problems(r.run_dir))
        st.session_state[f"{key}-run"] = first.name if first is not None else None
    name = st.selectbox("Model to attack", list(by_name), key=f"{key}-run", placeholder="Choose a run",
                        format_func=lambda n: f"{n}  ({by_name[n].model} on {by_name[n].data}, {by_name[n].status})",
                        help="a run trained in the lab: its best checkpoint (else its last)")
    if name is None:
        st.info("None of the runs you can see can be attacked yet; choose one above to see why, or train one.")
        return None
    problems = run_problems(by_name[name].run_dir)
    if problems:
        for p in problems:
            st.error(f"Cannot attack this run: {p}.")
        return None
    try:
        return _session_target(by_name[name].run_dir)
    except (AttackRefused, OSError, ValueError) as err:
        st.error(f"Cannot attack this run: {err}")
        return None


def _validation_sample(target: AttackTarget, key: str) -> Sample:
    val = target.bundle.splits["val"]
    seed = st.session_state.setdefault(f"{key}-seed", 0)
    picks = torch.randperm(len(val), generator=torch.Generator().manual_seed(seed))[:GRID].tolist()
    if target.kind == "image":
        cols = st.columns(GRID)
        for col, i in zip(cols, picks):
            col.image(af.to_pil(val[i][0].numpy(), 64), caption=f"#{i} {target.classes[val.targets[i]]}")
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    index = c1.selectbox("Sample", picks, key=f"{key}-pick-{seed}",
                         format_func=lambda i: f"#{i} — {target.classes[val.targets[i]]}"
                         + (f" ({Path(val.paths[i]).name})" if target.kind == "audio" else ""))
    if c2.button("Other samples", key=f"{key}-shuffle"):
        st.session_state[f"{key}-seed"] = seed + 1
        st.rerun()
    x, y = val[index]
    return Sample(x[None], int(y), f"validation #{index}")


def _uploaded_sample(target: AttackTarget, key: str) -> Sample | None:
    limit = load_settings().limits.max_upload_mb
    types = ["png", "jpg", "jpeg", "bmp", "gif", "webp"] if target.kind == "image" else ["wav", "flac", "ogg"]
    upload = st.file_uploader(f"An {target.kind} file (at most {limit} MB)", type=types, key=f"{key}-upload")
    if upload is None:
        return None
    if upload.size > limit * 2**20:
        st.error(f"{upload.name} is larger than this server's {limit} MB upload limit.")
        return None
    try:
        x = _read_upload(target, upload)
    except Exception as err:  # noqa: BLE001 - any unreadable file: say so, keep the page alive
        what = "an audio clip" if target.kind == "audio" else "an image"
        st.error(f"Could not read {upload.name} as {what}: {err}")
        return None
    return Sample(x, None, upload.name)


def _read_upload(target: AttackTarget, upload) -> torch.Tensor:
    from core.attacks.single import image_input

    if target.prepare is not None:  # the pretrained model: its own resize and centre crop
        from PIL import Image, UnidentifiedImageError

        from core.data.images import NOT_AN_IMAGE

        try:
            opened = Image.open(upload)
        except UnidentifiedImageError:
            raise ValueError(NOT_AN_IMAGE) from None
        with opened as img:
            return target.prepare(img.convert("RGB"))
    if target.kind == "image":
        return image_input(upload, target.input_shape)
    import tempfile

    from core.train.evaluate import prepare_input

    with tempfile.NamedTemporaryFile(suffix=Path(upload.name).suffix) as f:  # soundfile reads from a path
        f.write(upload.getvalue())
        f.flush()
        return prepare_input(target.bundle, f.name)


def _photo_sample(target: AttackTarget, key: str) -> Sample:
    from core.data.photos import sample_photos

    photos = sample_photos()  # scikit-image's bundled photos (cached in core)
    for col, (name, img) in zip(st.columns(len(photos)), photos.items()):
        col.image(img, caption=name, width=120)
    name = st.selectbox("Photo", list(photos), key=f"{key}-photo", help="scikit-image's sample photos")
    return Sample(target.prepare(photos[name]), None, name)


def sample_ui(target: AttackTarget, key: str) -> Sample | None:
    """One input: from the validation set (a grid to pick from), a sample photo (pretrained model) or an upload."""
    first = "sample photo" if target.bundle is None else "validation set"
    where = st.radio("Sample from", (first, "upload"), horizontal=True, key=f"{key}-from")
    if where == "upload":
        return _uploaded_sample(target, key)
    return _photo_sample(target, key) if target.bundle is None else _validation_sample(target, key)


def eps_ui(target: AttackTarget, key: str, default: float) -> float:
    """The epsilon slider: images in /255 steps or as a fraction of the pixel range; audio in waveform units."""
    if target.kind != "image":
        eps = st.slider("Epsilon (waveform units; full scale = 1)", 0.0, AUDIO_EPS_MAX, min(default, AUDIO_EPS_MAX),
                        0.0005, format="%.4f", key=f"{key}-eps-audio")
        return float(eps)
    units = st.radio("Epsilon in", ("/255 steps", "fraction"), horizontal=True, key=f"{key}-units",
                     help="pixels run from 0 to 1; one grey level of an 8-bit image is 1/255")
    if units == "fraction":
        return float(st.slider("Epsilon (fraction of the pixel range)", 0.0, 1.0, float(round(default, 3)), 0.001,
                               format="%.3f", key=f"{key}-eps-frac"))
    k = st.slider("Epsilon (/255)", 0.0, 255.0, round(default * 255 * 2) / 2, 0.5, format="%.1f",
                  key=f"{key}-eps-255")
    return k / 255


def settings_ui(target: AttackTarget, key: str) -> AttackSettings:
    """Method, epsilon, iterative settings (from the data's preset) and untargeted / a target class."""
    preset = preset_for(target.kind, target.input_shape)
    c1, c2 = st.columns([1, 2])
    method = c1.radio("Attack", ("fgsm", "bim", "pgd"), format_func=af.METHOD_NAMES.get, key=f"{key}-method",
                      help="FGSM: one step of eps; BIM: small steps kept within eps; PGD: BIM from a random start")
    with c2:
        eps = eps_ui(target, key, preset.eps if preset else 0.005)
        st.caption(f"epsilon = **{af.eps_text(eps, target.kind)}**")
    steps, alpha = 10, None
    if method != "fgsm":
        d1, d2 = st.columns(2)
        steps = int(d1.number_input("Steps", 1, 200, preset.steps if preset else 10, key=f"{key}-steps"))
        use_preset = preset is not None and abs(eps - preset.eps) < 1e-9 and steps == preset.steps
        alpha = preset.alpha if use_preset else None
        d2.caption(f"Step size {alpha if alpha is not None else 2.5 * eps / steps:.4g} "
                   + (f"({preset.name} preset)" if use_preset else "(2.5 × eps / steps)"))
    t1, t2 = st.columns([1, 2])
    targeted = t1.radio("Goal", ("untargeted", "a target class"), key=f"{key}-goal",
                        help="untargeted: any wrong class; targeted: push towards the class you pick")
    target_class = None
    if targeted != "untargeted":
        target_class = t2.selectbox("Target class", range(len(target.classes)), key=f"{key}-tclass",
                                    format_func=lambda i: target.classes[i])
    return AttackSettings(method=method, eps=eps, target_class=target_class, steps=steps, alpha=alpha)


def _prediction(classes, probs) -> str:
    i = int(probs.argmax())
    return f"**{classes[i]}** ({probs[i]:.1%})"


def single_view(target: AttackTarget, sample: Sample, result: SingleAttack, key: str) -> None:
    """Original | perturbation (amplified) | adversarial, the top classes before and after, and the download."""
    classes, s = target.classes, result.settings
    goal = f"target {classes[s.target_class]}" if s.target_class is not None else "untargeted"
    change = f"{_prediction(classes, result.probs_before)} → {_prediction(classes, result.probs_after)}"
    verdict = ("was **already wrong** before the attack (the true class is "
               f"**{classes[result.label]}**); pick a sample it gets right" if result.wrong_before
               else f"is **{'fooled ✅' if result.fooled else 'not fooled'}**")
    st.markdown(f"{af.METHOD_NAMES[s.method]} at eps {af.eps_text(s.eps, target.kind)}, {goal}: the model "
                f"{verdict} — {change}")
    if target.kind == "image":
        view, factor = amplified(result.x, result.x_adv)
        c1, c2, c3 = st.columns(3)
        true = f", true class {classes[sample.label]}" if sample.label is not None else ""
        shown = dict(width=SHOWN_PX)  # fixed: a long caption must not stretch its image
        c1.image(af.to_pil(result.x, SHOWN_PX), caption=f"Original ({sample.name}{true})", **shown)
        c2.image(af.to_pil(view, SHOWN_PX), caption=(f"Perturbation, amplified ×{factor:.1f} (grey = unchanged)"
                                                     if factor else "Perturbation: none (eps 0)"), **shown)
        c3.image(af.to_pil(result.x_adv, SHOWN_PX), caption="Adversarial", **shown)
        st.download_button("Download the adversarial image (PNG)", png_bytes(result.x_adv), key=f"{key}-png",
                           file_name=f"adversarial-{s.method}-eps{s.eps:.4f}.png", mime="image/png",
                           help="8-bit PNG: pixel values are rounded to /255 steps")
    else:
        from ui.data_ui import wav_bytes

        c1, c2 = st.columns(2)
        c1.caption(f"Original ({sample.name})")
        c1.audio(wav_bytes(result.x, target.sample_rate), format="audio/wav")
        c2.caption("Adversarial")
        c2.audio(wav_bytes(result.x_adv, target.sample_rate), format="audio/wav")
        st.markdown(f"Perturbation loudness: **SNR {result.snr_db:.1f} dB** (10·log10 of clip power over "
                    "perturbation power; higher = quieter)")
        st.plotly_chart(af.waveform_figure(result.x, result.x_adv, target.sample_rate), key=f"{key}-wave")
    highlight = classes[sample.label] if sample.label is not None else None
    b1, b2 = st.columns(2)
    b1.plotly_chart(af.top_k_figure(top_k(result.probs_before, classes), "Before: top classes", highlight),
                    key=f"{key}-before")
    b2.plotly_chart(af.top_k_figure(top_k(result.probs_after, classes), "After: top classes", highlight),
                    key=f"{key}-after")


def one_sample_ui(target: AttackTarget, key: str) -> None:
    """Sample -> settings -> the attack (cheap: one sample, in the page) -> the views; "Find the smallest epsilon"."""
    sample = sample_ui(target, key)
    if sample is None:
        st.info("Upload a file, or pick a sample from the validation set.")
        return
    settings = settings_ui(target, key)
    problems = settings.problems(len(target.classes), target.bounds)
    for problem in problems:
        st.error(f"Cannot attack: {problem}")
    if problems:
        return
    x = sample.x.to(target.device)
    single_view(target, sample, attack_one(target.model, x, sample.label, settings, target.bounds), f"{key}-one")
    found_key = (target.name, sample.name, settings.method, settings.target_class, settings.steps)
    if st.button("Find the smallest epsilon", key=f"{key}-find",
                 help=f"bisection on epsilon with {af.METHOD_NAMES[settings.method]}, to 0.001"):
        with st.spinner("Bisecting…"):
            found = smallest_eps_one(target.model, x, sample.label, settings, target.bounds)
        st.session_state[f"{key}-smallest"] = (found_key, found)
    found = st.session_state.get(f"{key}-smallest")
    if found is None or found[0] != found_key:
        return
    if found[1] is None:
        st.info(f"No epsilon up to 1 makes {af.METHOD_NAMES[settings.method]} fool the model on this sample.")
        return
    st.success(f"Smallest epsilon that fools the model with {af.METHOD_NAMES[settings.method]}: "
               f"**{af.eps_text(found[1].settings.eps, target.kind)}**")
    single_view(target, sample, found[1], f"{key}-min")
