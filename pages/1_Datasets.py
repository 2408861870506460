"""Datasets: look at the data before training on it: class balance, samples, sizes, sounds, texts, skipped files."""
import streamlit as st

from core.data.summary import balance_warnings, size_warnings
from core.models import default_model
from core.train.config import input_shape_for
from ui import data_figures as figs
from ui.data_ui import (audio_grid, clip_ui, data_source_ui, image_grid, load_bundle_ui, skipped_table, source_kind,
                        text_samples)
from ui.nav import navigation

st.set_page_config(page_title="Datasets", page_icon="🗂️", layout="wide")
navigation()  # the lab's sidebar, also when a link opens this page first (ui.nav)
st.title("Datasets")
st.caption("Look before you train: is every class there, balanced, readable, and the same kind of thing?")

source = data_source_ui("datasets")
if not source:
    given = {"Path": (st.session_state.get("datasets_path") or "").strip(), "Upload a zip": st.session_state.get(
        "datasets_zip")}.get(st.session_state.get("datasets_mode"))
    if not given:  # something given but refused: the picker already said why
        st.info("Choose a built-in data set, type a folder or file path, or upload a zip.")
    st.stop()
reload, verify = False, True
if not source.startswith("builtin:"):
    toggle_col, button_col = st.columns([4, 1], vertical_alignment="center")
    if source_kind(source) != "text":  # text is always read whole: there is nothing to decode or not
        verify = toggle_col.toggle("Decode every file (finds corrupt data inside files; slower on big folders)",
                                   value=True, key="datasets_verify")
    reload = button_col.button("Reload from disk", key="datasets_reload", width="stretch")
bundle = load_bundle_ui(source, reload=reload, verify=verify)
if bundle is None:
    st.stop()
summary = bundle.summary()

cols = st.columns(5)
cols[0].metric("Kind", bundle.kind)
cols[1].metric("Classes", len(bundle.classes))
cols[2].metric("Samples", summary["total"])
shape, model = input_shape_for(bundle), default_model(bundle)  # the size the default model trains at
cols[3].metric("Input shape", "×".join(map(str, shape)) or "varies", help=f"as {model}, the default model, takes it")
cols[4].metric("Skipped files", len(bundle.skipped))
for message in balance_warnings(summary):
    st.warning(message)
st.plotly_chart(figs.class_balance(summary), key="balance")

# --- samples per class ----------------------------------------------------------------------------------------
if "datasets_seed" not in st.session_state:
    st.session_state["datasets_seed"] = 0
head, button = st.columns([4, 1], vertical_alignment="bottom")
head.subheader("Samples per class")
if button.button("🔀 Reshuffle", key="datasets_reshuffle", width="stretch"):
    st.session_state["datasets_seed"] += 1
per_class = {"image": 8, "audio": 2, "text": 4}[bundle.kind]
picks = bundle.examples(per_class, seed=st.session_state["datasets_seed"])
{"image": image_grid, "audio": audio_grid, "text": text_samples}[bundle.kind](bundle, picks)

# --- skipped files --------------------------------------------------------------------------------------------
st.subheader("Skipped files")
if bundle.skipped:
    st.caption("These could not be read and are left out of every split.")
    skipped_table(bundle.skipped, source)
else:
    st.success("Every file could be read.")

# --- kind-specific checks -------------------------------------------------------------------------------------
if bundle.kind == "image":
    st.subheader("Image sizes")
    st.caption(f"Originals, from the file headers. Training resizes every image to {shape[-1]}×{shape[-1]} with "
               f"{shape[0]} channel(s): the size {model}, the default model for this data, takes.")
    st.plotly_chart(figs.image_sizes(summary), key="sizes")
    st.dataframe(figs.size_table(summary), hide_index=True)
    for message in size_warnings(summary):
        st.warning(message)
elif bundle.kind == "audio":
    st.subheader("One clip up close")
    clip_ui(bundle, "datasets_clip")
    st.subheader("Durations and sample rates")
    st.plotly_chart(figs.durations(summary), key="durations")
    st.plotly_chart(figs.sample_rates(summary), key="rates")
else:
    st.subheader("Tokens and vocabulary")
    left, right = st.columns(2)
    left.plotly_chart(figs.token_lengths(summary), key="lengths")
    right.plotly_chart(figs.vocab_curve(summary), key="vocab")
    st.plotly_chart(figs.top_tokens(summary), key="top")
    if summary["non_utf8_lines"]:
        st.info(f"{summary['non_utf8_lines']} line(s) were not UTF-8 and were read as cp1252/latin-1.")

with st.expander("Full summary (JSON, as `python -m core inspect SOURCE --json` prints it)"):
    st.json(summary, expanded=False)
