"""core.inline (the server's inline budget) and the one-sample request -> result path, in the page and in a job."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from torch import nn

from core.attacks.jobs import ONE_KIND, one_problems, one_sample_config, read_one
from core.attacks.single import (AttackSettings, OneSample, OneSampleRequest, one_sample, request_passes,
                                 runs_inline)
from core.attacks.target import load_run_target
from core.inline import GRADIENT_PASS, INLINE_MACS, fits_inline, forward_macs, inline_forwards
from tests.attack_helpers import trained_run


def test_forward_macs_count_the_layers_by_their_formula():
    lin = nn.Linear(20, 3)
    assert forward_macs(lin, (20,)) == 20 * 3  # in x out
    conv = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 8 * 8, 5))
    conv.train()
    before = conv[1].running_mean.clone()
    macs = forward_macs(conv, (2, 8, 8))
    assert macs == 4 * 2 * 3 * 3 * 8 * 8 + 4 * 8 * 8 * 5  # out x in x k x k x positions, then the linear layer
    assert conv.training and conv[1].training and torch.equal(conv[1].running_mean, before)  # left as found


def test_the_budget_is_one_rule_in_macs():
    macs = 385_000_000  # EfficientNet-Lite0 at 224 px
    assert inline_forwards(macs) == int(INLINE_MACS // macs) == 5
    assert fits_inline(macs, forwards=2, gradients=1)  # FGSM: before, the gradient pass, after
    assert not fits_inline(macs, forwards=2, gradients=2)
    assert fits_inline(1_600_000, forwards=2, gradients=40)  # PGD-40 on the digits CNN
    assert (2 + GRADIENT_PASS * 40) * 1_600_000 <= INLINE_MACS


def test_request_passes_count_the_attack_and_the_search():
    x = np.zeros((1, 1, 8, 8), np.float32)
    assert request_passes(OneSampleRequest("r", x, settings=AttackSettings("fgsm"))) == (2, 1)
    assert request_passes(OneSampleRequest("r", x, settings=AttackSettings("pgd", steps=200))) == (2, 200)
    # the search: a first pass, 16 + 6 tries (each: the attack and a check), then the attack at the eps found
    assert request_passes(OneSampleRequest("r", x, settings=AttackSettings("bim", steps=10), smallest=True)) == \
        (2 + 1 + 22 + 2, 10 + 1 + 22 * 10 + 10)


def test_request_key_changes_with_what_the_result_depends_on():
    x = np.random.default_rng(0).random((1, 1, 8, 8), dtype=np.float32)
    base = OneSampleRequest("runs/a", x, 3, AttackSettings("pgd", 0.1))
    same = OneSampleRequest("runs/a", x.copy(), 3, AttackSettings("pgd", 0.1), name="another name")
    assert base.key() == same.key()
    x2 = x.copy()
    x2[0, 0, 0, 0] += 0.01
    for other in (OneSampleRequest("runs/b", x, 3, AttackSettings("pgd", 0.1)),
                  OneSampleRequest("runs/a", x2, 3, AttackSettings("pgd", 0.1)),
                  OneSampleRequest("runs/a", x, 4, AttackSettings("pgd", 0.1)),
                  OneSampleRequest("runs/a", x, 3, AttackSettings("pgd", 0.1, steps=11)),
                  OneSampleRequest("runs/a", x, 3, AttackSettings("pgd", 0.1), smallest=True),
                  OneSampleRequest("runs/a", x, 3, AttackSettings("pgd", 0.1), version=1.0)):
        assert other.key() != base.key()
    back = OneSampleRequest.from_dict(base.to_dict())
    assert back.key() == base.key() and np.array_equal(back.x, x)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return trained_run(tmp_path_factory.mktemp("inline-runs"), steps=20)


def test_one_sample_result_round_trips_and_is_what_the_page_shows(digits_run):
    target = load_run_target(digits_run)
    x, y = target.bundle.splits["val"][0]
    request = OneSampleRequest(target.ref, x[None].numpy(), int(y), AttackSettings("fgsm", 0.3), smallest=True)
    assert runs_inline(target, request)  # FGSM and its search on an 8x8 CNN
    view = one_sample(target, request)
    assert view.top_before[0][1] == pytest.approx(float(view.attack.probs_before.max()))
    assert view.png[:4] == b"\x89PNG" and view.perturbation.shape == x.shape and view.searched
    back = OneSample.from_dict(view.to_dict())
    assert np.array_equal(back.attack.x_adv, view.attack.x_adv) and back.top_after == view.top_after
    assert back.png == view.png and (back.smallest is None) == (view.smallest is None)
    if view.smallest is not None:
        assert back.smallest.attack.settings.eps == view.smallest.attack.settings.eps


def test_the_job_kind_refuses_bad_requests(digits_run):
    x = np.zeros((1, 1, 8, 8), np.float32)
    assert one_problems({"x": 1}) and "not a one-sample attack config" in one_problems({"x": 1})[0]
    bad = one_sample_config(OneSampleRequest(str(digits_run), x, settings=AttackSettings("pgd", 1.5)))
    assert any("between 0 and 1" in p for p in one_problems(bad))
    nowhere = one_sample_config(OneSampleRequest(str(digits_run) + "-gone", x))
    assert one_problems(nowhere)
    assert not one_problems(one_sample_config(OneSampleRequest(str(digits_run), x)))


@pytest.mark.slow
def test_a_real_worker_gives_the_same_result_as_the_page(digits_run, tmp_path):
    """Launched like the page launches it (core.jobs.launch: a worker process), polled until it has finished."""
    from core.jobs import launch
    from core.train.store import ACTIVE, RunStore

    target = load_run_target(digits_run)
    x, y = target.bundle.splits["val"][1]
    request = OneSampleRequest(target.ref, x[None].numpy(), int(y), AttackSettings("pgd", 0.2, steps=5, seed=3),
                               smallest=True, version=target.version)
    run_dir = launch(ONE_KIND, one_sample_config(request), owner="ann", runs_dir=tmp_path)
    deadline = time.time() + 180
    while RunStore.open(run_dir).info().status in ACTIVE and time.time() < deadline:
        time.sleep(0.5)
    assert RunStore.open(run_dir).info().status == "finished"
    from_worker, here = read_one(run_dir), one_sample(target, request)
    assert np.allclose(from_worker.attack.x_adv, here.attack.x_adv, atol=1e-6)
    assert from_worker.attack.fooled == here.attack.fooled
    assert (from_worker.smallest is None) == (here.smallest is None)
    if here.smallest is not None:
        assert from_worker.smallest.attack.settings.eps == pytest.approx(here.smallest.attack.settings.eps)


def test_the_cam_grid_job_gives_the_maps_explain_gives(runs_dir):
    from core.inspect import explain
    from core.inspect.cam import default_cam_layer
    from core.inspect.jobs import cam_grid_config, cam_grid_problems, read_cam_grid
    from core.inspect.target import load_target
    from core.jobs import run_inline
    from tests.inspect_helpers import make_run

    run = make_run(runs_dir, "cnn", "builtin:digits")
    target = load_target(run)
    layer = default_cam_layer(target.model, target.input_shape)
    assert cam_grid_problems(cam_grid_config(str(run), layer, [])) == ["choose between 1 and 16 examples"]
    for cls in (None, 2):
        job = run_inline("cam_grid", cam_grid_config(target.ref, layer, [0, 5, 9], cls), runs_dir=runs_dir)
        maps, explained = read_cam_grid(job)
        x, _ = target.batch([0, 5, 9])
        here = explain(target.model, x, cls, layer)
        assert torch.allclose(maps, here.maps) and torch.equal(explained, here.targets)
