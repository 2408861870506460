"""LR Finder: a learning-rate range test on the model and data you will train, its suggestions and how far to
trust them, and the chosen LR handed to the Train page."""
from __future__ import annotations

import streamlit as st

from core.train.checks import batch_warning, train_problems
from core.train.lr_finder import find_lr_for
from ui.data_ui import load_bundle_ui
from ui.lr_ui import lr_config_ui, lr_figure, pick_lr_ui, suggestions_table, sweep_ui
from ui.train_ui import data_ui

st.set_page_config(page_title="LR Finder", page_icon="📉", layout="wide")
st.title("LR Finder")
st.caption("Train for a few batches while the learning rate grows from tiny to huge, and watch the loss: it falls "
           "fastest somewhere before it blows up. The model and optimizer are left exactly as they were.")

source = data_ui("lr-data")
if not source:
    st.info("Choose a data source to run the range test on.")
    st.stop()
bundle = load_bundle_ui(source)
if bundle is None:
    st.stop()

with st.expander("Model and optimizer (as on the Train page)", expanded=True):
    config = lr_config_ui(source, bundle.kind, key="lr", bundle=bundle)
sweep, n_seeds = sweep_ui("lr")
problems = sweep.problems() + train_problems(config, bundle.kind)
for problem in problems:
    st.error(f"Cannot run: {problem}")
if warning := batch_warning(config.batch_size, len(bundle.splits["train"])):
    st.warning(f"Check: {warning}.")

if st.button("Run the range test", type="primary", disabled=bool(problems), key="lr-run"):
    bar = st.progress(0.0, text="starting…")

    def progress(done: int, total: int, lr: float, loss: float, seed_index: int) -> None:
        bar.progress(min(1.0, (seed_index * total + done) / (n_seeds * total)),
                     text=f"sweep {seed_index + 1}/{n_seeds}: step {done}/{total}, lr {lr:.1e}, loss {loss:.3f}")

    try:
        report = find_lr_for(config, sweep, bundle=bundle, seeds=range(config.seed, config.seed + n_seeds),
                             callback=progress)
    except (ValueError, RuntimeError) as err:  # a setting the model cannot take, out of memory: say so, keep going
        st.error(f"The range test failed: {err}")
        st.stop()
    finally:
        bar.empty()
    st.session_state["lr_report"] = report
    st.session_state["lr_report_for"] = f"{config.model} on {source}, {config.optimizer}, batch {config.batch_size}"
    st.session_state["lr_report_settings"] = {"model": config.model, "optimizer": config.optimizer,
                                              "batch_size": config.batch_size, "data": source}

report = st.session_state.get("lr_report")
if report is None:
    st.info("Run the range test to see the loss against the learning rate.")
    st.stop()

described = st.session_state.get("lr_report_for")
st.subheader(f"Result: {described}" if described else "Result")
for notice in report.notices:
    st.caption(f"ℹ️ {notice}")
first = report.results[0]
if not first.suggestions:
    st.warning("No suggestion: the loss never fell. Widen the range (a larger end LR) or use more steps.")
chart = st.container()
st.table(suggestions_table(report).set_index("suggestion").rename_axis(None))  # static: long explanations wrap
chosen = pick_lr_ui(report, key="lr") if first.suggestions else None
with chart:
    st.plotly_chart(lr_figure(report, chosen), key="lr-chart")

if chosen is not None and st.button("Use for training", type="primary", key="lr-use"):
    st.session_state["lr_for_training"] = float(chosen)
    st.session_state["lr_for_training_from"] = st.session_state.get("lr_report_settings")
handed = st.session_state.get("lr_for_training")
if handed:
    st.success(f"Learning rate {handed:.2e} will be pre-filled on the Train page.")
    if st.button("Go to Train →", key="lr-go-train"):
        st.switch_page("pages/4_Train.py")
