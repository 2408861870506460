"""The Train form's augmentation choice: the Augment page's pipeline (preselected only for the data it was built
on), the kind's preset, or none; and an image pipeline fitted to the model's input size, with the reason shown."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.train import recommended
from ui.page_state import index_of

AUGMENT_CHOICES = ("from the Augment page", "preset", "none")


@dataclass
class AugmentChoice:
    augment: dict | None  # a Pipeline.to_dict(), or None for the preset / nothing
    augment_preset: bool  # with augment None: True = the kind's preset, False = no augmentation


def _pipeline_fits(pipeline: dict | None, kind: str) -> bool:
    pkind = (pipeline or {}).get("kind")
    return pkind == kind or (kind == "audio" and pkind in ("audio", "spectrogram"))


def _preset_caption(kind: str, source: str | None) -> str:
    try:
        from core.augment import preset

        pipeline = preset(kind, source)
    except Exception as err:  # noqa: BLE001 - a caption must never break the form
        return f"(preset unavailable: {err})"
    if pipeline is None:
        return f"No preset is safe for {kind} data: the run trains without augmentation."
    return "Preset: " + ", ".join(step.name for step in pipeline.steps)


def preselected_for(built_on: str | None, source: str | None) -> bool:
    """The Train form chooses the Augment page's pipeline itself only for the data it was built on (issue 13);
    for other data (or one built on a sample photo or an upload) it offers it. ``handover_promise`` says so."""
    return built_on is not None and built_on == source


def handover_promise(built_on: str | None) -> str:
    """What the Augment page tells the user the Train page will do with the pipeline just handed over."""
    if built_on is None:
        return ("Handed to the Train page. It was built on a sample photo or an upload, so Train offers it (choose "
                "'from the Augment page' under Augmentation) but does not pick it for you: build it on a Dataset "
                "sample to have Train use it for that data.")
    return (f"The Train page will use this pipeline when it trains on {built_on} (sizes fitted to the model's input); "
            "for other data it offers it without choosing it.")


def augment_ui(key: str, kind: str, source: str | None = None, model: str | None = None) -> AugmentChoice:
    """Augmentation: the pipeline exported by the Augment page (when it suits the data), the preset, or none
    (preselected when the model's defaults train without augmentation, e.g. on cached backbone features).

    The hand-over is preselected only for the data it was built on; for other data it is offered, not chosen."""
    handed = st.session_state.get("augment_for_training")
    built_on = st.session_state.get("augment_for_training_from")
    fits = _pipeline_fits(handed, kind)
    choices = AUGMENT_CHOICES if fits else AUGMENT_CHOICES[1:]
    own = fits and preselected_for(built_on, source)  # built on this very data
    preset_on = recommended(model, source or "builtin:digits").augment_preset if model else True
    k = f"{key}-aug-{source}-{model}-{len(choices)}"
    first = choices[0] if own else "preset" if preset_on else "none"
    choice = st.radio("Augmentation", choices, index=index_of(choices, k, first, "augmentation"), horizontal=True,
                      key=k,
                      help="the preset is a mild default for this kind of data; build your own on the Augment page")
    if fits and not own:
        st.caption(f"The Augment page's pipeline was built on {built_on or 'a sample photo or an upload'}, not on "
                   f"{source}, so it is offered here, not preselected.")
    if choice == AUGMENT_CHOICES[0]:
        return AugmentChoice(augment=handed, augment_preset=False)
    if choice == "preset":
        st.caption(_preset_caption(kind, source))
    return AugmentChoice(augment=None, augment_preset=choice == "preset")


def _step_names(pipeline: dict | None) -> list[str]:
    return [str(s.get("name", "?")) if isinstance(s, dict) else str(s) for s in (pipeline or {}).get("steps", [])]


def fitted_augment_ui(choice: AugmentChoice, kind: str, input_shape) -> AugmentChoice:
    """Say which augmentation the run gets (in sight, not inside a collapsed expander) and fit an image pipeline
    to the model's input size (``core.augment.sizing.fit_to_input``), showing each change with its reason."""
    if choice.augment is None:
        st.caption("Augmentation: " + ("the preset for this data" if choice.augment_preset else "none"))
        return choice
    notes = []
    if kind == "image" and input_shape is not None:
        from core.augment import AugmentError, Pipeline
        from core.augment.sizing import fit_to_input

        try:
            fitted, notes = fit_to_input(Pipeline.from_dict(choice.augment), input_shape)
        except AugmentError as err:
            st.error(f"The Augment page's pipeline cannot be used: {err}")
            return AugmentChoice(augment=None, augment_preset=False)
        choice = AugmentChoice(augment=fitted.to_dict(), augment_preset=False)
    st.caption("Augmentation: from the Augment page (" + ", ".join(_step_names(choice.augment)) + ")")
    for note in notes:
        st.warning(f"Augmentation adapted: {note}.", icon="📐")
    return choice
