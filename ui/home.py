"""The home page: what each page is for, the device in use, the built-in data, the most recent runs."""
from __future__ import annotations

import streamlit as st

from core.data import BUILTINS, builtin_ready, ensure_builtin
from core.settings import load_settings
from ui.run_list import my_runs, runs_dataframe


def home(links: list[tuple], train_page) -> None:
    """Draw the home page (ui.nav makes it the default page): ``links`` are (st.Page, title, icon, what it is for)
    of the lab's pages, ``train_page`` the Train page's st.Page (where all runs are)."""
    st.set_page_config(page_title="Deep-learning lab", page_icon="🧪", layout="wide")
    st.title("Deep-learning lab")
    st.caption("Point-and-click PyTorch for learning and teaching. Everything here also works offline on built-in "
               "data.")
    st.info("**Start here:** open **Datasets** on `builtin:digits` to see the data, then **Train** with the "
            "defaults (a run takes seconds), then look inside it on **Inspect** or attack it on **Adversarial**.",
            icon="👋")
    for target, name, icon, purpose in links:
        st.page_link(target, label=f"**{name}** — {purpose}", icon=icon)
    settings = load_settings()
    if not settings.served:
        st.caption("🔒 One person's lab: it listens on this computer only, and whoever opens it may delete any run. "
                   "To open it to a room, set `served = true` in lab.toml (docs/classroom.md).")
    left, right = st.columns(2)
    with left:
        _device_and_data(settings)
    with right:
        st.subheader("Recent runs")
        runs = my_runs(runs_dir=settings.runs_dir)[:8]
        if runs:
            runs_dataframe(runs, key="home-runs", columns=("run", "status", "best val acc"))
            st.page_link(train_page, label="All runs, live view and results →")
        else:
            st.info(f"No runs yet in `{settings.runs_dir}`. Start one on the Train page or with `./lab core train`.")


def _device_and_data(settings) -> None:
    from ui.debug_ui import device_panel

    st.subheader("Device")
    device_panel("home-device")
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
