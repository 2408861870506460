"""LR Finder: a learning-rate range test on the model and data you will train, its suggestions and how far to
trust them, and the chosen LR handed to the Train page.

The sweep runs as a job (kind 'lr_find') in a worker process, never in the server: the page starts it and polls it.
A result is shown only for the settings it was found with; changing them back, or reloading the page, finds it
again in the run store.
"""
from __future__ import annotations

import streamlit as st

from core.access import visible_runs
from core.jobs import launch
from core.train.checks import batch_warning, train_problems
from core.train.lr_job import lr_job_config, matching_job, read_report
from core.train.store import list_runs
from ui.data_ui import data_index_ui
from ui.jobs import job_ui
from ui.lr_ui import (live_sweep_ui, lr_config_ui, lr_figure, no_clear_drop_text, pick_lr_ui, suggestions_table,
                      sweep_ui)
from ui.nav import navigation, page
from ui.page_state import begin, publish, shareable, url_data_source
from ui.runs import scroll_to
from ui.session import current_user, is_teacher
from ui.train_ui import data_ui

st.set_page_config(page_title="LR Finder", page_icon="📉", layout="wide")
navigation()  # the lab's sidebar, also when a link opens this page first (ui.nav)
begin("lr")  # settings survive leaving the page; the URL holds them (ui.page_state)
url_data_source()
st.title("LR Finder")
st.caption("Train for a few batches while the learning rate grows from tiny to huge, and watch the loss: it falls "
           "fastest somewhere before it blows up. The model and optimizer are left exactly as they were.")

source = data_ui("lr-data")
if not source:
    st.info("Choose a data source to run the range test on.")
    st.stop()
bundle = data_index_ui(source)  # kind and counts from the file index: the sweep's worker loads the data
if bundle is None:
    st.stop()

with st.expander("Model and optimizer (as on the Train page)", expanded=True):
    config = lr_config_ui(source, bundle.kind, key="lr", bundle=bundle)
sweep, n_seeds = sweep_ui("lr")
publish(extra={"data": shareable(source)})
job_config = lr_job_config(config, sweep, range(config.seed, config.seed + n_seeds))
problems = sweep.problems() + train_problems(config, bundle.kind)
for problem in problems:
    st.error(f"Cannot run: {problem}")
if warning := batch_warning(config.batch_size, len(bundle.splits["train"])):
    st.warning(f"Check: {warning}.")

user = current_user()
if st.button("Run the range test", type="primary", disabled=bool(problems), key="lr-run"):
    try:
        st.session_state["lr-scroll-to"] = launch("lr_find", job_config, owner=user).name
    except ValueError as err:  # refused (a setting, a full queue): say so, keep the page
        st.error(f"Cannot run: {err}")

sweeps = visible_runs(list_runs(kind="lr_find"), user, teacher=is_teacher())
job = matching_job(job_config, sweeps)
if job is None:
    st.info("Run the range test to see the loss against the learning rate."
            + (" (Earlier range tests were for other settings: a result is shown only for the settings it was "
               "found with.)" if sweeps else ""))
    st.stop()

described = f"{config.model} on {source}, {config.optimizer}, batch {config.batch_size}"
st.subheader(f"Result: {described}", anchor="lr-result")
if st.session_state.pop("lr-scroll-to", None) == job.name:
    scroll_to("lr-result", job.name)  # the sweep just started: its progress in sight, not below the fold
status = job_ui(job.run_dir, key="lr-job", live=live_sweep_ui)
report = read_report(job.run_dir) if status == "finished" else None
if report is None:
    st.stop()

for notice in report.notices:
    st.caption(f"ℹ️ {notice}")
if not report.suggestions:
    st.warning(no_clear_drop_text(report))
chart = st.container()
if report.suggestions:
    st.table(suggestions_table(report).set_index("suggestion").rename_axis(None))  # static: long texts wrap
chosen = pick_lr_ui(report, key=f"lr-{job.name}") if report.suggestions else None
with chart:
    st.plotly_chart(lr_figure(report, chosen), key="lr-chart")

if chosen is not None and st.button("Use for training", type="primary", key="lr-use"):
    st.session_state["lr_for_training"] = float(chosen)
    st.session_state["lr_for_training_from"] = {"model": config.model, "optimizer": config.optimizer,
                                                "batch_size": config.batch_size, "data": source, "job": job.name}
handed = st.session_state.get("lr_for_training")
if handed and (st.session_state.get("lr_for_training_from") or {}).get("job") == job.name:  # from this result
    st.success(f"Learning rate {handed:.2e} will be pre-filled on the Train page for {config.model} on {source}.")
    if st.button("Go to Train →", key="lr-go-train"):
        st.switch_page(page("4_Train.py"))
