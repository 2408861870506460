"""Enhance: a super-resolution lab. Train an upsampler (the book's encoder/decoder, SRCNN, ESPCN, resize-then-convolve)
on low/high-resolution pairs, watch PSNR against bicubic, compare the output with bicubic and the original, find the
checkerboard of transposed convolutions, add a critic, and enhance an image of your own.

Training is a job in a worker process (kind "enhance"); this page only draws what the run store holds.
"""
from __future__ import annotations

import streamlit as st

from core.access import first_to_show
from core.jobs import launch
from core.settings import load_settings
from core.train.store import ACTIVE
from ui.enhance_ui import (apply_ui, checkerboard_ui, comparison_ui, enhance_config_ui, enhance_runs,
                           resume_button, tradeoff_ui, training_view)
from ui.jobs import launch_ui
from ui.nav import navigation
from ui.session import current_user

st.set_page_config(page_title="Enhance", page_icon="🔍", layout="wide")
navigation()  # the lab's sidebar, also when a link opens this page first (ui.nav)
st.title("Computer, enhance!")
st.caption("Super-resolution: an upsampler learns to undo a bicubic downscaling. Bicubic is the line to beat; "
           "PSNR and SSIM are measured on the luminance of whole photos it never saw, the border cropped.")


def new_run_ui() -> None:
    """The form -> Start (refused with the reasons when a setting is impossible)."""
    config = enhance_config_ui("enh")
    if config is None:
        return
    problems = config.problems(load_settings().limits)
    for problem in problems:
        st.error(f"Cannot start: {problem}")
    if st.button("Start training", type="primary", disabled=bool(problems), key="enh-start"):
        started = launch_ui(lambda: launch("enhance", config.to_dict(), owner=current_user()))  # one sentence
        if started is not None:
            st.session_state["enh-next-view"] = started.name


with st.expander("New super-resolution run", expanded=True):
    new_run_ui()

runs = enhance_runs()
if not runs:
    st.info("No super-resolution runs yet. Start one above (ESPCN x2 beats bicubic in a few minutes).")
    st.stop()

by_name = {r.name: r for r in runs}
if st.session_state.get("enh-next-view") in by_name:  # a run just started (set before the picker exists)
    st.session_state["enh-view"] = st.session_state.pop("enh-next-view")
if st.session_state.get("enh-view") not in by_name:
    st.session_state["enh-view"] = first_to_show(runs, current_user()).name
name = st.selectbox("Run", list(by_name), key="enh-view",  # no status in the label: it would go stale while it runs
                    format_func=lambda n: f"{n}  ({by_name[n].model} on {by_name[n].data})")
current = by_name[name]

st.subheader("Training")
status = training_view(current.run_dir, key="enh-train")

if status == "finished":
    st.subheader("Before / after")
    comparison_ui(current.run_dir, key="enh-cmp")
    st.subheader("Checkerboard artefacts")
    st.caption("Transposed convolutions whose kernel the stride does not divide overlap unevenly and print a grid "
               "(the book's upsampler); resize-then-convolve and PixelShuffle avoid it.")
    checkerboard_ui(current.run_dir, key="enh-cb")
    st.subheader("Enhance your image")
    apply_ui(current.run_dir, key="enh-apply")
elif status not in ACTIVE:
    st.info("This run did not finish: its comparisons appear once a run finishes.")
    resumed = resume_button(current.run_dir, key="enh-resume")
    if resumed is not None:
        st.session_state["enh-next-view"] = resumed.name
        st.rerun()

st.subheader("PSNR against perception")
tradeoff_ui(runs, key="enh-trade")
