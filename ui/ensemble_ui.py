"""The Inspect page's Ensemble view: combine the inspected run with other finished runs on the same data.

The work (loading every member, evaluating on the validation split, exporting) is an 'ensemble' job
(core.export.ensemble); this module draws the choice and the result.
"""

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.export.ensemble import MAX_MEMBERS, EnsembleResult, job_config
from core.jobs import read_result
from core.train.evaluate import checkpoint_path
from core.train.run_info import ACTIVE
from ui import inspect_figures as fig
from ui.inspect_jobs import job_ui
from ui.session import my_runs


def _partners(where: str) -> dict[str, str]:
    """Other finished runs with a checkpoint on the same data as ``where``: run dir -> label."""
    runs = my_runs("train")
    mine = next((r for r in runs if str(r.run_dir) == where), None)
    return {str(r.run_dir): f"{r.name}  ({r.model})" for r in runs
            if str(r.run_dir) != where and r.status not in ACTIVE and mine is not None and r.data == mine.data
            and checkpoint_path(r.run_dir) is not None}


def agreement_figure(result: EnsembleResult) -> go.Figure:
    """Heat map of the members' agreement (share of validation examples with the same prediction)."""
    names = [f"{i}: {m}" for i, m in enumerate(result.models)]
    z = [[round(v, 3) for v in row] for row in result.agreement]
    figure = go.Figure(go.Heatmap(z=z, x=names, y=names, zmin=0, zmax=1, colorscale="Blues", text=z,
                                  texttemplate="%{text:.2f}", hovertemplate="%{y} vs %{x}: %{z:.1%}<extra></extra>"))
    figure.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10), title="Agreement between members",
                         yaxis=dict(autorange="reversed"))
    return figure


def ensemble_view(where: str, target, key: str) -> None:
    """Choose partners for the inspected run, combine them in a worker, and show the ensemble against them."""
    if where.startswith("imagenet:"):
        st.info("Ensembles combine the lab's own runs: pick a training run above.")
        return
    st.caption("An ensemble averages the class probabilities of several models (and, second, lets them vote). "
               "Models that make different mistakes correct each other; models that agree on everything add "
               "nothing. Runs trained on the same data can be combined, whatever their models.")
    partners = _partners(where)
    if not partners:
        st.info("No other finished run on this data yet: train one or two more (another model or seed) to "
                "combine them with this one.")
        return
    chosen = st.multiselect("Combine this run with", list(partners), format_func=partners.get,
                            max_selections=MAX_MEMBERS - 1, key=f"{key}-members")
    if not chosen:
        st.info("Choose at least one other run.")
        return
    done = job_ui("ensemble", job_config([where, *chosen]), "Combine", key)
    if done is None:
        return
    _result_view(read_result(done), target, key)


def _result_view(raw: dict, target, key: str) -> None:
    result = EnsembleResult.from_dict({k: v for k, v in raw.items() if k not in ("archive", "message")})
    best = result.member_acc[result.best]
    cols = st.columns(3)
    cols[0].metric("Mean of probabilities", f"{result.mean_acc:.1%}", f"{result.mean_acc - best:+.1%} vs best member")
    cols[1].metric("Majority vote", f"{result.vote_acc:.1%}", f"{result.vote_acc - best:+.1%} vs best member")
    cols[2].metric(f"Best member ({result.models[result.best]})", f"{best:.1%}")
    st.dataframe(pd.DataFrame({"member": result.members, "model": result.models, "parameters": result.params,
                               "val accuracy": [f"{a:.1%}" for a in result.member_acc]}),
                 hide_index=True, key=f"{key}-members-table")
    st.plotly_chart(agreement_figure(result), key=f"{key}-agreement")
    st.write(f"Against the best member, the ensemble **fixes {result.n_fixed}** and **breaks {result.n_broken}** "
             f"of {result.examples} validation examples.")
    for title, examples in (("Fixed", result.fixed), ("Broken", result.broken)):
        if examples and target.kind == "image":
            st.caption(f"{title} (up to {len(examples)}): true / ensemble / best member")
            cols = st.columns(min(len(examples), 6))
            for i, ex in enumerate(examples[:6]):
                x, _ = target.batch([ex.index])
                cols[i].image(fig.display_input(x[0], target.input_kind), width=96,
                              caption=f"{result.classes[ex.true]} / {result.classes[ex.ensemble]} / "
                                      f"{result.classes[ex.best_member]}")
    archive = Path(raw.get("archive") or "")
    if archive.is_file():
        st.download_button("Download the ensemble (state_dicts + ensemble.py)", archive.read_bytes(),
                           file_name="ensemble.zip", key=f"{key}-download", on_click="ignore")
