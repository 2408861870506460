"""The Augment page's sections (pages/2_Augment.py picks one): each draws its controls on the left and what the
pipeline does on the right; the work is core's (core.augment: pipelines, draws, previews, mixup, spectrograms)."""
from __future__ import annotations

import streamlit as st
import torch

from core.augment import AugmentError, Pipeline, Step
from core.augment.image import image_warnings, to_image
from core.augment.mixup import beta_pdf, draw_lambda, mixup
from core.augment.preview import image_preview
from core.augment.spectrogram import MelSettings, griffin_lim, log_mel
from core.augment.text import synonyms_source
from ui import augment_figures as figs
from ui.augment_ui import (audio_draw, audio_source_ui, current_pipeline, dataset_ui, draws_ui, image_source_ui,
                           pipeline_editor, pipeline_files_ui, spectrogram_panel)

CONTROLS_HEIGHT = 620  # px: the image section's controls scroll in a box this high, so at 1400x1000 the draws
#                        beside them stay on screen while a slider of the third step moves

DEFAULT_IMAGE = Pipeline("image", [Step("RandomResizedCrop", {"size": 224, "scale": [0.5, 1.0]}),
                                   Step("RandomHorizontalFlip", {}, 0.5), Step("ColorJitter", {}, 0.8)])
DEFAULT_SPEC = Pipeline("spectrogram", [Step("FrequencyMasking", {"max_width": 12, "n_masks": 2}),
                                        Step("TimeMasking", {"max_width": 25, "n_masks": 2})])
DEFAULT_AUDIO = Pipeline("audio", [Step("AddNoise", {}), Step("Gain", {}), Step("TimeShift", {}),
                                   Step("PitchShift", {}), Step("TimeStretch", {})])
DEFAULT_TEXT = Pipeline("text", [Step("SynonymReplacement", {"rate": 0.2}), Step("RandomInsertion", {"rate": 0.1}),
                                 Step("RandomDeletion", {"p": 0.1}), Step("RandomSwap", {"count": 1})])


def validated_or_stop(pipeline: Pipeline) -> Pipeline:
    try:
        return pipeline.validated()
    except AugmentError as err:
        st.error(f"Fix this setting first: {err}")
        st.stop()


def image_section() -> None:
    left, right = st.columns([2, 3], gap="large")
    with left, st.container(height=CONTROLS_HEIGHT, border=False):  # the controls scroll; the draws stay in view
        sample = image_source_ui("img")
        st.subheader("Pipeline")
        pipeline = validated_or_stop(pipeline_editor("image", "img", DEFAULT_IMAGE))
    if sample is None:
        right.info("Pick or upload an image.")
        return
    with right:
        for warning in image_warnings(pipeline.steps, tuple(sample.x.shape[-2:]), sample.source):
            st.warning(warning, icon="⚠️")
        n, seed = draws_ui("img")
        try:
            preview = image_preview(pipeline, sample.x, n, seed)
        except (RuntimeError, ValueError, TypeError) as err:
            st.error(f"The pipeline fails on this {tuple(sample.x.shape)} image: {err}")
            return
        st.markdown(f"**{n} draws** of *{sample.label}* ({sample.x.shape[-1]}x{sample.x.shape[-2]}); "
                    "under each, what was drawn:")
        image_grid(preview.images, [figs.draw_caption(d.records) for d in preview.draws])
        st.markdown("**Step by step** (draw 1)")
        names = ["input"] + [figs.step_label(i + 1, r.name, r.applied) for i, r in enumerate(preview.strip_records)]
        image_grid(preview.strip, names, per_row=min(6, len(preview.strip)))
    pipeline_files_ui(pipeline, "img", sample.source)


def image_grid(images: list, captions: list[str], per_row: int = 4) -> None:
    for start in range(0, len(images), per_row):
        cols = st.columns(per_row)
        for col, image, caption in zip(cols, images[start:start + per_row], captions[start:start + per_row]):
            col.image(image, width="stretch")
            col.caption(caption)


def batch_section() -> None:
    kind = st.radio("Data", ["image", "text"], horizontal=True, key="batch_kind",
                    format_func=lambda k: {"image": "Images", "text": "Texts"}[k])
    section = {"image": "Image", "text": "Text"}[kind]
    st.markdown(f"N samples of your training data, each augmented once by the **{section}** pipeline, with their "
                "labels: what the model will see.")
    bundle = dataset_ui(f"batch_{kind}_data", kind)
    if bundle is None:
        st.stop()
    default = DEFAULT_IMAGE if kind == "image" else DEFAULT_TEXT
    pipeline = validated_or_stop(current_pipeline(kind, "img" if kind == "image" else "text", default))
    st.caption("Pipeline: " + " → ".join(f"{s.name} (p={s.p:g})" for s in pipeline.steps) +
               f" (edit it in the {section} section)")
    split = bundle.splits["train"]
    if kind == "image":
        for warning in image_warnings(pipeline.steps, tuple(split[0][0].shape[-2:]), bundle.source):
            st.warning(warning, icon="⚠️")
    n, seed = draws_ui("batch", 12)
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))[:n].tolist()
    if kind == "text":
        for j, i in enumerate(order):
            tokens = pipeline.sample(split.texts[i], seed=seed + j).output
            label = bundle.classes[split.targets[i]]
            st.markdown(f"**{label}** (#{i}): " + figs.highlight_html(tokens), unsafe_allow_html=True)
        return
    images, captions = [], []
    for j, i in enumerate(order):
        x, y = split[i]
        try:
            images.append(to_image(pipeline.sample(x, seed=seed + j).output, pipeline.steps))
        except (RuntimeError, ValueError, TypeError) as err:
            st.error(f"The pipeline fails on sample {i} {tuple(x.shape)}: {err}")
            st.stop()
        captions.append(f"{bundle.classes[y]} (#{i})")
    image_grid(images, captions, per_row=6)


def audio_controls_ui(key: str, kind: str, title: str, default: Pipeline):
    """The left column of an audio section (a clip, the pipeline, a seed) -> (clip, pipeline, seed, right column);
    clip is None (and the right column says so) until one is picked."""
    left, right = st.columns([2, 3], gap="large")
    with left:
        clip = audio_source_ui(key)
        st.subheader(title)
        pipeline = validated_or_stop(pipeline_editor(kind, key, default))
        seed = st.number_input("Seed", 0, 2**31 - 1, 0, key=f"{key}_seed")
    if clip is None:
        right.info("Pick a clip or upload one.")
    return clip, pipeline, seed, right


def spectrogram_section() -> None:
    clip, pipeline, seed, right = audio_controls_ui("spec", "spectrogram", "SpecAugment", DEFAULT_SPEC)
    if clip is None:
        return
    settings = MelSettings(sample_rate=clip.sample_rate)
    spec = log_mel(clip.x, settings)
    draw = pipeline.sample(spec, seed=int(seed))
    bands = {("freq" if r.name == "FrequencyMasking" else "time"): r.params.get("bands", []) for r in draw.records}
    zrange = figs.db_range(spec, settings.top_db)  # one colour scale for before and after
    with right:
        a, b = st.columns(2)
        a.plotly_chart(figs.spectrogram_figure(spec, f"before: {clip.label}", zrange=zrange), width="stretch")
        b.plotly_chart(figs.spectrogram_figure(draw.output, "after masking", bands, zrange=zrange), width="stretch")
        st.caption("Masked bands: " + figs.draw_caption(draw.records))
        original, rebuilt, masked = st.columns(3)
        original.markdown("original")
        original.audio(clip.x[0].numpy(), sample_rate=clip.sample_rate)
        rebuilt.markdown("Griffin-Lim of the mel")  # what the inversion itself costs, before masking
        rebuilt.audio(griffin_lim(spec, clip.x.shape[-1], settings)[0].numpy(), sample_rate=clip.sample_rate)
        masked.markdown("Griffin-Lim, **masked**")
        masked.audio(griffin_lim(draw.output, clip.x.shape[-1], settings)[0].numpy(), sample_rate=clip.sample_rate)
    pipeline_files_ui(pipeline, "spec")


def waveform_section() -> None:
    clip, pipeline, seed, right = audio_controls_ui("wave", "audio", "Waveform pipeline", DEFAULT_AUDIO)
    if clip is None:
        return
    pipeline.sample_rate = clip.sample_rate
    wave, rate = clip.x[0].numpy(), clip.sample_rate
    zrange = figs.db_range(log_mel(clip.x, MelSettings(sample_rate=rate)))  # one colour scale for every panel
    with right:
        # each row is cached (ui.augment_ui.audio_draw): a rerun recomputes only the step that changed; a wait
        # that does happen (PitchShift, TimeStretch on a long clip) shows here, next to the panels
        with st.spinner("Applying the waveform pipeline…", show_time=True):
            rows = [("original", wave, "")]
            for i, step in enumerate(pipeline.steps):  # each op on its own, always applied
                one = Pipeline("audio", [Step(step.name, step.params, 1.0)], rate).to_dict()
                rows.append((f"{i + 1}. {step.name}", *audio_draw(wave, rate, one, int(seed) + i)))
            rows.append(("whole pipeline (with its probabilities)", *audio_draw(wave, rate, pipeline.to_dict(),
                                                                              int(seed))))
            panels = [spectrogram_panel(out, rate, title, zrange) for title, out, _ in rows]
        for (title, out, caption), panel in zip(rows, panels):
            audio_row(panel, out, rate, caption)
    pipeline_files_ui(pipeline, "wave")


def audio_row(panel, wave, sample_rate: int, caption: str) -> None:
    fig_col, player_col = st.columns([3, 2], vertical_alignment="center")
    fig_col.plotly_chart(panel, width="stretch")
    player_col.audio(wave.clip(-1, 1), sample_rate=sample_rate)
    player_col.caption(caption)


def text_section() -> None:
    left, right = st.columns([2, 3], gap="large")
    with left:
        source = st.radio("Text", ["Type a sentence", "Dataset sample"], horizontal=True, key="text_src")
        label = None
        if source == "Dataset sample":
            bundle = dataset_ui("text_data", "text")
            if bundle is None:
                st.stop()
            split = bundle.splits["train"]
            i = int(st.number_input("Sample index", 0, len(split) - 1, 0, key="text_index"))
            sentence, label = split.texts[i], bundle.classes[split.targets[i]]
        else:
            sentence = st.text_area("Sentence", "The movie was really good and the tickets were cheap, "
                                    "but the sound was bad and the seats were small.", key="text_sentence")
        pipeline = validated_or_stop(pipeline_editor("text", "text", DEFAULT_TEXT))
        st.caption(f"Synonyms (offline): {synonyms_source()}")
    if not sentence.split():
        right.info("Type a sentence with some words: there is nothing to augment.")
        return
    with right:
        n, seed = draws_ui("text", 6)
        st.markdown(figs.legend_html(), unsafe_allow_html=True)
        for i in range(n):
            draw = pipeline.sample(sentence, seed=seed + i)
            tail = f"  — label: **{label}** (unchanged)" if label else ""
            st.markdown(f"{i + 1}. " + figs.highlight_html(draw.output) + tail, unsafe_allow_html=True)
    pipeline_files_ui(pipeline, "text")


def mixup_section() -> None:
    left, right = st.columns([2, 3], gap="large")
    with left:
        inputs = mixup_inputs()
        mode = st.radio("λ", ["Slider", "Draw from Beta(α, α)"], horizontal=True, key="mix_mode")
        alpha = st.slider("α", 0.05, 5.0, 0.4, 0.05, key="mix_alpha", help="small α: λ near 0 or 1; α = 1: uniform")
        if mode == "Slider":
            lam = st.slider("λ (weight of the first input)", 0.0, 1.0, 0.7, 0.01, key="mix_lam")
        else:
            if st.button("Draw λ", key="mix_draw"):
                st.session_state["mix_draws"] = st.session_state.get("mix_draws", 0) + 1
            lam = draw_lambda(alpha, torch.Generator().manual_seed(st.session_state.get("mix_draws", 0)))
        st.plotly_chart(figs.beta_figure(*beta_pdf(alpha), alpha, lam), width="stretch")
    if inputs is None:
        right.info("Pick two inputs from different classes.")
        return
    (x1, y1), (x2, y2), classes, is_spec = inputs
    result = mixup(x1, y1, x2, y2, len(classes), lam)
    with right:
        cols = st.columns(3)
        for col, x, title in zip(cols, (x1, x2, result.x), (classes[y1], classes[y2], f"mixed, λ = {lam:.2f}")):
            if is_spec:
                col.plotly_chart(figs.spectrogram_figure(x, title, height=240), width="stretch")
            else:
                col.image(to_image(x), caption=title, width="stretch")
        st.plotly_chart(figs.soft_label_figure(classes, result.y), width="stretch")


def mixup_inputs():
    """((x1, y1), (x2, y2), class names, is_spectrogram) or None."""
    from core.data import sample_photos
    from core.augment.image import to_tensor

    choice = st.radio("Inputs", ["Two sample photos", "Two images from a dataset", "Two clips (spectrograms)"],
                      key="mix_src")
    if choice == "Two sample photos":
        photos = sample_photos()
        a, b = st.columns(2)
        n1 = a.selectbox("First", list(photos), 0, key="mix_p1")
        n2 = b.selectbox("Second", list(photos), 2, key="mix_p2")
        if n1 == n2:
            st.warning("Pick two different photos.")
            return None
        x1, x2 = (to_tensor(photos[n].convert("RGB").resize((256, 256))) for n in (n1, n2))
        return (x1, 0), (x2, 1), [n1, n2], False
    kind = "image" if choice == "Two images from a dataset" else "audio"
    bundle = dataset_ui("mix_data", kind)
    if bundle is None:
        return None
    a, b = st.columns(2)
    c1 = a.selectbox("First class", bundle.classes, 0, key="mix_c1")
    c2 = b.selectbox("Second class", bundle.classes, min(1, len(bundle.classes) - 1), key="mix_c2")
    if c1 == c2:
        st.warning("Pick two different classes: mixup blends classes (the soft label shows by how much).")
        return None
    split = bundle.splits["train"]
    picked = []
    for c in (c1, c2):
        index = split.targets.index(bundle.classes.index(c)) if bundle.classes.index(c) in split.targets else None
        if index is None:
            st.warning(f"No training sample of class {c}.")
            return None
        x, y = split[index]
        picked.append((log_mel(x, MelSettings(bundle.sample_rate)) if kind == "audio" else x, y))
    return picked[0], picked[1], bundle.classes, kind == "audio"


SECTIONS = {"Image": image_section, "Batch": batch_section, "Spectrogram": spectrogram_section,
            "Waveform": waveform_section, "Text": text_section, "Mixup": mixup_section}
