"""Latent space: seeds -> z, lerp / slerp (against torch.lerp and the rotation-in-the-plane formula), arithmetic
(rescaled to the chi distribution's mean, from scipy), seed books, GIF and grid PNG export."""
from __future__ import annotations

import io
import math

import pytest
import torch
from PIL import Image

from core.gan import SeedBook, combine, interpolate, typical_norm, z_from_seed, zs_from_seeds
from core.gan.render import gif_bytes, grid_png, scale_for


def _angle(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().flatten(), b.double().flatten()
    return math.acos(max(-1.0, min(1.0, float(a @ b / (a.norm() * b.norm())))))


def test_seed_gives_the_same_z_whatever_the_global_random_state():
    torch.manual_seed(123)
    a = z_from_seed(7, 100)
    torch.manual_seed(999)
    torch.randn(50)
    b = z_from_seed(7, 100)
    assert torch.equal(a, b) and a.shape == (100,)
    assert not torch.equal(a, z_from_seed(8, 100))
    assert torch.equal(zs_from_seeds([7, 8], 100)[1], z_from_seed(8, 100))
    assert z_from_seed(3, (2, 4)).shape == (2, 4)


@pytest.mark.parametrize("method", ["lerp", "slerp"])
@pytest.mark.parametrize("shape", [(16,), (3, 4)])
def test_interpolation_has_exact_ends_and_the_right_shape(method, shape):
    z0, z1 = z_from_seed(1, shape), z_from_seed(2, shape)
    path = interpolate(z0, z1, 9, method=method)
    assert path.shape == (9, *shape)
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)


def test_lerp_matches_torch_lerp():
    z0, z1 = z_from_seed(1, 32), z_from_seed(2, 32)
    path = interpolate(z0, z1, 5, method="lerp")
    for i, t in enumerate(torch.linspace(0, 1, 5)):
        assert torch.allclose(path[i], torch.lerp(z0, z1, t), atol=1e-6)


def test_slerp_of_unit_vectors_keeps_the_norm_and_has_constant_angular_speed():
    a, b = z_from_seed(1, 64), z_from_seed(2, 64)
    a, b = a / a.norm(), b / b.norm()
    steps = 11
    path = interpolate(a, b, steps, method="slerp")
    assert path.norm(dim=1) == pytest.approx(torch.ones(steps), abs=1e-5)
    total = _angle(a, b)
    gaps = [_angle(path[i], path[i + 1]) for i in range(steps - 1)]
    assert gaps == pytest.approx([total / (steps - 1)] * (steps - 1), abs=1e-4)
    # independent formula: rotate a towards u (b's part orthogonal to a) by t * total, in the plane of a and b
    u = b - (a @ b) * a
    u = u / u.norm()
    for i, t in enumerate(torch.linspace(0, 1, steps)):
        expected = math.cos(t * total) * a + math.sin(t * total) * u
        assert torch.allclose(path[i], expected.float(), atol=1e-5)


def test_slerp_falls_back_to_lerp_for_nearly_parallel_vectors():
    z0 = z_from_seed(1, 16)
    for z1 in (2 * z0, -z0, z0 + 1e-6 * z_from_seed(2, 16)):
        path = interpolate(z0, z1, 6, method="slerp")
        assert torch.isfinite(path).all()
        assert torch.allclose(path, interpolate(z0, z1, 6, method="lerp"), atol=1e-6)


def test_interpolate_refuses_bad_arguments():
    z = z_from_seed(1, 4)
    with pytest.raises(ValueError, match="method"):
        interpolate(z, z, 4, method="cubic")
    with pytest.raises(ValueError, match="shape"):
        interpolate(z, z_from_seed(1, 5), 4)
    with pytest.raises(ValueError, match="at least 2"):
        interpolate(z, z, 1)


def test_typical_norm_is_the_chi_mean():
    from scipy.stats import chi

    for d in (1, 2, 8, 100, 512):
        assert typical_norm(d) == pytest.approx(chi(d).mean(), rel=1e-9)


def test_combine_raw_is_the_sum_and_rescaled_sits_on_the_prior_shell():
    za, zb, zc = (z_from_seed(s, 100) for s in (1, 2, 3))
    combo = combine([(+1, za), (-1, zb), (+1, zc)])
    assert torch.allclose(combo.raw, za - zb + zc)
    assert combo.raw_norm == pytest.approx(float((za - zb + zc).norm()), rel=1e-6)
    assert float(combo.rescaled.norm()) == pytest.approx(typical_norm(100), rel=1e-5)
    cos = float(combo.raw @ combo.rescaled / (combo.raw.norm() * combo.rescaled.norm()))
    assert cos == pytest.approx(1.0, abs=1e-6)  # same direction
    assert combo.raw_norm / combo.typical_norm > 1.5  # a - b + c is about sqrt(3) times further out
    assert "further out" in combo.note and "shell" in combo.note
    half = combine([(0.5, za), (0.5, zb)])  # the midpoint of two seeds is closer in than the prior's samples
    assert "closer to the centre" in half.note
    zero = combine([(+1, za), (-1, za)])
    assert zero.raw_norm == 0 and torch.equal(zero.rescaled, torch.zeros(100)) and "cancel" in zero.note
    with pytest.raises(ValueError):
        combine([])


def test_seed_book_round_trip_and_malformed_files(tmp_path):
    book = SeedBook("run-1", 4, seeds=[3, 5], vectors={"a+b": [0.1, 0.2, 0.3, 0.4]})
    loaded = SeedBook.load(book.save(tmp_path / "seeds.json"))
    assert loaded == book
    assert torch.equal(loaded.z(3), z_from_seed(3, 4))
    assert loaded.z("a+b").tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])
    for bad, reason in (("not json", "invalid JSON"), ('{"seeds": [1]}', "latent_dim"),
                        ('{"latent_dim": 4, "seeds": [1.5]}', "whole numbers"),
                        ('{"latent_dim": 4, "vectors": {"x": [1, 2]}}', "list of 4 numbers")):
        with pytest.raises(ValueError, match=reason):
            SeedBook.from_json(bad)


def test_gif_has_one_frame_per_step_at_the_enlarged_size():
    frames = torch.rand(16, 1, 8, 8) * 2 - 1
    gif = Image.open(io.BytesIO(gif_bytes(frames)))
    scale = scale_for(8)
    assert gif.n_frames == 16 and gif.size == (8 * scale, 8 * scale) and gif.info.get("loop") == 0
    bounce = Image.open(io.BytesIO(gif_bytes(frames, bounce=True)))
    assert bounce.n_frames == 16 + 14  # there and back, the ends not repeated
    colour = Image.open(io.BytesIO(gif_bytes(torch.rand(3, 3, 32, 32) * 2 - 1, scale=1)))
    assert colour.n_frames == 3 and colour.size == (32, 32)


def test_grid_png_geometry_and_pixel_values():
    x = torch.full((6, 1, 8, 8), -1.0)
    x[0] = 1.0  # the first image white, the rest black
    png = Image.open(io.BytesIO(grid_png(x, nrow=3, scale=2)))
    pad = 2  # torchvision make_grid's default padding
    assert png.size == (3 * (16 + pad) + pad, 2 * (16 + pad) + pad) and png.mode == "L"
    assert png.getpixel((pad + 3, pad + 3)) == 255 and png.getpixel((pad + 18 + 3, pad + 3)) == 0
