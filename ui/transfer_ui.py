"""The Adversarial page's black-box tab: choose surrogates and targets trained on the same data, launch the
'attack_transfer' job (core.attacks.transfer), and show its tables (rows craft the attack, columns are evaluated)."""


import plotly.graph_objects as go
import streamlit as st

from core.attacks.methods import METHODS
from core.attacks.transfer import KIND, TransferResult, by_data, config_for, read_transfer
from core.jobs import launch
from ui import attack_figures as af
from ui.jobs import bind_job, bound_job, launch_ui, watch

READING = ("Each cell is the target's accuracy (column) on validation samples the surrogate (row) attacked with "
           "its own gradient; the target's gradient is never used. The framed diagonal is the ordinary white-box "
           "attack. Low accuracy off the diagonal means the attack transfers: a model that looks robust only on its "
           "own diagonal (label smoothing, distillation) is hiding its gradient, not robust.")


def transfer_ui(key: str) -> None:
    """Configure and launch a transfer table; show the newest one this session may see (live while it runs)."""
    from core.attacks import run_problems
    from ui.attack_ui import attackable_runs

    runs = {str(r.run_dir): r for r in attackable_runs() if not run_problems(r.run_dir)}
    groups = {d: rs for d, rs in by_data(list(runs)).items()}
    if not groups:
        st.info("No trained image or audio runs yet: train two or three models on the same data (e.g. a CNN and "
                "an MLP on builtin:digits), then attack one with another here.")
    else:
        _launch_ui(groups, runs, key)
    _results_ui(key)


def _launch_ui(groups: dict, runs: dict, key: str) -> None:
    data = st.selectbox("Data (only runs trained on the same data share a table)", list(groups),
                        key=f"{key}-data", format_func=lambda d: f"{d} ({len(groups[d])} runs)")
    choices = groups[data]
    label = lambda r: f"{runs[r].name} ({runs[r].model})"  # noqa: E731
    c1, c2 = st.columns(2)
    surrogates = c1.multiselect("Surrogates (craft the attack)", choices, default=choices[:3], format_func=label,
                                key=f"{key}-surrogates")
    targets = c2.multiselect("Targets (are evaluated)", choices, default=choices[:3], format_func=label,
                             key=f"{key}-targets")
    d1, d2, d3, d4 = st.columns(4)
    eps = d1.number_input("Epsilon (pixel units)", 0.0, 1.0, 0.1, 0.01, format="%.3f", key=f"{key}-eps")
    methods = d2.multiselect("Attacks", list(METHODS), [m for m in ("fgsm", "pgd") if m in METHODS],
                             format_func=lambda m: METHODS[m].label, key=f"{key}-methods")
    limit = d3.number_input("Samples", 10, 5000, 500, 10, key=f"{key}-limit",
                            help="a random subset of the validation split, the same one for every run (seed 0)")
    steps = d4.number_input("BIM / PGD steps", 1, 100, 10, key=f"{key}-steps")
    config = config_for(surrogates, targets, eps=float(eps), methods=list(methods), limit=int(limit),
                        steps=int(steps))
    problems = config.problems()
    for problem in problems:
        st.error(f"Cannot make the table: {problem}")
    if st.button("Make the transfer table", type="primary", disabled=bool(problems), key=f"{key}-start",
                 help="runs in a worker process; you can leave the page and come back"):
        started = launch_ui(lambda: launch(KIND, config.to_dict(), owner=_user()[0]), "Cannot make the table")
        if started is not None:
            bind_job(f"{key}-bound", started.name)


def _user() -> tuple[str | None, bool]:
    from ui.session import current_user, is_teacher

    return current_user(), is_teacher()


def _results_ui(key: str) -> None:
    from core.access import is_own
    from ui.session import my_runs

    user, teacher = _user()

    jobs = [r for r in my_runs(KIND) if teacher or is_own(r, user)]
    bound = bound_job(f"{key}-bound", jobs)  # this session's own table (by run id), never a classmate's
    if bound is None:
        return
    chosen = st.selectbox("Transfer table", jobs, index=jobs.index(bound), key=f"{key}-job",
                          format_func=lambda i: i.name)  # no status here: it would go stale while the job runs
    bind_job(f"{key}-bound", chosen.name)
    watch(chosen.run_dir, f"{key}-poll", lambda store, info: _table(store.run_dir, key)
          if info.status == "finished" else None)


def _table(run_dir, key: str) -> None:
    """The finished transfer table: one heatmap per attack, the white-box diagonal framed."""
    result = read_transfer(run_dir)
    if result is None:
        st.warning("This job finished without a table.")
        return
    st.caption(f"eps {af.eps_text(result.eps)} · {result.n} validation samples · {result.seconds:.1f} s")
    cols = st.columns(len(result.methods))
    for col, method in zip(cols, result.methods):
        col.plotly_chart(transfer_figure(result, method), key=f"{key}-fig-{method}")
    st.caption(READING)


def transfer_figure(result: TransferResult, method: str) -> go.Figure:
    """Heatmap of target accuracy: rows surrogates, columns targets, percentages written in, the white-box
    (same run) cells framed, and each target's clean accuracy in its column label."""
    z = result.accuracy[method]
    text = [[f"{a:.0%}" for a in row] for row in z]
    columns = [f"{_short(t)}<br>clean {c:.0%}" for t, c in zip(result.targets, result.clean)]
    fig = go.Figure(go.Heatmap(z=z, x=columns, y=[_short(s) for s in result.surrogates], text=text,
                               texttemplate="%{text}",
                               zmin=0, zmax=1, colorscale="RdYlGn",
                               colorbar=dict(title="accuracy", tickformat=".0%"),
                               hovertemplate="crafted on %{y}<br>evaluated on %{x}<br>accuracy %{z:.1%}"
                                             "<extra></extra>"))
    for i, s in enumerate(result.surrogates):
        if s in result.targets:
            j = result.targets.index(s)
            fig.add_shape(type="rect", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5, y1=i + 0.5, line=dict(width=3))
    fig.update_layout(title=f"{METHODS[method].label if method in METHODS else method}: target accuracy", height=200 + 60 * len(z),
                      xaxis_title="target (evaluated)", yaxis_title="surrogate (crafts)", yaxis_autorange="reversed",
                      xaxis_tickangle=0,
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig


def _short(run_name: str) -> str:
    """A run's name without its date: '20260101-120000-cnn-digits' -> '120000-cnn-digits'."""
    head, _, rest = run_name.partition("-")
    return rest if head.isdigit() and len(head) == 8 and rest else run_name
