"""Collapse measures on constructed cases; diversity against scipy; the judge's features, class histogram and its
Frechet distance (torchmetrics with a custom extractor) against the formula computed with scipy."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from core.gan import GanConfig
from core.gan.collapse import (covered, diversity, judge_verdict, measure_images, measure_pattern, measure_points,
                               ring_coverage)
from core.gan.data import RING_STD, load_gan_data, ring_modes


def _ring(which: list[int], per_mode: int = 100, std: float = RING_STD, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    modes = ring_modes()
    return torch.cat([modes[k] + std * torch.randn(per_mode, 2, generator=g) for k in which])


def test_all_samples_on_one_mode_cover_one_of_eight():
    report = measure_points(_ring([3], 800), ring_modes(), RING_STD)
    assert report.modes_covered == 1 and report.modes_total == 8
    assert report.mode_counts[3] >= 776 and report.near_mode_share > 0.97  # 2-D: 98.9% lie within 3 std
    judge_verdict(report, GanConfig(loss="mse").improvements())
    assert report.level == "error" and "Mode collapse" in report.verdict and "1 of 8" in report.verdict
    assert any("BCE loss" in a for a in report.advice) and not any("Adam" in a for a in report.advice)


def test_samples_from_every_mode_cover_eight_of_eight():
    report = measure_points(_ring(list(range(8))), ring_modes(), RING_STD)
    assert report.modes_covered == 8 and report.near_mode_share > 0.97
    judge_verdict(report, GanConfig().improvements())
    assert report.level == "ok" and report.score == 1.0 and not report.advice
    real = load_gan_data("toy:ring", samples=2000, generator=torch.Generator().manual_seed(1))
    assert measure_points(real.values, real.modes, real.mode_std).modes_covered == 8  # the data itself


def test_a_few_stray_samples_do_not_cover_a_mode_and_far_points_are_near_none():
    points = torch.cat([_ring([0], 500), _ring([1], 500), _ring([2], 5)])  # mode 2: under 1% of the samples
    counts, share = ring_coverage(points, ring_modes(), RING_STD)
    assert counts[2] == 5 and covered(counts, len(points)) == 2
    far = torch.zeros(100, 2)  # the centre of the ring: a radius away from every mode
    report = measure_points(far, ring_modes(), RING_STD)
    assert report.modes_covered == 0 and report.near_mode_share == 0.0
    judge_verdict(report, GanConfig().improvements())
    assert report.level == "warning" and "Not on the data yet" in report.verdict


def test_every_seed_on_one_point_is_collapse_wherever_the_point_is():
    real = _ring(list(range(8)))
    stuck = torch.tensor([0.3, 0.1]) + 0.005 * torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    report = judge_verdict(measure_points(stuck, ring_modes(), RING_STD, real=real), GanConfig(loss="mse").improvements())
    assert report.diversity_ratio < 0.02 and report.level == "error" and report.score == 0.0
    assert "same point" in report.verdict and "off the ring" in report.verdict
    assert any("BCE loss" in a for a in report.advice)
    spread = judge_verdict(measure_points(real.flip(0), ring_modes(), RING_STD, real=real))
    assert spread.diversity_ratio == pytest.approx(1.0) and spread.level == "ok"


def test_diversity_is_the_mean_pairwise_distance():
    from scipy.spatial.distance import pdist

    x = torch.randn(40, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    assert diversity(x) == pytest.approx(pdist(x.flatten(1).numpy()).mean(), rel=1e-6)
    assert diversity(x[:1].expand(10, -1, -1, -1)) == 0.0


def test_image_collapse_from_diversity():
    real = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    same = real[:1].expand(64, -1, -1, -1) + 0.01 * torch.randn(64, 1, 8, 8, generator=torch.Generator())
    report = judge_verdict(measure_images(same, real), GanConfig().improvements())
    assert report.diversity_ratio < 0.1 and report.level == "error"
    healthy = judge_verdict(measure_images(real.flip(0), real), GanConfig().improvements())
    assert healthy.diversity_ratio == pytest.approx(1.0) and healthy.level == "ok"


def test_pattern_error():
    good = measure_pattern(torch.tensor([[0.9, 0.1, 0.95, 0.05]] * 4))
    assert good.pattern_error == pytest.approx(0.075)
    assert judge_verdict(good).level == "ok"
    assert judge_verdict(measure_pattern(torch.full((4, 4), 0.5))).level == "warning"


# ---- the judge --------------------------------------------------------------------------------------------------
def _judge_run(tmp_path, data="builtin:digits", input_shape=(1, 8, 8)):
    """A classifier run as the trainer leaves it (a full checkpoint dict), of an untrained MLP."""
    from core import models
    from core.train import TrainConfig
    from core.train.checkpoint import checkpoint_dict, save_checkpoint
    from core.train.store import RunStore

    model = models.build("mlp", 10, input_shape=input_shape, hidden=(16,))
    with torch.no_grad():
        model.body[0].bias.fill_(5.0)  # every ReLU unit active: features of full rank (no dead unit)
    run = RunStore.create(tmp_path / "runs", TrainConfig(data=data, model="mlp").to_dict())
    save_checkpoint(checkpoint_dict(model, classes=[str(i) for i in range(10)]), run.checkpoint_dir / "best.pt")
    run.close()
    return run.run_dir, model


def test_judge_features_are_the_input_of_the_last_linear_layer(tmp_path):
    from core.gan.judge import Judge

    run_dir, model = _judge_run(tmp_path, input_shape=(1, 16, 16))
    judge = Judge.load(run_dir)
    assert judge.num_features == 16 and judge.classes == [str(i) for i in range(10)]
    x = torch.rand(5, 1, 8, 8) * 2 - 1  # GAN images: 8x8 in [-1, 1]; the judge takes 16x16 in [0, 1]
    prepared = torch.nn.functional.interpolate((x + 1) / 2, size=(16, 16), mode="bilinear", antialias=True)
    model.eval()
    expected = model.body(model.flatten(prepared))
    assert torch.allclose(judge(x), expected, atol=1e-6)
    assert torch.equal(judge.classify(x), model.head(expected).argmax(1))
    judge.train()
    assert not judge.classifier.training  # never leaves eval mode (dropout off)


def test_frechet_distance_matches_the_formula_and_needs_no_download(tmp_path):
    from scipy import linalg

    from core.gan.judge import Judge, frechet_distance, frechet_metric

    assert importlib.util.find_spec("torch_fidelity") is None  # the custom extractor works without it
    judge = Judge.load(_judge_run(tmp_path)[0])
    g = torch.Generator().manual_seed(0)
    real = torch.rand(300, 1, 8, 8, generator=g) * 2 - 1
    fake = (torch.rand(200, 1, 8, 8, generator=g) * 2 - 1) * 0.5
    metric = frechet_metric(judge, real)
    got = frechet_distance(metric, fake)
    f1, f2 = judge(real).double().numpy(), judge(fake).double().numpy()
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert got == pytest.approx(expected, rel=1e-3)
    assert frechet_distance(metric, real[:200]) < got  # real against real is closer; the real side is kept


def test_judge_histogram_and_classes_covered(tmp_path):
    from core.gan.judge import Judge

    judge = Judge.load(_judge_run(tmp_path)[0])
    fake = torch.rand(100, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    report = measure_images(fake[:50], fake[50:], judge=judge, judged=fake)
    preds = judge.classify(fake)
    assert report.class_histogram == torch.bincount(preds, minlength=10).tolist() and sum(report.class_histogram) == 100
    assert report.classes_covered == int((torch.bincount(preds, minlength=10) >= 0.2 * 100 / 10).sum())
    one = measure_images(fake[:1].expand(60, -1, -1, -1), fake, judge=judge)
    assert one.classes_covered == 1
    assert judge_verdict(one, GanConfig().improvements()).level == "error"


def test_judge_problems(tmp_path):
    from core.gan.judge import judge_problems

    run_dir, _ = _judge_run(tmp_path)
    assert judge_problems(GanConfig(data="builtin:digits", model="dcgan", judge=str(run_dir))) == []
    other = judge_problems(GanConfig(data="builtin:shapes", model="dcgan", judge=str(run_dir)))
    assert other and "trained on builtin:digits, not on builtin:shapes" in other[0]
    assert "not a run directory" in judge_problems(GanConfig(data="builtin:digits", judge=str(tmp_path)))[0]
    (run_dir / "checkpoints" / "best.pt").unlink()
    assert "no checkpoint" in judge_problems(GanConfig(data="builtin:digits", judge=str(run_dir)))[0]


# ---- too early to tell (issue 19 item 4) ------------------------------------------------------------------------
def test_an_early_bad_reading_is_too_early_to_tell_and_a_late_one_is_a_verdict():
    from core.gan.collapse import EARLY_STEPS, early_steps

    assert early_steps(60_000) == EARLY_STEPS and early_steps(400) == 200 and early_steps(0) == 0
    one_mode = _ring([3], 800)
    early = judge_verdict(measure_points(one_mode, ring_modes(), RING_STD, step=200), GanConfig().improvements(),
                          min_steps=early_steps(5000))
    assert early.level == "early" and early.verdict.startswith("Too early to tell")
    assert "step 200" in early.verdict and "1 of 8 modes" in early.verdict
    assert any("Watch the chart" in a for a in early.advice) and not any("restart rather" in a for a in early.advice)
    late = judge_verdict(measure_points(one_mode, ring_modes(), RING_STD, step=1200), GanConfig().improvements(),
                         min_steps=early_steps(5000))
    assert late.level == "error" and "Mode collapse" in late.verdict
    half = _ring([0, 1, 2, 3], 200)  # 4 of 8: a partial collapse, unless it is still climbing
    climbing = judge_verdict(measure_points(half, ring_modes(), RING_STD, step=1500), min_steps=1000, previous=0.125)
    assert climbing.level == "early" and "still climbing (from 12% to 50%" in climbing.verdict
    flat = judge_verdict(measure_points(half, ring_modes(), RING_STD, step=1500), min_steps=1000, previous=0.5)
    assert flat.level == "warning" and "Partial collapse" in flat.verdict
    fine = judge_verdict(measure_points(_ring(list(range(8))), ring_modes(), RING_STD, step=10), min_steps=1000)
    assert fine.level == "ok"  # a good reading needs no waiting


def test_the_meter_of_a_training_run_waits_before_its_verdict(tmp_path):
    from core.gan import fit
    from core.train.callbacks import StopTraining

    seen = []

    class Record:  # after the meter (order 30): what it concluded at each measurement
        order = 31

        def before_fit(self, loop):
            seen.append((loop.step, loop.report.level))

        def after_step(self, loop):
            if loop.step == 8:
                raise StopTraining("stopped on request", status="stopped")

    cfg = GanConfig(data="toy:ring", model_opts={"hidden": [16]}, batch_size=32, samples=128, epochs=500,
                    snapshot_every=4, runs_dir=str(tmp_path))
    fit(cfg, [Record()])
    assert seen == [(0, "early")]  # an untrained generator at step 0 of 2000: no verdict yet
