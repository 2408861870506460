"""Inspect: look inside a trained model (layers, shapes, parameters, receptive field), see where it looks
(Grad-CAM), ask it what a class looks like (backquery), and take it out of the lab (export)."""
from __future__ import annotations

import streamlit as st

from ui.ensemble_ui import ensemble_view
from ui.inspect_jobs import export_view, visual_view
from ui.inspect_ui import cam_view, inspect_source_ui, layers_view, load_target_ui, stn_view
from ui.nav import navigation

st.set_page_config(page_title="Inspect", page_icon="🔬", layout="wide")
navigation()  # the lab's sidebar, also when a link opens this page first (ui.nav)
st.title("Inspect")
st.caption("What is inside a trained model, where it looks, what it thinks a class looks like, and how to take it "
           "out of the lab.")

where = inspect_source_ui("inspect-source")
loaded = load_target_ui(where)
if loaded is None:
    st.stop()
target, lock, rows = loaded

views = ["Layers", "Where it looks", "Class visualisation", "Export", "Ensemble"]
if hasattr(target.model, "affine"):
    views.insert(3, "Spatial transformer")
view = st.radio("View", views, horizontal=True, key="inspect-view")

if view == "Layers":
    layers_view(target, rows, key="inspect-layers")
elif view == "Where it looks":
    cam_view(target, lock, rows, key="inspect-cam")
elif view == "Class visualisation":
    visual_view(where, target, lock, key="inspect-visual")
elif view == "Spatial transformer":
    stn_view(target, lock, key="inspect-stn")
elif view == "Ensemble":
    ensemble_view(where, target, key="inspect-ensemble")
else:
    export_view(where, target, key="inspect-export")
