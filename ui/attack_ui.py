"""Widget groups of the Adversarial page: what to attack, which sample, which attack; and showing one result."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
import torch

from core.attacks import METHODS, AttackRefused, AttackTarget, load_run_target, preset_for, run_problems
from core.attacks.jobs import ONE_KIND, one_sample_config, read_one
from core.attacks.minimal import GRID
from core.attacks.single import EPS_MAX, EPS_TOL, AttackSettings, OneSample, OneSampleRequest, one_sample, runs_inline
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


DEFAULT_EPS = 0.005  # epsilon for data without a preset


def _start_values(default: float, steps: int) -> dict[str, float]:
    """What the epsilon widgets (and the steps) start at for a preset's ``default`` epsilon, by widget key suffix."""
    return {"eps-audio": min(default, AUDIO_EPS_MAX), "eps-frac": float(round(default, 3)),
            "eps-255": round(default * 255 * 2) / 2, "steps": steps}


def _value(key: str, start) -> dict:
    """The widget's start value, unless session state already holds one (a preset just applied, or the user's)."""
    return {} if key in st.session_state else {"value": start}


def eps_ui(target: AttackTarget, key: str, default: float) -> float:
    """The epsilon slider: images in /255 steps or as a fraction of the pixel range; audio in waveform units."""
    start = _start_values(default, 0)
    if target.kind != "image":
        eps = st.slider("Epsilon (waveform units; full scale = 1)", 0.0, AUDIO_EPS_MAX, step=0.0005, format="%.4f",
                        key=f"{key}-eps-audio", **_value(f"{key}-eps-audio", start["eps-audio"]))
        return float(eps)
    units = st.radio("Epsilon in", ("/255 steps", "fraction"), horizontal=True, key=f"{key}-units",
                     help="pixels run from 0 to 1; one grey level of an 8-bit image is 1/255")
    if units == "fraction":
        return float(st.slider("Epsilon (fraction of the pixel range)", 0.0, 1.0, step=0.001, format="%.3f",
                               key=f"{key}-eps-frac", **_value(f"{key}-eps-frac", start["eps-frac"])))
    k = st.slider("Epsilon (/255)", 0.0, 255.0, step=0.5, format="%.1f", key=f"{key}-eps-255",
                  **_value(f"{key}-eps-255", start["eps-255"]))
    return k / 255


def _follow_preset(preset, key: str) -> None:
    """A new target with another preset (a digits run, then the 224 px photo model) starts from that preset's
    epsilon and steps, not from the values set for the previous one (0.3 is a lot for a photo). The values are set
    in session state, so the browser's copy of the sliders is replaced too."""
    name = preset.name if preset else None
    if f"{key}-preset" in st.session_state and st.session_state[f"{key}-preset"] != name:
        start = _start_values(preset.eps if preset else DEFAULT_EPS, preset.steps if preset else 10)
        for widget, value in start.items():
            st.session_state[f"{key}-{widget}"] = value
    st.session_state[f"{key}-preset"] = name


def settings_ui(target: AttackTarget, key: str) -> AttackSettings:
    """Method, epsilon, iterative settings (from the data's preset) and untargeted / a target class."""
    preset = preset_for(target.kind, target.input_shape)
    _follow_preset(preset, key)
    c1, c2 = st.columns([1, 2])
    method = c1.radio("Attack", list(METHODS), format_func=af.method_name, key=f"{key}-method",
                      help="; ".join(f"{m.label}: {m.help}" for m in METHODS.values()))
    with c2:
        eps = eps_ui(target, key, preset.eps if preset else DEFAULT_EPS)
        st.caption(f"epsilon = **{af.eps_text(eps, target.kind)}**")
    steps, alpha = 10, None
    if METHODS[method].iterative:
        d1, d2 = st.columns(2)
        steps = int(d1.number_input("Steps", 1, 200, key=f"{key}-steps",
                                    **_value(f"{key}-steps", preset.steps if preset else 10)))
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


def single_view(target: AttackTarget, sample: Sample, view: OneSample, key: str) -> None:
    """Original | perturbation (amplified) | adversarial, the top classes before and after, and the download."""
    result, classes = view.attack, view.classes
    s = result.settings
    goal = f"target {classes[s.target_class]}" if s.target_class is not None else "untargeted"
    change = f"{_prediction(classes, result.probs_before)} → {_prediction(classes, result.probs_after)}"
    verdict = ("was **already wrong** before the attack (the true class is "
               f"**{classes[result.label]}**); pick a sample it gets right" if result.wrong_before
               else f"is **{'fooled ✅' if result.fooled else 'not fooled'}**")
    st.markdown(f"{af.method_name(s.method)} at eps {af.eps_text(s.eps, view.kind)}, {goal}: the model "
                f"{verdict} — {change}")
    if view.kind == "image":
        c1, c2, c3 = st.columns(3)
        true = f", true class {classes[sample.label]}" if sample.label is not None else ""
        shown = dict(width=SHOWN_PX)  # fixed: a long caption must not stretch its image
        c1.image(af.to_pil(result.x, SHOWN_PX), caption=f"Original ({sample.name}{true})", **shown)
        c2.image(af.to_pil(view.perturbation, SHOWN_PX),
                 caption=(f"Perturbation, amplified ×{view.amplification:.1f} (grey = unchanged)"
                          if view.amplification else "Perturbation: none (eps 0)"), **shown)
        c3.image(af.to_pil(result.x_adv, SHOWN_PX), caption="Adversarial", **shown)
        st.download_button("Download the adversarial image (PNG)", view.png, key=f"{key}-png",
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
    b1.plotly_chart(af.top_k_figure(view.top_before, "Before: top classes", highlight), key=f"{key}-before")
    b2.plotly_chart(af.top_k_figure(view.top_after, "After: top classes", highlight), key=f"{key}-after")


KEEP_RESULTS = 4  # one-sample results a session keeps (the newest), each looked up by its request's key


def _kept(key: str) -> dict:
    return st.session_state.setdefault(f"{key}-results", {})


def _keep(key: str, request_key: str, view: OneSample) -> None:
    kept = _kept(key)
    kept.pop(request_key, None)
    kept[request_key] = view
    while len(kept) > KEEP_RESULTS:
        kept.pop(next(iter(kept)))


def _in_worker(request: OneSampleRequest, key: str, start: bool) -> OneSample | None:
    """The request's result from an 'attack_one' job of this session: launched when ``start``, followed while it
    runs (ui.jobs), read when it has finished; None until then."""
    from core.jobs import launch
    from ui.jobs import watch
    from ui.session import current_user

    jobs = st.session_state.setdefault(f"{key}-jobs", {})  # request key -> the job's run directory
    run_dir = jobs.get(request.key())
    if run_dir is None and start:
        try:
            run_dir = jobs[request.key()] = launch(ONE_KIND, one_sample_config(request), owner=current_user())
        except (ValueError, OSError) as err:  # refused (a full queue, ...): one sentence, nothing started
            st.error(f"Cannot start the attack: {err}")
            return None
    if run_dir is None:
        return None
    if watch(run_dir, f"{key}-job") != "finished":  # the watcher reruns the page once the job has ended
        return None
    return read_one(run_dir)


def one_sample_ui(target: AttackTarget, key: str) -> None:
    """Sample -> settings -> one request -> its result (computed here when it fits the server's inline budget,
    else in an 'attack_one' job) -> the views, and the smallest epsilon when asked."""
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
    request = OneSampleRequest(target.ref, sample.x.cpu().numpy(), sample.label, settings, name=sample.name,
                               version=target.version)
    name = af.method_name(settings.method)
    search = st.button("Find the smallest epsilon", key=f"{key}-find",
                       help=f"{name} at {GRID} epsilons up to {EPS_MAX:g}, then bisection of the first that fools "
                            f"to {EPS_TOL:g}")
    wanted = st.session_state.get(f"{key}-smallest") == request.key()
    if search:
        st.session_state[f"{key}-smallest"] = request.key()
    request.smallest = search or wanted
    view = _kept(key).get(request.key())
    if view is None and runs_inline(target, request):
        view = one_sample(target, request)
        _keep(key, request.key(), view)
    elif view is None:
        plain = OneSampleRequest(**{**request.__dict__, "smallest": False})
        view = _kept(key).get(plain.key())
        if view is None and runs_inline(target, plain):
            view = one_sample(target, plain)
            _keep(key, plain.key(), view)
        what = f"{name} with {settings.steps} steps" if METHODS[settings.method].iterative else name
        st.caption(what + (" and the smallest-epsilon search" if request.smallest else "") + " is too heavy for "
                   "this page on this model: it runs in a worker, and the result appears here when it is ready. "
                   "The page stays usable meanwhile.")
        known = request.key() in st.session_state.get(f"{key}-jobs", {})
        start = not known and (request.smallest or st.button("Run the attack in a worker", key=f"{key}-run",
                                                             type="primary"))
        done = _in_worker(request, key, start)
        if done is not None:
            view = done
            _keep(key, request.key(), view)
    if view is None:
        return
    single_view(target, sample, view, f"{key}-one")
    if not view.searched:
        return
    if view.smallest is None:
        st.info(f"No epsilon on the grid up to {EPS_MAX:g} makes {name} fool the model on this sample.")
        return
    st.success(f"Smallest epsilon found that fools the model with {name}: "
               f"**{af.eps_text(view.smallest.attack.settings.eps, view.kind)}** (the first of {GRID} epsilons up "
               f"to {EPS_MAX:g} that fools it, narrowed by bisection; fooling is not monotone in epsilon, so this is "
               "a boundary near the smallest)")
    single_view(target, sample, view.smallest, f"{key}-min")
