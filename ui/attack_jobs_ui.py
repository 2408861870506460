"""The Adversarial page's jobs: the accuracy-versus-epsilon sweep (launched as an 'attack_sweep' job, polled from the
run store) and the robustness comparison of several runs (their finished sweeps overlaid)."""

import time
from pathlib import Path

import numpy as np
import streamlit as st

from core.attacks import AttackTarget
from core.attacks.jobs import KIND, read_sweep, sweep_config_for
from core.attacks.methods import METHODS
from core.attacks.runs import SweepConfig, default_epsilons
from core.jobs import launch
from core.models import MODELS
from core.train.store import RunStore
from ui import attack_figures as af
from ui.jobs import bind_job, bound_job, launch_ui, watch

READING = ("Solid lines are FGSM, dashed lines PGD; one colour per run. Read the dashed ones: a model whose FGSM "
           "curve stays high while its PGD curve falls is masking its gradients (label smoothing does this), not "
           "robust; real robustness keeps the PGD curve up.")


def _user() -> tuple[str | None, bool]:
    from ui.session import current_user, is_teacher

    return current_user(), is_teacher()


def sweep_jobs(runs_dir=None) -> dict[str, list]:
    """Attacked run directory -> its attack_sweep jobs (RunInfo), newest first, that this session may see."""
    from ui.session import my_runs

    out: dict[str, list] = {}
    for info in my_runs(KIND, runs_dir):
        try:
            attacked = str(Path(RunStore.open(info.run_dir).config()["run_dir"]).resolve())
        except (OSError, KeyError, ValueError):
            continue
        out.setdefault(attacked, []).append(info)
    return out


def _parse_eps(text: str) -> list:
    values = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            values.append(float(part[:-4]) / 255 if part.endswith("/255") else float(part))
        except ValueError:
            values.append(part)  # kept as given: SweepConfig.problems names it
    return values


def sweep_config_ui(target: AttackTarget, run_dir: Path, key: str) -> SweepConfig:
    """Methods, epsilons (fractions or k/255), a random subset of the split, and the iterative attack's steps."""
    c1, c2 = st.columns([1, 2])
    methods = c1.multiselect("Attacks", list(METHODS), ["fgsm", "pgd"], format_func=af.method_name,
                             key=f"{key}-methods")
    default = ", ".join(f"{e:g}" for e in default_epsilons(target.kind))
    text = c2.text_input("Epsilons (comma-separated; fractions, or k/255 for images)", default, key=f"{key}-eps")
    n_val = len(target.bundle.splits["val"])
    d1, d2 = st.columns(2)
    limit = d1.number_input(f"Samples (0 = the whole validation split, {n_val})", 0, n_val, min(n_val, 500),
                            key=f"{key}-limit", help="a random subset, the same one every time (seed 0)")
    steps = d2.number_input("BIM / PGD steps", 1, 100, 10, key=f"{key}-steps",
                            help="step size 2.5 × eps / steps")
    return sweep_config_for(run_dir, methods=list(methods), epsilons=_parse_eps(text), limit=int(limit),
                            steps=int(steps))


def sweep_ui(target: AttackTarget, run_dir: Path, key: str) -> None:
    """Configure and launch a sweep of this run; show its newest sweep (live while it runs)."""
    config = sweep_config_ui(target, run_dir, key)
    problems = config.problems()
    for problem in problems:
        st.error(f"Cannot run the sweep: {problem}")
    if st.button("Run the sweep", type="primary", disabled=bool(problems), key=f"{key}-start",
                 help="runs in a worker process; you can leave the page and come back"):
        started = launch_ui(lambda: launch(KIND, config.to_dict(), owner=_user()[0]), "Cannot run the sweep")
        if started is not None:
            bind_job("sweep", started.name)  # the page follows this session's own sweep, by its run id
    from core.access import is_own

    user = _user()[0]
    jobs = sweep_jobs().get(str(Path(run_dir).resolve()), [])
    bound = bound_job("sweep", jobs)  # the sweep this session started (or a link names), for this run
    mine = [j for j in jobs if is_own(j, user) or j is bound]  # a classmate's sweep is never picked for you
    if not mine:
        st.info("No sweep of this run yet." + (" (Classmates have swept it; their sweeps are theirs.)"
                                               if jobs else ""))
        return
    names = [j.name for j in mine]
    if st.session_state.get(f"{key}-job") not in names:
        st.session_state[f"{key}-job"] = bound.name if bound is not None else names[0]
    # the label holds no status: the watcher below shows it live (a status here went stale: "(queued)" while it ran)
    chosen = st.selectbox("Sweep", names, key=f"{key}-job", format_func=lambda n: _sweep_label(n, mine))
    bind_job("sweep", chosen)
    sweep_view(target, next(j for j in mine if j.name == chosen).run_dir, key)


def _sweep_label(name: str, jobs: list) -> str:
    info = next(j for j in jobs if j.name == name)
    when = time.strftime("%H:%M:%S", time.localtime(info.created)) if info.created else "?"
    return f"{name} (started {when})"


def sweep_view(target: AttackTarget, job_dir: Path, key: str) -> None:
    """A sweep job in its watcher (ui.jobs.watch): progress while it runs, then the accuracy curves, per-class
    heatmap and examples, drawn inside the watcher."""
    from ui.session import owner_caption

    def _view(store: RunStore, info) -> None:
        owner_caption(info)
        results = read_sweep(job_dir)
        if results:
            _results(target, results, key)

    watch(job_dir, key, _view)


def _results(target: AttackTarget, results: dict, key: str) -> None:
    first = next(iter(results.values()))
    st.plotly_chart(af.sweep_figure(results, f"Accuracy versus epsilon ({first.n} samples)", target.kind),
                    key=f"{key}-curve")
    method = st.radio("Details for", list(results), horizontal=True, format_func=af.method_name,
                      key=f"{key}-detail")
    result = results[method]
    st.plotly_chart(af.per_class_figure(result, target.kind), key=f"{key}-perclass")
    if result.examples is not None:
        example_strip(target, result, key)


def example_strip(target: AttackTarget, result, key: str) -> None:
    """One row per epsilon: the kept samples attacked at that epsilon, captioned true → predicted."""
    ex, classes = result.examples, target.classes
    st.markdown(f"**Examples** ({af.method_name(result.method)}; ✗ = now misclassified)")
    for i, eps in enumerate(result.epsilons):
        cols = st.columns([1.4] + [1] * len(ex.labels), vertical_alignment="center")
        cols[0].markdown(f"eps {af.eps_text(eps, target.kind)}<br>accuracy {result.accuracy[i]:.0%}",
                         unsafe_allow_html=True)
        for col, j in zip(cols[1:], range(len(ex.labels))):
            pred, true = ex.preds[i][j], ex.labels[j]
            mark = "" if pred == true else " ✗"
            caption = f"{classes[true]} → {classes[pred]}{mark}"
            if target.kind == "image":
                col.image(af.to_pil(ex.adversarial[i, j].astype(np.float32), 64), caption=caption)
            else:
                col.caption(caption)


def compare_ui(key: str) -> None:
    """Overlay the newest finished sweep of each chosen run: FGSM solid, PGD dashed, with how to read it."""
    finished = {}  # attacked run -> (its newest sweep job, {method: the newest finished result of that method})
    for attacked, jobs in sweep_jobs().items():
        merged = {}
        for info in jobs:  # newest first
            for method, result in ((read_sweep(info.run_dir) or {}) if info.status == "finished" else {}).items():
                merged.setdefault(method, result)
        if merged:
            finished[attacked] = (jobs[0], dict(sorted(merged.items())))
    _start_sweeps_ui(set(finished), key)
    if not finished:
        st.info("No finished sweeps yet: sweep a few runs (e.g. a plain, a label-smoothed and an adversarially "
                "trained model), then compare them here.")
        return
    labels = {a: f"{run_label(a)} · run {Path(a).name}" for a in finished}
    chosen = st.multiselect("Runs to compare", list(finished), default=list(finished)[:4], key=f"{key}-runs",
                            format_func=labels.get)
    if not chosen:
        return
    kinds = {MODELS[finished[a][0].model].kind for a in chosen if finished[a][0].model in MODELS}
    kind = kinds.pop() if len(kinds) == 1 else "mixed"
    curves = {labels[a]: finished[a][1] for a in chosen}
    st.plotly_chart(af.compare_figure(curves, kind=kind), key=f"{key}-fig")
    st.caption(READING)


def run_label(run_dir: str | Path) -> str:
    """What sets a run apart in a robustness comparison: its model and any robustness-related training setting."""
    try:
        cfg = RunStore.open(run_dir).config()
    except (OSError, ValueError):
        return "?"
    parts = [str(cfg.get("model", "?"))]
    if cfg.get("label_smoothing"):
        parts.append(f"label smoothing {cfg['label_smoothing']:g}")
    if cfg.get("mixup_alpha"):
        parts.append(f"mixup {cfg['mixup_alpha']:g}")
    adv = cfg.get("adversarial") or {}
    if adv:
        parts.append(f"adversarial {adv.get('method', 'fgsm')} eps {adv.get('eps', 0):g}")
    return ", ".join(parts)


def _start_sweeps_ui(swept: set[str], key: str) -> None:
    """Runs without a finished sweep: pick some and sweep each (FGSM and PGD, default epsilons) as jobs."""
    from core.attacks import run_problems
    from ui.attack_ui import attackable_runs

    todo = {str(Path(r.run_dir).resolve()): r for r in attackable_runs()
            if str(Path(r.run_dir).resolve()) not in swept and not run_problems(r.run_dir)}
    if not todo:
        return
    with st.expander(f"Sweep more runs ({len(todo)} without a sweep)", expanded=not swept):
        chosen = st.multiselect("Runs to sweep", list(todo), key=f"{key}-todo",
                                format_func=lambda a: f"{todo[a].name} ({run_label(a)})")
        if st.button("Sweep them (FGSM and PGD, default epsilons, up to 500 samples)", key=f"{key}-sweep-all",
                     disabled=not chosen):
            for attacked in chosen:
                kind = MODELS[todo[attacked].model].kind if todo[attacked].model in MODELS else "image"
                config = sweep_config_for(attacked, epsilons=default_epsilons(kind), limit=500)
                launch_ui(lambda: launch(KIND, config.to_dict(), owner=_user()[0]),
                          f"Cannot sweep {todo[attacked].name}")
            st.caption("Started; the comparison updates when you come back to this tab.")
