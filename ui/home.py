"""The home page: what each page is for, the device in use, the built-in data, the most recent runs."""
from __future__ import annotations

import streamlit as st

from core.data import BUILTINS, builtin_ready, ensure_builtin
from core.device import describe_device
from core.settings import load_settings


def home() -> None:
    """Draw the home page (the default page of ui.nav)."""
    from ui.nav import PAGES, page, title
    from ui.run_list import my_runs, runs_dataframe

    st.set_page_config(page_title="Deep-learning lab", page_icon="🧪", layout="wide")
    st.title("Deep-learning lab")
    st.caption("Point-and-click PyTorch for learning and teaching. Everything here also works offline on built-in "
               "data.")
    st.info("**Start here:** open **Datasets** on `builtin:digits` to see the data, then **Train** with the "
            "defaults (a run takes seconds), then look inside it on **Inspect** or attack it on **Adversarial**.",
            icon="👋")
    for file, icon, purpose in PAGES:
        try:
            st.page_link(page(file), label=f"**{title(file)}** — {purpose}", icon=icon)
        except KeyError:
            continue  # a page not built yet in this checkout
    settings = load_settings()
    left, right = st.columns(2)
    with left:
        _device_and_data(settings)
    with right:
        st.subheader("Recent runs")
        runs = my_runs(runs_dir=settings.runs_dir)[:8]
        if runs:
            runs_dataframe(runs, key="home-runs", columns=("run", "status", "best val acc"))
            st.page_link(page("4_Train.py"), label="All runs, live view and results →")
        else:
            st.info(f"No runs yet in `{settings.runs_dir}`. Start one on the Train page or with `./lab core train`.")


def _device_and_data(settings) -> None:
    st.subheader("Device")
    st.write(f"Computing on **{describe_device()}**.")
    st.subheader("Built-in data")
    st.caption(f"Generated on first use into `{settings.cache_dir}`; nothing is downloaded.")
    for name, description in BUILTINS.items():
        mark = "✅ ready" if builtin_ready(name) else "⏳ made on first use"
        st.write(f"`builtin:{name}` — {description} · {mark}")
    if not all(builtin_ready(n) for n in BUILTINS) and st.button("Prepare all built-in data now"):
        with st.spinner("Writing the built-in data sets…"):
            for name in BUILTINS:
                ensure_builtin(name)
        st.rerun()
