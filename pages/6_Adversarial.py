"""Adversarial: attack a model you trained (FGSM / BIM / PGD) one sample at a time, find the smallest epsilon that
fools it, measure accuracy against epsilon, and compare how robust several runs are."""
from __future__ import annotations

import streamlit as st

from core.attacks.single import attack_one, smallest_eps_one
from ui import attack_figures as af
from ui.attack_ui import sample_ui, settings_ui, single_view, target_ui

st.set_page_config(page_title="Adversarial", page_icon="🎯", layout="wide")
st.title("Adversarial")
st.caption("Nudge every input value by at most epsilon in the direction that hurts the model most, and watch the "
           "prediction change. Epsilon is in pixel units (pixels run 0 to 1; 8/255 is 8 grey levels), or waveform "
           "units for audio.")

target = target_ui("adv")
if target is None:
    st.stop()

st.subheader("One sample")
sample = sample_ui(target, "adv")
if sample is None:
    st.info("Upload a file, or pick a sample from the validation set.")
    st.stop()
settings = settings_ui(target, "adv")
problems = settings.problems(len(target.classes), target.bounds)
for problem in problems:
    st.error(f"Cannot attack: {problem}")
if problems:
    st.stop()

x = sample.x.to(target.device)
result = attack_one(target.model, x, sample.label, settings, target.bounds)
single_view(target, sample, result, "adv-one")

key = ("adv-smallest", target.name, sample.name, settings.method, settings.target_class, settings.steps)
if st.button("Find the smallest epsilon", key="adv-find",
             help=f"bisection on epsilon with {af.METHOD_NAMES[settings.method]}, to 0.001"):
    with st.spinner("Bisecting…"):
        st.session_state["adv-smallest"] = (key, smallest_eps_one(target.model, x, sample.label, settings,
                                                                  target.bounds))
found = st.session_state.get("adv-smallest")
if found is not None and found[0] == key:
    if found[1] is None:
        st.info(f"No epsilon up to 1 makes {af.METHOD_NAMES[settings.method]} fool the model on this sample.")
    else:
        st.success(f"Smallest epsilon that fools the model with {af.METHOD_NAMES[settings.method]}: "
                   f"**{af.eps_text(found[1].settings.eps, target.kind)}**")
        single_view(target, sample, found[1], "adv-min")
