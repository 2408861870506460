"""The Adversarial page's jobs: the accuracy-versus-epsilon sweep (launched as an 'attack_sweep' job, polled from the
run store) and the robustness comparison of several runs (their finished sweeps overlaid)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core.attacks import AttackTarget
from core.attacks.jobs import KIND, read_sweep, sweep_config_for
from core.attacks.runs import SweepConfig, default_epsilons
from core.jobs import launch
from core.models import MODELS
from core.train.store import ACTIVE, RunStore, list_runs
from ui import attack_figures as af
from ui.jobs import POLL_SECONDS, queue_line, stop_button

READING = ("Solid lines are FGSM, dashed lines PGD; one colour per run. Read the dashed ones: a model whose FGSM "
           "curve stays high while its PGD curve falls is masking its gradients (label smoothing does this), not "
           "robust; real robustness keeps the PGD curve up.")


def _user() -> tuple[str | None, bool]:
    from ui.session import current_user, is_teacher

    return current_user(), is_teacher()


def sweep_jobs(runs_dir=None) -> dict[str, list]:
    """Attacked run directory -> its attack_sweep jobs (RunInfo), newest first, that this session may see."""
    from core.access import visible_runs

    user, teacher = _user()
    out: dict[str, list] = {}
    for info in visible_runs(list_runs(runs_dir, kind=KIND), user, teacher=teacher):
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
    methods = c1.multiselect("Attacks", ["fgsm", "bim", "pgd"], ["fgsm", "pgd"], format_func=af.METHOD_NAMES.get,
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
        try:
            launch(KIND, config.to_dict(), owner=_user()[0])
        except ValueError as err:  # e.g. this server's queue is full
            st.error(f"Cannot run the sweep: {err}")
    jobs = sweep_jobs().get(str(Path(run_dir).resolve()), [])
    if not jobs:
        st.info("No sweep of this run yet.")
        return
    chosen = st.selectbox("Sweep", jobs, key=f"{key}-job", format_func=lambda i: f"{i.name} ({i.status})")
    sweep_view(target, chosen.run_dir, key)


def sweep_view(target: AttackTarget, job_dir: Path, key: str) -> None:
    """A sweep job: progress while it runs (polled), then the accuracy curves, per-class heatmap and examples."""
    active = RunStore.open(job_dir).info().status in ACTIVE

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def _view() -> None:
        store = RunStore.open(job_dir)
        info = store.info()
        if info.status == "queued":
            queue_line(job_dir)
        elif info.status in ACTIVE:
            done, total = info.progress_done or 0, info.progress_total or 0
            st.progress(done / total if total else 0.0, text=info.progress_text or "starting…")
        stop_button(store, info, key)
        if info.status not in ACTIVE and info.status != "finished":
            st.error(f"The sweep {info.status}: {info.error or 'no reason recorded'}")
        results = read_sweep(job_dir)
        if results:
            _results(target, results, key)
        if active and info.status not in ACTIVE:
            st.rerun()

    _view()


def _results(target: AttackTarget, results: dict, key: str) -> None:
    first = next(iter(results.values()))
    st.plotly_chart(af.sweep_figure(results, f"Accuracy versus epsilon ({first.n} samples)", target.kind),
                    key=f"{key}-curve")
    method = st.radio("Details for", list(results), horizontal=True, format_func=af.METHOD_NAMES.get,
                      key=f"{key}-detail")
    result = results[method]
    st.plotly_chart(af.per_class_figure(result, target.kind), key=f"{key}-perclass")
    if result.examples is not None:
        example_strip(target, result, key)


def example_strip(target: AttackTarget, result, key: str) -> None:
    """One row per epsilon: the kept samples attacked at that epsilon, captioned true → predicted."""
    ex, classes = result.examples, target.classes
    st.markdown(f"**Examples** ({af.METHOD_NAMES[result.method]}; ✗ = now misclassified)")
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
                try:
                    launch(KIND, config.to_dict(), owner=_user()[0])
                except ValueError as err:
                    st.error(f"Cannot sweep {todo[attacked].name}: {err}")
            st.caption("Started; the comparison updates when you come back to this tab.")
