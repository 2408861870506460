"""LR Finder: a learning-rate range test on the model and data you will train, its suggestions and how far to
trust them, and the chosen LR handed to the Train page.

The sweep runs as a job (kind 'lr_find') in a worker process, never in the server: the page starts it and watches
it (ui.jobs.watch). The page follows the sweep this session started, by its run id (session state and ``?job=``),
so a reload finds it again and a classmate's sweep with the same settings is never shown instead. A result is
shown only for the settings it was found with.
"""

import streamlit as st

from core.jobs import launch
from core.train.checks import batch_warning, train_problems
from core.train.lr_job import lr_job_config, matching_job
from ui.data_ui import data_index_ui
from ui.jobs import bind_job, bound_job, launch_ui, watch
from ui.lr_ui import lr_config_ui, sweep_ui, sweep_view
from ui.nav import navigation
from ui.page_state import begin, publish, shareable, url_data_source
from ui.runs import scroll_to
from ui.session import current_user, my_runs
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
    started = launch_ui(lambda: launch("lr_find", job_config, owner=user), "Cannot run")
    if started is not None:
        bind_job("job", started.name)  # the page follows this session's own sweep, by its run id
        st.session_state["lr-scroll-to"] = started.name

sweeps = my_runs("lr_find")
# this session's sweep (or the one a link names) for these settings; never a classmate's look-alike
job = bound_job("job", sweeps, lambda r: matching_job(job_config, [r]) is not None)
if job is None:
    st.info("Run the range test to see the loss against the learning rate."
            + (" (Earlier range tests were for other settings: a result is shown only for the settings it was "
               "found with.)" if sweeps else ""))
    st.stop()

described = f"{config.model} on {source}, {config.optimizer}, batch {config.batch_size}"
st.subheader(f"Result: {described}", anchor="lr-result")
if st.session_state.pop("lr-scroll-to", None) == job.name:
    scroll_to("lr-result", job.name)  # the sweep just started: its progress in sight, not below the fold
watch(job.run_dir, key="lr-job", view=lambda store, info: sweep_view(store, info, config, source))
