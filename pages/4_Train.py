"""Train: configure and launch a run, watch it live, compare runs, look inside the result.

Runs execute in a worker process and are read back from the run store, so a refresh, a second tab or an app
restart shows the same runs.
"""
from __future__ import annotations

import streamlit as st

from core.train.store import ACTIVE, list_runs
from core.train.worker import launch, launch_problems, launch_warnings
from ui import runs as runs_ui
from ui.data_ui import data_index_ui
from ui.train_ui import data_ui, train_config_ui

st.set_page_config(page_title="Train", page_icon="🏋️", layout="wide")
st.title("Train")
st.caption("Pick data and a model, start a run, and watch loss, accuracy and the activations inside the network.")


def new_run_ui() -> None:
    """Data -> settings -> Start (refused with the reasons when a setting is impossible)."""
    source = data_ui("train-data")
    if not source:
        st.info("Choose a data source to configure a run.")
        return
    bundle = data_index_ui(source)  # counts and kind from the file index: nothing decoded here (the worker loads)
    if bundle is None:
        return
    st.caption(f"{bundle.kind} data, {len(bundle.classes)} classes, "
               f"{len(bundle.splits['train'])} training / {len(bundle.splits['val'])} validation examples")
    config = train_config_ui(source, bundle.kind, key="train", bundle=bundle)
    problems = launch_problems(config, bundle.kind)
    for problem in problems:
        st.error(f"Cannot start: {problem}")
    for warning in launch_warnings(config, len(bundle.splits["train"])):
        st.warning(f"Check: {warning}.")
    if st.button("Start training", type="primary", disabled=bool(problems), key="train-start"):
        try:
            st.session_state["train-next-view"] = launch(config, kind=bundle.kind).name  # show the new run below
        except ValueError as err:  # e.g. this server's cap on runs training at once
            st.error(f"Cannot start: {err}")


with st.expander("New run", expanded=True):
    new_run_ui()

runs = list_runs(kind="train")  # GAN runs and other jobs have pages of their own (they are in the table below)
if not runs:
    st.info("No runs yet. Start one above; it will appear here while it trains.")
    st.stop()

by_name = {r.name: r for r in runs}
if st.session_state.get("train-next-view") in by_name:  # a run just started (set before the picker exists)
    st.session_state["train-view"] = st.session_state.pop("train-next-view")
if st.session_state.get("train-view") not in by_name:
    st.session_state["train-view"] = runs[0].name  # the most recent run
name = st.selectbox("Run", list(by_name), key="train-view", help="the live view below follows this run",
                    format_func=lambda n: f"{n}  ({by_name[n].model} on {by_name[n].data})")
current = by_name[name]

st.subheader("Progress")
runs_ui.live_view(current.run_dir, key="live")

if current.status not in ACTIVE:
    resumed = runs_ui.resume_button(current.run_dir, key="resume")
    if resumed is not None:
        st.session_state["train-next-view"] = resumed.name
        st.rerun()
    st.subheader("Results")
    runs_ui.results_view(current.run_dir, key="results")

st.subheader("All runs")
runs_ui.runs_browser(key="runs")
