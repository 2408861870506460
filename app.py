"""The lab's entry point (``streamlit run app.py``): the navigation over the pages listed in ui.nav.PAGES, with the
home page (ui.home) first.

With ``DLLAB_RERUN_LOG=FILE`` in the environment each full rerun appends ``end time, seconds, page`` to FILE: how long
the server itself spent on it (bench/bench_serve.py compares that with what the browser waited)."""
import os
import time

import streamlit as st

from ui.nav import navigation
from ui.session import teacher_gate

st.set_page_config(page_title="Deep-learning lab", page_icon="🧪", layout="wide")
_start, _page = time.perf_counter(), navigation()
teacher_gate()  # ?teacher=TOKEN -> a cookie, out of the address bar; the banner while teacher mode is on
try:
    _page.run()
finally:  # st.rerun / st.stop end a run with an exception: still a rerun the server did
    if os.environ.get("DLLAB_RERUN_LOG"):
        with open(os.environ["DLLAB_RERUN_LOG"], "a") as log:
            log.write(f"{time.time():.3f} {time.perf_counter() - _start:.4f} {_page.url_path or 'home'}\n")
