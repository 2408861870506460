"""Adversarial: attack a model you trained (FGSM / BIM / PGD) one sample at a time, find the smallest epsilon that
fools it, measure accuracy against epsilon (a job in a worker), and compare how robust several runs are."""
from __future__ import annotations

import streamlit as st

from ui.attack_jobs_ui import compare_ui, sweep_ui
from ui.attack_ui import one_sample_ui, target_ui
from ui.nav import navigation
from ui.transfer_ui import transfer_ui

st.set_page_config(page_title="Adversarial", page_icon="🎯", layout="wide")
navigation()  # the lab's sidebar, also when a link opens this page first (ui.nav)
st.title("Adversarial")
st.caption("Nudge every input value by at most epsilon in the direction that hurts the model most, and watch the "
           "prediction change. Epsilon is in pixel units (pixels run 0 to 1; 8/255 is 8 grey levels), or waveform "
           "units for audio.")

target = target_ui("adv")
one, curve, compare, transfer = st.tabs(["One sample", "Accuracy vs epsilon", "Compare runs",
                                        "Black-box transfer"])
with one:
    if target is not None:
        one_sample_ui(target, "adv")
with curve:
    if target is not None and target.run_dir:
        sweep_ui(target, target.run_dir, "adv-sweep")
    elif target is not None:
        st.info("The sweep measures accuracy over a run's validation split; the pretrained model has none here. "
                "Pick a run trained in the lab.")
with compare:
    compare_ui("adv-compare")
with transfer:
    transfer_ui("adv-transfer")
