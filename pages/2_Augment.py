"""Augment: build an augmentation pipeline and see what it does to your data before training on it."""
from __future__ import annotations

import streamlit as st

from ui.augment_sections import SECTIONS
from ui.nav import navigation

st.set_page_config(page_title="Augment", layout="wide")
navigation()  # the lab's sidebar, also when a link opens this page first (ui.nav)
st.title("Augment")
st.caption("Too weak does nothing; too strong teaches the wrong thing. Look at the draws before you train: "
           "the pipeline here is exactly what the Train page applies.")

section = st.radio("Section", list(SECTIONS), horizontal=True, key="augment_section", label_visibility="collapsed")
SECTIONS[section]()
