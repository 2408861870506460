"""The LR Finder's hand-over to the Train page: a learning rate belongs to the data and model it was found for.

On the same data and model the Train form is pre-filled with it (and its optimizer and batch size). On other data
or another model it is only offered, with a one-line difference and a button to use it anyway: the best LR depends
on both, and silently carrying the digits/cnn LR over to spoken digits with mel_cnn is how a newcomer gets a run
that never learns.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

ACCEPTED = "train-lr-handover-accepted"  # session key: the hand-over the user chose to use here anyway


@dataclass
class LRHandover:
    lr: float  # the learning rate chosen on the LR Finder page
    found: dict = field(default_factory=dict)  # what it was found for: data, model, optimizer, batch_size, job
    applies: bool = True  # same data and model as the form (or the user accepted it anyway)

    @property
    def ident(self) -> str:
        """Identifies this hand-over (a new one re-fills the form's LR)."""
        return f"{self.lr:.6g}-{self.found.get('job', '')}"


def lr_handover(data: str | None, model: str) -> LRHandover | None:
    """The LR handed over by the LR Finder page, and whether it applies to ``model`` on ``data``; None if none."""
    lr = st.session_state.get("lr_for_training")
    if not lr:
        return None
    found = dict(st.session_state.get("lr_for_training_from") or {})
    same = found.get("data", data) == data and found.get("model", model) == model
    accepted = st.session_state.get(ACCEPTED) == (f"{float(lr):.6g}-{found.get('job', '')}", data, model)
    return LRHandover(float(lr), found, same or accepted)


def found_model(data: str | None) -> str | None:
    """The model the hand-over's LR was found for, when it was found on ``data`` (the Train page preselects it)."""
    found = st.session_state.get("lr_for_training_from") or {}
    return found.get("model") if st.session_state.get("lr_for_training") and found.get("data", data) == data \
        else None


def handover_caption(handover: LRHandover, model: str, optimizer: str) -> str:
    """Where an applied hand-over's LR came from, with a warning when the optimizer it was found with differs."""
    found = handover.found
    text = f"Learning rate {handover.lr:.2e} handed over by the LR Finder"
    if not found:
        return text + "."
    text += f" (found for {found.get('model')}, {found.get('optimizer')}, batch {found.get('batch_size')})."
    if (found.get("model"), found.get("optimizer")) != (model, optimizer):
        text += (f" ⚠️ You are now setting up {model} with {optimizer}: the best LR depends on both, so run the "
                 "LR Finder again for these.")
    return text


def offer_ui(handover: LRHandover, data: str | None, model: str, key: str) -> None:
    """A hand-over that does not apply here: say what it was found for, in one line, and offer it anyway."""
    found = handover.found
    st.caption(f"The LR Finder found {handover.lr:.2e} for {found.get('model')} on {found.get('data')}; this form "
               f"is {model} on {data}, so it is not filled in (the best LR depends on both).")
    st.button(f"Use {handover.lr:.2e} anyway", key=f"{key}-lr-accept",
              on_click=lambda: st.session_state.__setitem__(ACCEPTED, (handover.ident, data, model)))
