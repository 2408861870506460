"""A one-line app for tests/e2e/test_session_e2e.py: shows who ui.session says the user is."""
import streamlit as st

from ui.session import current_user, is_teacher

st.markdown(f"user={current_user()} teacher={is_teacher()}")
