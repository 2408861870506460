"""GAN: train a GAN live (from the 1010 pattern and the ring of 8 Gaussians to real images), watch for mode collapse,
then walk its latent space: gallery, A -> B with lerp / slerp, seed arithmetic, GIF, saved seeds.

Training is a job in a worker process (kind "gan"); this page only draws what the run store holds.
"""
from __future__ import annotations

import streamlit as st

from core.jobs import launch
from core.settings import load_settings
from core.access import first_to_show
from core.train.store import ACTIVE
from ui.gan_latent_ui import latent_explorer
from ui.gan_ui import gan_config_ui, gan_runs, live_view, resume_button
from ui.jobs import launch_ui
from ui.nav import navigation
from ui.session import current_user

st.set_page_config(page_title="GAN", page_icon="🎭", layout="wide")
navigation()  # the lab's sidebar, also when a link opens this page first (ui.nav)
st.title("GAN lab")
st.caption("Train a generator against a discriminator and watch the game: the losses against their balanced values, "
           "what D says, the generator's output as it learns, and whether it is collapsing onto a few modes.")


def new_run_ui() -> None:
    """Data, model, the four switches -> Start (refused with the reasons when a setting is impossible)."""
    config, probe = gan_config_ui("gan")
    if config is None:
        return
    problems = config.problems(probe, load_settings().limits)
    for problem in problems:
        st.error(f"Cannot start: {problem}")
    if st.button("Start GAN training", type="primary", disabled=bool(problems), key="gan-start"):
        started = launch_ui(lambda: launch("gan", config.to_dict(), owner=current_user()))
        if started is not None:  # (refused or failed: said on the page by launch_ui)
            st.session_state["gan-next-view"] = started.name


with st.expander("New GAN run", expanded=True):
    new_run_ui()

runs = gan_runs()
if not runs:
    st.info("No GAN runs yet. Start one above (toy:ring trains in a minute); it will appear here while it trains.")
    st.stop()

by_name = {r.name: r for r in runs}
if st.session_state.get("gan-next-view") in by_name:  # a run just started (set before the picker exists)
    st.session_state["gan-view"] = st.session_state.pop("gan-next-view")
if st.session_state.get("gan-view") not in by_name:
    st.session_state["gan-view"] = getattr(first_to_show(runs, current_user()), "name", None)  # latest usable
name = st.selectbox("GAN run", list(by_name), key="gan-view",
                    format_func=lambda n: f"{n}  ({by_name[n].model} on {by_name[n].data}, {by_name[n].status})")
if name is None:  # served, and only other people's failed runs to see
    st.stop()
current = by_name[name]

st.subheader("Training")
status = live_view(current.run_dir, key="gan-live")
if status in ("stopped", "interrupted", "failed"):
    resumed = resume_button(current.run_dir, key="gan-resume")
    if resumed is not None:
        st.session_state["gan-next-view"] = resumed.name
        st.rerun()

st.subheader("Latent space")
if status in ACTIVE:
    st.caption("The run is still training: this shows its latest checkpoint.")
latent_explorer(current.run_dir, key="gan-lat", active=current.status in ACTIVE)  # follows new checkpoints
