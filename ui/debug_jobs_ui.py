"""The Train page's debugging jobs on a finished run: Profile (time and memory per layer, top operators, a flame
graph, the data loader's share, the Chrome trace) and Memory (gradient checkpointing with 0, 2, 4, 8 segments).
Each is a job (core.debug.jobs) shown with ui.jobs.job_ui, so it survives a reload."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.debug.jobs import (DEFAULT_STEPS, latest_job, memory_job_config, memory_problems, profile_job_config,
                             profile_problems, read_memory, read_profile)
from core.debug.profile import MAX_STEPS
from core.jobs import launch
from core.train.store import ACTIVE
from ui import debug_figures as df
from ui.debug_ui import device_panel
from ui.jobs import launch_ui, watch

VIEWS = ("Profile", "Memory")


def _start(kind: str, config: dict, problems: list[str], key: str, owner: str | None) -> None:
    for problem in problems:
        st.error(f"Cannot start: {problem}")
    label = {"profile": f"Profile {config.get('steps')} steps", "memory": "Measure memory with 0, 2, 4, 8 segments"}
    if st.button(label[kind], key=f"{key}-{kind}-start", disabled=bool(problems)):
        started = launch_ui(lambda: launch(kind, config, owner=owner))  # any failure: one sentence
        if started is not None:
            st.session_state[f"{key}-{kind}-job"] = str(started)


def _job(kind: str, run_dir: Path, key: str, owner: str | None) -> Path | None:
    """This session's job of ``kind`` on the run, else the newest one there is."""
    chosen = st.session_state.get(f"{key}-{kind}-job")
    if chosen and Path(chosen).is_dir():
        return Path(chosen)
    return latest_job(kind, run_dir, owner)


def _profile(result, key: str) -> None:
    st.info(result.summary)
    c1, c2 = st.columns(2)
    c1.plotly_chart(df.layer_time_figure(result), key=f"{key}-ptime", width="stretch")
    c2.plotly_chart(df.flame_figure(result), key=f"{key}-flame", width="stretch")
    layers = pd.DataFrame([lp.__dict__ for lp in result.layers])
    layers[["forward_kb", "backward_kb"]] = layers[["forward_bytes", "backward_bytes"]] / 1024
    st.dataframe(layers[["layer", "forward_ms", "backward_ms", "forward_kb", "backward_kb", "share"]],
                 hide_index=True, key=f"{key}-players",
                 column_config={"share": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0),
                                "forward_kb": st.column_config.NumberColumn(format="%.0f"),
                                "backward_kb": st.column_config.NumberColumn(format="%.0f")})
    st.caption(f"Per step: {', '.join(f'{k} {v:.2f} ms' for k, v in result.phases_ms.items())}; the data loader "
               f"takes {result.data_share:.0%}. Memory: allocated minus freed during the layer's pass.")
    st.dataframe(pd.DataFrame([op.__dict__ for op in result.ops]), hide_index=True, key=f"{key}-pops")
    _trace_download(result.trace, key)


def _trace_download(trace: str | None, key: str) -> None:
    path = Path(trace) if trace else None
    if path is None or not path.is_file():
        return
    st.download_button(f"Download the Chrome trace ({path.stat().st_size / 2**20:.1f} MB)", path.read_bytes,
                       file_name=path.name, mime="application/json", key=f"{key}-trace", on_click="ignore",
                       help="open it in chrome://tracing or https://ui.perfetto.dev")


def _memory(result, key: str) -> None:
    st.plotly_chart(df.memory_figure(result), key=f"{key}-mem", width="stretch")
    base = result.points[0].activation_bytes or 1
    rows = [{"segments": p.segments, "memory (MiB)": p.activation_bytes / 2**20,
             "saved": 1 - p.activation_bytes / base, "step (ms)": p.step_ms} for p in result.points]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"{key}-memtab",
                 column_config={"saved": st.column_config.NumberColumn(format="percent")})
    st.caption(f"Measured: {result.measure}, on {result.device}.")
    if result.note:
        st.caption(result.note)


def debug_section(run_dir: str | Path, key: str, owner: str | None = None) -> None:
    """Profile or Memory for a finished training run: start the job, follow it, show its result."""
    run_dir = Path(run_dir)
    view = st.radio("Debug", VIEWS, horizontal=True, key=f"{key}-view", label_visibility="collapsed")
    if view == "Profile":
        steps = st.number_input("Steps to profile", 1, MAX_STEPS, DEFAULT_STEPS, key=f"{key}-steps")
        config = profile_job_config(run_dir, int(steps))
        _start("profile", config, profile_problems(config), key, owner)
    else:
        config = memory_job_config(run_dir)
        _start("memory", config, memory_problems(config), key, owner)
    kind = view.lower()
    job = _job(kind, run_dir, key, owner)
    if job is None:
        return

    def _view(store, info) -> None:
        if info.status in ACTIVE:
            device_panel(f"{key}-dev", store)
        elif info.status == "finished":
            result = read_profile(job) if kind == "profile" else read_memory(job)
            if result is not None:
                (_profile if kind == "profile" else _memory)(result, f"{key}-{kind}")

    watch(job, f"{key}-{kind}", _view)
