"""Train: configure and launch a run, watch it live, compare runs, look inside the result.

Runs execute in a worker process and are read back from the run store, so a refresh, a second tab or an app
restart shows the same runs.
"""
from __future__ import annotations

import streamlit as st

from core.access import first_to_show
from core.train.store import ACTIVE
from core.train.sizes import final_size_problems
from core.train.worker import launch, launch_problems, launch_warnings
from ui import runs as runs_ui
from ui.data_ui import data_index_ui
from ui.debug_jobs_ui import debug_section
from ui.debug_ui import checkpointing_ui
from ui.jobs import launch_ui
from ui.nav import navigation
from ui.page_state import begin, publish, recall, shareable, url_data_source
from ui.run_list import delete_ui, my_runs, runs_browser
from ui.session import current_user
from ui.train_ui import data_ui, train_config_ui

st.set_page_config(page_title="Train", page_icon="🏋️", layout="wide")
navigation()  # the lab's sidebar, also when a link opens this page first (ui.nav)
begin("train")  # settings survive leaving the page; the URL holds them (ui.page_state)
url_data_source()
st.title("Train")
st.caption("Pick data and a model, start a run, and watch loss, accuracy and the activations inside the network.")


def new_run_ui() -> str | None:
    """Data -> settings -> Start (refused with the reasons when a setting is impossible); returns the source."""
    source = data_ui("train-data")
    if not source:
        st.info("Choose a data source to configure a run.")
        return None
    bundle = data_index_ui(source)  # counts and kind from the file index: nothing decoded here (the worker loads)
    if bundle is None:
        return source
    st.caption(f"{bundle.kind} data, {len(bundle.classes)} classes, "
               f"{len(bundle.splits['train'])} training / {len(bundle.splits['val'])} validation examples")
    config = train_config_ui(source, bundle.kind, key="train", bundle=bundle)
    config = config.replace(checkpoint_segments=checkpointing_ui(source, bundle, config.model, key="train-ckpt"))
    size = (getattr(bundle, "input_shape", None) or [None])[-1]  # images: the side the model is built for
    problems = launch_problems(config, bundle.kind) + final_size_problems(config.size_schedule, size)
    for problem in problems:
        st.error(f"Cannot start: {problem}")
    for warning in launch_warnings(config, len(bundle.splits["train"])):
        st.warning(f"Check: {warning}.")
    if st.button("Start training", type="primary", disabled=bool(problems), key="train-start"):
        run_dir = launch_ui(lambda: launch(config, kind=bundle.kind, owner=current_user()))
        if run_dir is None:  # refused (a limit, the quota) or failed (disk, database): said on the page
            return source
        st.session_state["train-next-view"] = run_dir.name  # show the new run below
        st.session_state["train-form-open"] = False  # fold the form: the live view moves up
        st.session_state["train-toast"] = f"Started {run_dir.name}: it trains in a worker process; live view below."
        st.rerun()  # draw the page again with the form folded and the new run chosen
    return source


if "train-toast" in st.session_state:  # shown after the rerun that follows a start
    toast = st.session_state.pop("train-toast")
    st.toast(toast, icon="🗑️" if toast.startswith("Deleted") else "🚀")  # not a rocket for a deletion
with st.expander("New run", expanded=st.session_state.get("train-form-open", True)):
    source = new_run_ui()


def runs_ui_section() -> None:
    """The run picker, the chosen run's live view, resume, results and delete, and the table of all runs."""
    runs = my_runs()  # this session's training runs and those on shared data (all of them for the teacher)
    if not runs:
        st.info("No runs yet. Start one above; it will appear here while it trains.")
        return
    by_name = {r.name: r for r in runs}
    if st.session_state.get("train-next-view") in by_name:  # a run just started (set before the picker exists)
        st.session_state["train-view"] = st.session_state["train-scroll-to"] = st.session_state.pop("train-next-view")
    first = getattr(first_to_show(runs, current_user()), "name", None)  # this student's latest usable run, ...
    shown = recall("train-view", first, "run")  # back on the page, or a link naming a run (?run=)
    if st.session_state.get("train-view") not in by_name:
        st.session_state["train-view"] = shown if shown in by_name else first
    name = st.selectbox("Run", list(by_name), key="train-view", help="the live view below follows this run",
                        format_func=lambda n: f"{n}  ({by_name[n].model} on {by_name[n].data})")
    if name is None:  # served, and only other people's failed runs to see: open on none of them
        return runs_browser(key="runs")
    current = by_name[name]

    st.subheader("Progress", anchor="live-view")
    if st.session_state.pop("train-scroll-to", None) == current.name:
        runs_ui.scroll_to("live-view", current.name)  # the run just started: bring its live view into sight
    if runs_ui.live_view(current.run_dir, key="live") not in ACTIVE:
        resumed = runs_ui.resume_button(current.run_dir, key="resume", owner=current_user())
        if resumed is not None:
            st.session_state["train-next-view"] = resumed.name
            st.rerun()
        st.subheader("Results")
        runs_ui.results_view(current.run_dir, key="results")
        st.subheader("Debug: profile and memory", anchor="debug")
        debug_section(current.run_dir, key="debug", owner=current_user())
    if delete_ui(current, key="delete"):
        st.session_state["train-toast"] = f"Deleted {current.name}."
        st.rerun()
    st.subheader("All runs")
    runs_browser(key="runs")


runs_ui_section()
publish(extra={"data": shareable(source)})  # remember the settings; put them in the URL
