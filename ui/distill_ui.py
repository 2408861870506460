"""The Train form's distillation option: learn from a finished run's softened probabilities (core.train.distill)."""

from dataclasses import dataclass

import streamlit as st

from core.train.distill import MAX_TEMPERATURE, distill_settings
from core.train.evaluate import checkpoint_path
from core.train.run_info import ACTIVE
from ui.session import my_runs

EXPLAIN = ("The student learns the teacher's probabilities softened at temperature T (Hinton et al.: loss = "
           "T² · KL(teacher_T ‖ student_T), plus α × cross-entropy on the true labels). A smaller student can get "
           "close to a bigger teacher; the run's notes compare their accuracy and size. Defensive distillation "
           "(Papernot et al.) trains the same model at T = 20–100 and reports resistance to FGSM and PGD; that "
           "resistance is largely gradient masking (the student's softmax saturates at T = 1, so the gradients "
           "the attacks follow vanish) and attacks crafted on an undistilled model still transfer. Check it on the "
           "Adversarial page: in the lab's own digits benchmark the distilled CNN was not more robust at all.")


@dataclass
class DistillChoice:
    distill: dict | None = None  # TrainConfig.distill: None = off


def _teachers(data: str) -> dict[str, str]:
    """Finished runs with a checkpoint on ``data`` that this session may see: run dir -> label."""
    runs = my_runs("train")
    return {str(r.run_dir): f"{r.name}  ({r.model}" + (f", best val acc {r.best_val_acc:.1%})"
                                                       if r.best_val_acc is not None else ")")
            for r in runs if r.data == data and r.status not in ACTIVE and checkpoint_path(r.run_dir) is not None}


def distill_ui(key: str, data: str) -> DistillChoice:
    """A checkbox, then the teacher run, the temperature and the true-label weight."""
    if not st.checkbox("Distil from a run", key=f"{key}-distill", help="knowledge / defensive distillation"):
        return DistillChoice()
    st.caption(EXPLAIN)
    teachers = _teachers(data)
    if not teachers:
        st.info("No finished run on this data to learn from yet: train a teacher first.")
        return DistillChoice()
    c1, c2, c3 = st.columns([2, 1, 1])
    teacher = c1.selectbox("Teacher run", list(teachers), format_func=teachers.get, key=f"{key}-distill-teacher")
    temperature = c2.number_input("Temperature T", 0.5, MAX_TEMPERATURE, 4.0, 0.5, key=f"{key}-distill-t",
                                  help="2–5 to transfer knowledge; 20–100 for defensive distillation")
    alpha = c3.number_input("True-label weight α", 0.0, 1.0, 0.0, 0.1, key=f"{key}-distill-alpha",
                            help="0 = the teacher's probabilities only")
    return DistillChoice(distill=distill_settings(teacher, float(temperature), float(alpha)))
