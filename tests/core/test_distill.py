"""Distillation: Hinton's loss against the formula written out, a distilled run, and the settings refused."""
from __future__ import annotations

import math

import pytest
import torch

from core.train import TrainConfig, fit
from core.train.distill import distill_problems, distill_settings, distillation_loss
from core.train.store import RunStore


def _softmax(z, t):
    e = [math.exp(v / t) for v in z]
    return [v / sum(e) for v in e]


def _hinton(student, teacher, t):
    """T^2 x KL(softmax(teacher/T) || softmax(student/T)), averaged over the batch, written out."""
    total = 0.0
    for s_row, t_row in zip(student.tolist(), teacher.tolist()):
        p, q = _softmax(t_row, t), _softmax(s_row, t)
        total += sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q))
    return t * t * total / len(student)


@pytest.mark.parametrize("temperature", [1.0, 4.0, 20.0])
def test_loss_is_kl_at_temperature_scaled_by_t_squared(temperature):
    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(5, 4, generator=g, dtype=torch.float64) * 3, \
        torch.randn(5, 4, generator=g, dtype=torch.float64) * 3
    assert float(distillation_loss(student, teacher, temperature)) == pytest.approx(
        _hinton(student, teacher, temperature), rel=1e-9)


def test_true_labels_weighted_by_alpha():
    g = torch.Generator().manual_seed(1)
    student, teacher = torch.randn(3, 5, generator=g, dtype=torch.float64), torch.randn(3, 5, generator=g,
                                                                                          dtype=torch.float64)
    y = torch.tensor([0, 4, 2])
    ce = sum(-math.log(_softmax(row, 1.0)[label]) for row, label in zip(student.tolist(), y.tolist())) / 3
    expected = 0.7 * _hinton(student, teacher, 3.0) + 0.3 * ce
    assert float(distillation_loss(student, teacher, 3.0, y, 0.3)) == pytest.approx(expected, rel=1e-9)


def test_the_student_gradient_does_not_reach_the_teacher():
    student, teacher = torch.randn(2, 3, requires_grad=True), torch.randn(2, 3, requires_grad=True)
    distillation_loss(student, teacher, 2.0).backward()
    assert student.grad is not None and teacher.grad is None


def test_a_smaller_student_learns_from_a_teacher(runs_dir):
    base = dict(data="builtin:digits", epochs=1, max_steps=15, batch_size=32, stats_every=0, tensorboard=False)
    teacher = fit(TrainConfig(model="cnn", model_opts={"width": 8}, **base))
    student = fit(TrainConfig(model="mlp", model_opts={"hidden": [16]}, augment_preset=False,
                              distill=distill_settings(teacher.run_dir, 4.0, 0.2), **base))
    assert student.status == "finished"
    notes = " ".join(RunStore.open(student.run_dir).notes().message)
    assert f"distilling from {teacher.run_dir.split('/')[-1]} (cnn" in notes and "at temperature 4" in notes
    assert "student (this run) val acc" in notes and "teacher cnn, val acc" in notes
    assert RunStore.open(student.run_dir).config()["distill"]["temperature"] == 4.0


def test_impossible_distillation_settings_are_refused(runs_dir):
    teacher = fit(TrainConfig(data="builtin:digits", model="mlp", epochs=1, max_steps=2, stats_every=0,
                              tensorboard=False, model_opts={"hidden": [8]}))
    ok = distill_settings(teacher.run_dir, 4.0, 0.0)
    assert distill_problems(ok, "builtin:digits", model="mlp") == []
    assert "temperature" in " ".join(distill_problems({**ok, "temperature": 0}, "builtin:digits"))
    assert "alpha" in " ".join(distill_problems({**ok, "alpha": 1.5}, "builtin:digits"))
    assert "mixup" in " ".join(distill_problems(ok, "builtin:digits", mixup_alpha=0.2))
    assert "not on builtin:shapes" in " ".join(distill_problems(ok, "builtin:shapes"))
    assert "finished training run" in " ".join(distill_problems({**ok, "teacher": str(runs_dir / "nope")}))
    assert "cached features" in " ".join(distill_problems(ok, "builtin:digits", model="resnet18"))
    problems = TrainConfig(model="mlp", distill={**ok, "temperature": -1}).problems("image")
    assert any("temperature" in p for p in problems)
