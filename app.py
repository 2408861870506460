"""The lab's entry point (``streamlit run app.py``): the navigation over the pages listed in ui.nav.PAGES, with the
home page (ui.home) first."""
import streamlit as st

from ui import warm_imports
from ui.nav import navigation
from ui.session import teacher_gate

warm_imports()
st.set_page_config(page_title="Deep-learning lab", page_icon="🧪", layout="wide")
_page = navigation()
teacher_gate()  # ?teacher=TOKEN -> a cookie, out of the address bar; the banner while teacher mode is on
_page.run()
