"""core.attacks: each attack against its formula written out here, bounds, targeted attacks, the normalisation
wrapper, the smallest epsilon of a linear classifier, the sweep, and models left as found."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from core.attacks import (PixelModel, bim, distribution, fgsm, minimal_eps, pgd, snr_db, sweep)
from core.models import build


def _model(seed: int = 0) -> nn.Module:
    """A fixed small CNN with batch-norm and dropout (so eval mode matters), trained for a few steps so its
    batch-norm statistics are not the initial ones."""
    torch.manual_seed(seed)
    model = build("cnn", 3, input_shape=(1, 8, 8), width=4)
    x, y = _batch(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    model.zero_grad(set_to_none=True)
    return model.eval()


def _batch(seed: int = 0, n: int = 16):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 3, (n,), generator=g)


def _grad_by_hand(model, x, y):
    """d mean-CE / dx with loss.backward() (the tutorial's way)."""
    xr = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(xr), y)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return xr.grad


def test_fgsm_equals_its_formula_to_the_last_bit():
    model, (x, y) = _model(), _batch()
    eps = 0.1
    expected = torch.clamp(x + eps * torch.sign(_grad_by_hand(model, x, y)), 0, 1)
    assert torch.equal(fgsm(model, x, y, eps), expected)
    targeted = torch.clamp(x - eps * torch.sign(_grad_by_hand(model, x, (y + 1) % 3)), 0, 1)
    assert torch.equal(fgsm(model, x, (y + 1) % 3, eps, targeted=True), targeted)


def _iterative_by_hand(model, x, y, x0, eps, alpha, steps):
    xa = x0.clone()
    for _ in range(steps):
        g = _grad_by_hand(model, xa, y)
        xa = torch.clamp(torch.clamp(xa + alpha * torch.sign(g), min=x - eps, max=x + eps), 0, 1)
    return xa


def test_bim_and_pgd_equal_their_formulas_to_the_last_bit():
    model, (x, y) = _model(), _batch()
    eps, alpha, steps = 0.1, 0.02, 5
    assert torch.equal(bim(model, x, y, eps, alpha=alpha, steps=steps),
                       _iterative_by_hand(model, x, y, x, eps, alpha, steps))
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(5))  # U[0, 1)
    x0 = torch.clamp(x + eps * (2 * noise - 1), 0, 1)
    got = pgd(model, x, y, eps, alpha=alpha, steps=steps, generator=torch.Generator().manual_seed(5))
    assert torch.equal(got, _iterative_by_hand(model, x, y, x0, eps, alpha, steps))
    # the default step is 2.5 eps / steps (Madry et al.)
    assert torch.equal(bim(model, x, y, eps, steps=4), _iterative_by_hand(model, x, y, x, eps, 2.5 * eps / 4, 4))


@pytest.mark.parametrize("method", ["fgsm", "bim", "pgd"])
def test_results_stay_in_bounds_and_in_the_eps_ball(method):
    model, (x, y) = _model(1), _batch(1)
    x = x.clamp(0.02, 0.98)  # some values near the bounds
    x[0] = 0.0
    x[1] = 1.0
    for eps in (0.0, 0.03, 0.3):
        kw = {} if method == "fgsm" else {"steps": 4, "alpha": 0.2}  # a big step: projection must do the work
        x_adv = {"fgsm": fgsm, "bim": bim, "pgd": pgd}[method](model, x, y, eps, **kw)
        assert x_adv.shape == x.shape and x_adv.min() >= 0 and x_adv.max() <= 1
        assert (x_adv - x).abs().max() <= eps + 1e-7
        if eps == 0 and method != "pgd":
            assert torch.equal(x_adv, x)


def test_waveform_bounds():
    model = build("wave_cnn", 2, sample_rate=8000, num_samples=800)
    x = 0.9 * torch.sin(torch.linspace(0, 60, 800)).repeat(3, 1, 1)
    x_adv = pgd(model, x, torch.tensor([0, 1, 0]), 0.2, steps=3, bounds=(-1, 1))
    assert x_adv.min() >= -1 and x_adv.max() <= 1 and x_adv.min() < 0
    assert (x_adv - x).abs().max() <= 0.2 + 1e-6


def test_targeted_attacks_move_toward_the_target():
    model, (x, _) = _model(2), _batch(2, n=32)
    target = (model(x).argmax(1) + 1) % 3

    def target_prob(z):
        with torch.no_grad():
            return torch.softmax(model(z), 1).gather(1, target[:, None]).mean()

    before = target_prob(x)
    assert target_prob(fgsm(model, x, target, 0.05, targeted=True)) > before
    after_pgd = pgd(model, x, target, 0.3, steps=10, targeted=True)
    assert target_prob(after_pgd) > before
    with torch.no_grad():
        hits = (model(after_pgd).argmax(1) == target).float().mean()
    untargeted = fgsm(model, x, target, 0.05)  # untargeted at y = target moves away from it
    assert target_prob(untargeted) < before
    assert hits > 0.5


def test_models_are_left_as_found():
    model = build("cnn", 3, input_shape=(1, 8, 8), width=4)
    model.train()
    model.features[0].eval()  # a frozen block inside a training model (as during freeze_epochs)
    model.classifier[-1].weight.requires_grad_(False)
    modes = [m.training for m in model.modules()]
    flags = [p.requires_grad for p in model.parameters()]
    state = {k: v.clone() for k, v in model.state_dict().items()}  # batch-norm running statistics included
    x, y = _batch()
    fgsm(model, x, y, 0.1)
    pgd(model, x, y, 0.1, steps=2)
    minimal_eps(model, x, y, eps_max=0.5, tol=0.05)
    sweep(model, DataLoader(TensorDataset(x, y), batch_size=8), [0, 0.1], method="bim", steps=2)
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())


class _Normalise(nn.Module):
    """The normalisation built into a model, written here independently of PixelModel."""

    def __init__(self, mean, std):
        super().__init__()
        self.mean, self.std = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)

    def forward(self, x):
        return (x - self.mean) / self.std


def test_wrapped_model_attacks_like_a_model_with_the_normalisation_built_in():
    torch.manual_seed(3)
    net = build("cnn", 4, input_shape=(3, 8, 8), width=4).eval()
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    wrapped, built_in = PixelModel(net, mean, std), nn.Sequential(_Normalise(mean, std), net)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(8, 3, 8, 8, generator=g), torch.randint(0, 4, (8,), generator=g)
    assert torch.equal(wrapped(x), built_in(x))
    assert torch.equal(fgsm(wrapped, x, y, 4 / 255), fgsm(built_in, x, y, 4 / 255))
    same_start = lambda: torch.Generator().manual_seed(0)  # noqa: E731 - the same random start for both
    assert torch.equal(pgd(wrapped, x, y, 8 / 255, steps=3, generator=same_start()),
                       pgd(built_in, x, y, 8 / 255, steps=3, generator=same_start()))
    # the mistake the wrapper prevents: eps applied to normalised values is only eps * std in pixels (~4x weaker)
    x_norm_adv = fgsm(net, (x - built_in[0].mean) / built_in[0].std, y, 4 / 255, bounds=(-10, 10))
    pixel_step = (x_norm_adv * built_in[0].std + built_in[0].mean - x).abs().max()
    assert pixel_step.item() == pytest.approx(4 / 255 * 0.229, rel=1e-3)


def _linear_problem(n=64, d=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    lin = nn.Linear(d, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(2, d, generator=g))
        lin.bias.zero_()
    x = 0.3 + 0.4 * torch.rand(n, d, generator=g)  # away from the clamp bounds: eps below 0.3 never clamps
    return lin, x


def test_minimal_eps_of_a_linear_classifier_is_margin_over_l1_norm():
    lin, x = _linear_problem()
    with torch.no_grad():
        z = lin(x)
    pred = z.argmax(1)
    margin = (z[:, 0] - z[:, 1]).abs()  # logit of the prediction minus the other one
    w = lin.weight[0] - lin.weight[1]
    known = margin / w.abs().sum()  # FGSM moves the margin by eps * ||w||_1
    tol = 1e-3
    eps, x_adv = minimal_eps(lin, x, method="fgsm", eps_max=0.1, tol=tol)
    flips = known < 0.1
    assert flips.sum() > 10 and (~flips).sum() > 3  # both kinds of sample are present
    assert torch.all((eps[flips] - known[flips]).abs() <= tol)
    assert torch.all(eps[flips] >= known[flips])  # the returned eps does fool the model
    with torch.no_grad():
        assert torch.all(lin(x_adv[flips]).argmax(1) != pred[flips])
    assert torch.all(torch.isinf(eps[~flips])) and torch.equal(x_adv[~flips], x[~flips])


def test_minimal_eps_zero_for_misclassified_and_iterative_methods():
    lin, x = _linear_problem(seed=1)
    with torch.no_grad():
        pred = lin(x).argmax(1)
    y = pred.clone()
    y[:5] = 1 - y[:5]  # five samples whose "true" class the model already gets wrong
    eps, x_adv = minimal_eps(lin, x, y, eps_max=0.3, tol=1e-3)
    assert torch.all(eps[:5] == 0) and torch.equal(x_adv[:5], x[:5])
    eps_pgd, _ = minimal_eps(lin, x, method="pgd", steps=5, eps_max=0.3, tol=1e-2)
    eps_fgsm, _ = minimal_eps(lin, x, method="fgsm", eps_max=0.3, tol=1e-2)
    finite = torch.isfinite(eps_fgsm)
    # for a linear model the iterative attack cannot do better than FGSM's optimal direction (within tol)
    assert torch.all(eps_pgd[finite] >= eps_fgsm[finite] - 2e-2)
    d = distribution(eps_fgsm, 0.3)
    assert d.n == len(x) and 0 < d.never_fooled < 1 and d.q1 <= d.median <= d.q3


def test_sweep_eps0_is_clean_accuracy_and_fgsm_matches_the_batch_attack():
    model = _model(4)
    g = torch.Generator().manual_seed(9)
    x, y = torch.rand(50, 1, 8, 8, generator=g), torch.randint(0, 3, (50,), generator=g)
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    eps_list = [0.0, 0.02, 0.1]
    result = sweep(model, loader, eps_list, method="fgsm", examples=5, classes=["a", "b", "c"])
    with torch.no_grad():
        clean = int((model(x).argmax(1) == y).sum()) / 50
    assert result.accuracy[0] == clean and result.n == 50
    expected = []  # FGSM batch by batch, through the public function
    for eps in eps_list[1:]:
        hits = sum(int((model(fgsm(model, xb, yb, eps)).argmax(1) == yb).sum()) for xb, yb in loader)
        expected.append(hits / 50)
    assert result.accuracy[1:] == pytest.approx(expected, abs=1e-12)
    for row, acc in zip(result.per_class, result.accuracy):  # per-class accuracy weighted by class size
        counts = np.bincount(y.numpy(), minlength=3)
        assert sum(r * c for r, c in zip(row, counts)) / 50 == pytest.approx(acc)
    ex = result.examples
    assert ex.originals.shape == (5, 1, 8, 8) and ex.adversarial.shape == (3, 5, 1, 8, 8)
    assert np.array_equal(ex.adversarial[0], ex.originals) and ex.labels == y[:5].tolist()
    again = type(result).from_dict(result.to_dict())
    assert again.accuracy == result.accuracy and np.array_equal(again.examples.adversarial, ex.adversarial)


def test_sweep_limit_progress_and_pgd_is_stronger():
    model = _model(5)
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(40, 1, 8, 8, generator=g), torch.randint(0, 3, (40,), generator=g)
    seen = []
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    pgd_result = sweep(model, loader, [0, 0.05], method="pgd", steps=5, limit=30,
                       callback=lambda done, total, text: seen.append((done, total)))
    fgsm_result = sweep(model, loader, [0, 0.05], method="fgsm", limit=30)
    assert pgd_result.n == 30 and seen == [(16, 30), (30, 30)]
    assert pgd_result.accuracy[0] == fgsm_result.accuracy[0]
    assert pgd_result.accuracy[1] <= fgsm_result.accuracy[1]


@pytest.mark.parametrize("name", ["wave_cnn", "mel_cnn"])
def test_audio_attack_shapes_and_gradient_through_the_front_end(name):
    torch.manual_seed(0)
    model = build(name, 3, sample_rate=8000, num_samples=4000).eval()
    g = torch.Generator().manual_seed(0)
    x = 0.5 * torch.rand(4, 1, 4000, generator=g) - 0.25
    y = torch.tensor([0, 1, 2, 0])
    x_adv = fgsm(model, x, y, 0.01, bounds=(-1, 1))
    assert x_adv.shape == (4, 1, 4000)
    assert (x_adv - x).abs().max() == pytest.approx(0.01, abs=1e-6)  # the gradient reached the waveform
    assert ((x_adv - x).abs() > 0).float().mean() > 0.5


def test_snr_matches_its_definition():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 1, 1000, generator=g) * 0.3
    noise = torch.randn(3, 1, 1000, generator=g) * torch.tensor([0.01, 0.03, 0.0]).view(3, 1, 1)
    got = snr_db(x, x + noise)
    xs, ns = x.numpy().astype(np.float64), noise.numpy().astype(np.float64)
    for i in range(2):
        want = 10 * math.log10((xs[i] ** 2).sum() / (ns[i] ** 2).sum())
        assert got[i].item() == pytest.approx(want, rel=1e-5)
    assert math.isinf(got[2].item())


def test_single_sample_helpers_png_upload_amplification_and_top_k():
    import io

    from core.attacks.single import AttackSettings, amplified, attack_one, image_input, png_bytes, top_k

    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 8, 8, generator=g)
    data = png_bytes(x[0].numpy())  # an 8-bit PNG: values rounded to /255 steps
    back = image_input(io.BytesIO(data), (3, 8, 8))  # read like an upload, at the run's size
    assert torch.equal(back, torch.round(x * 255) / 255)
    view, factor = amplified(x[0].numpy(), (x[0] + 0.01).numpy())
    assert factor == pytest.approx(50, rel=1e-4) and np.allclose(view, 1.0, atol=1e-4)  # +0.01 everywhere: white
    assert amplified(x[0].numpy(), x[0].numpy())[1] == 0.0
    assert top_k(np.array([0.1, 0.6, 0.3]), ["a", "b", "c"], 2) == [("b", 0.6), ("c", pytest.approx(0.3))]
    model = _model(6)
    xs, _ = _batch(6, n=1)
    out = attack_one(model, xs, None, AttackSettings(eps=0.0))  # an upload: attacked away from its prediction
    assert out.label == out.pred_before == out.pred_after and not out.fooled and math.isinf(out.snr_db)
    assert not out.wrong_before
    other = (out.pred_before + 1) % 6  # a true label the model does not predict: it was wrong before any attack
    wrong = attack_one(model, xs, other, AttackSettings(eps=0.0))
    assert wrong.wrong_before and wrong.fooled  # "fooled" by its definition, which is why the page says otherwise
    aimed = attack_one(model, xs, other, AttackSettings(eps=0.0, target_class=other))
    assert not aimed.wrong_before  # a targeted attack aims at a class: the clean prediction is not "wrong"


def test_an_upload_that_is_no_image_is_named_plainly():
    import io

    from core.attacks.single import image_input

    class Upload(io.BytesIO):  # what the page passes: a file object whose repr is Python internals
        def __repr__(self):
            return "UploadedFile(file_id='f1', name='notes.png', _file_urls=...)"

    with pytest.raises(ValueError) as err:
        image_input(Upload(b"this is not an image"), (1, 8, 8))
    assert str(err.value) == "not an image (PIL cannot identify the file format)"  # no file object, no internals
