"""core.enhance: the reference checks (pairs' downscaling = PIL's bicubic resize; PSNR / SSIM = scikit-image and
torchmetrics; PixelShuffle = a hand-written reshape), the models' shapes over the registry, tiling, bad inputs."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from core.enhance.apply import MAX_INPUT_SIDE, TILE, _tiled, read_upload
from core.enhance.config import EnhanceConfig
from core.enhance.data import (downscale, fixed_crops, from_ycbcr, modcrop, random_pairs, to_tensor, to_y,
                               to_ycbcr)
from core.enhance.losses import critic_losses, generator_adversarial
from core.enhance.metrics import psnr, ssim
from core.enhance.models import MODELS, build_model, run_model


def _photo(h=120, w=96, seed=0) -> torch.Tensor:
    """A smooth-plus-texture uint8 test image (3, h, w)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack([xx, yy, (xx + yy) / 2]) * 200 + torch.rand(3, h, w, generator=g) * 55
    return base.round().clamp(0, 255).byte()


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_downscale_equals_pils_bicubic_resize(scale):
    img = modcrop(_photo(), scale)
    pil = Image.fromarray(img.permute(1, 2, 0).numpy())
    ref = np.asarray(pil.resize((img.shape[2] // scale, img.shape[1] // scale), Image.Resampling.BICUBIC))
    ours = downscale(img.float().div(255)[None], scale)[0].mul(255).round().byte().permute(1, 2, 0).numpy()
    diff = np.abs(ours.astype(int) - ref.astype(int))
    assert diff.max() <= 1 and diff.mean() < 0.25  # PIL works in 8-bit fixed point: at most one grey level apart
    plain = torch.nn.functional.interpolate(img.float().div(255)[None], scale_factor=1 / scale, mode="bicubic",
                                            antialias=False)  # without the antialiasing the check would fail
    far = np.abs(plain[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy().astype(int) - ref)
    assert far.max() > 5


def test_pairs_are_crops_and_their_downscaling():
    img = _photo(200, 200)
    lr, hr = random_pairs([img], 4, patch=16, scale=3, generator=torch.Generator().manual_seed(1), channels="rgb")
    assert lr.shape == (4, 3, 16, 16) and hr.shape == (4, 3, 48, 48)
    assert torch.allclose(lr, downscale(hr, 3))
    ly, hy = random_pairs([img], 4, 16, 3, torch.Generator().manual_seed(1), channels="y")
    assert torch.allclose(hy, to_y(hr)) and ly.shape == (4, 1, 16, 16)  # same generator, same crops
    with pytest.raises(ValueError, match="at least 96 px"):
        random_pairs([_photo(60, 60)], 1, patch=32, scale=3, generator=torch.Generator())


def test_ycbcr_round_trip_and_y_matches_skimage():
    from skimage.color import rgb2ycbcr

    x = _photo(20, 20).float().div(255)[None]
    assert torch.allclose(from_ycbcr(to_ycbcr(x)), x, atol=2e-3)
    ref = rgb2ycbcr(x[0].permute(1, 2, 0).numpy())[..., 0] / 255  # MATLAB convention, 16..235
    assert np.allclose(to_y(x)[0, 0].numpy(), ref, atol=1e-5)


@pytest.mark.parametrize("on,scale", [("y", 2), ("rgb", 3), ("y", 4)])
def test_psnr_equals_scikit_image_and_torchmetrics(on, scale):
    from torchmetrics.functional.image import peak_signal_noise_ratio as tm_psnr

    hr = _photo(64, 72).float().div(255)[None]
    noisy = (hr + 0.05 * torch.randn(hr.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    crop = lambda t: (to_y(t.double()) if on == "y" else t.double())[..., scale:-scale, scale:-scale]  # noqa: E731
    a, b = crop(noisy)[0].permute(1, 2, 0).numpy(), crop(hr)[0].permute(1, 2, 0).numpy()
    ours = psnr(noisy, hr, scale, on)
    assert ours == pytest.approx(peak_signal_noise_ratio(b, a, data_range=1.0), abs=1e-9)
    assert ours == pytest.approx(float(tm_psnr(crop(noisy), crop(hr), data_range=1.0)), abs=1e-5)  # float32 inside
    assert math.isinf(psnr(hr, hr, scale, on))


@pytest.mark.parametrize("on", ["y", "rgb"])
def test_ssim_torchmetrics_equals_scikit_image(on):
    hr = _photo(64, 64).float().div(255)[None]
    blur = torch.nn.functional.avg_pool2d(hr, 3, stride=1, padding=1, count_include_pad=False)
    prep = (to_y(blur.double()) if on == "y" else blur.double())[0, :, 2:-2, 2:-2].numpy()
    ref_hr = (to_y(hr.double()) if on == "y" else hr.double())[0, :, 2:-2, 2:-2].numpy()
    ref = structural_similarity(ref_hr, prep, channel_axis=0, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    ours = ssim(blur, hr, 2, on)
    assert ours == pytest.approx(ref, abs=1e-6)
    assert ours < 0.999 and ssim(hr, hr, 2, on) == pytest.approx(1.0)


@pytest.mark.parametrize("scale", [2, 3])
def test_pixel_shuffle_layout_is_the_hand_written_reshape(scale):
    b, c, h, w = 2, 3, 4, 5
    x = torch.randn(b, c * scale * scale, h, w, generator=torch.Generator().manual_seed(0))
    # channel c*s*s + i*s + j goes to output pixel (y*s + i, x*s + j) of channel c
    hand = x.view(b, c, scale, scale, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, c, h * scale, w * scale)
    assert torch.equal(torch.nn.PixelShuffle(scale)(x), hand)
    for k in range(c * scale * scale):
        ch, i, j = k // (scale * scale), (k // scale) % scale, k % scale
        assert torch.equal(hand[:, ch, i::scale, j::scale], x[:, k])


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_every_model_upsamples_any_size_by_its_scale(name, scale):
    model = build_model(name, scale, 1, torch.Generator().manual_seed(0))
    for h, w in ((16, 16), (13, 22)):
        assert run_model(model, torch.rand(2, 1, h, w)).shape == (2, 1, h * scale, w * scale)
    again = build_model(name, scale, 1, torch.Generator().manual_seed(0))
    assert all(torch.equal(p, q) for p, q in zip(model.state_dict().values(), again.state_dict().values()))


@pytest.mark.parametrize("name", ["srcnn", "espcn", "resize_conv"])
def test_untrained_residual_models_are_exactly_bicubic(name):
    from core.enhance.data import upscale

    x = torch.rand(1, 1, 12, 12)
    assert torch.allclose(build_model(name, 2, 1, torch.Generator())(x), torch.nn.functional.interpolate(
        x, scale_factor=2, mode="bicubic", align_corners=False))
    assert upscale(x, 2).shape == (1, 1, 24, 24)


def test_tiles_stitch_to_the_one_pass_result():
    model = build_model("espcn", 2, 1, torch.Generator().manual_seed(0)).eval()
    model.residual_out.weight.data.normal_(0, 0.1, generator=torch.Generator().manual_seed(3))
    x = torch.rand(1, 1, TILE + 40, TILE + 7)
    with torch.no_grad():
        assert torch.allclose(_tiled(model, x), run_model(model, x), atol=1e-5)


def test_bad_uploads_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="not an image"):
        read_upload(b"hello, not a picture", "notes.txt")
    buf = io.BytesIO()
    Image.new("RGB", (MAX_INPUT_SIDE + 1, 8)).save(buf, format="PNG")
    with pytest.raises(ValueError, match=f"{MAX_INPUT_SIDE + 1} x 8 px"):
        read_upload(buf.getvalue(), "wide.png")
    buf = io.BytesIO()
    Image.new("RGB", (10, 8), "red").save(buf, format="PNG")
    assert read_upload(buf.getvalue()).size == (10, 8)


def test_relativistic_and_plain_critic_losses():
    real, fake = torch.tensor([2.0, 3.0]), torch.tensor([-1.0, 0.0])
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    assert float(critic_losses("plain", real, fake)) == pytest.approx(
        float((bce(real, torch.ones(2)) + bce(fake, torch.zeros(2))) / 2))
    ra_real, ra_fake = real - fake.mean(), fake - real.mean()
    assert float(critic_losses("relativistic", real, fake)) == pytest.approx(
        float((bce(ra_real, torch.ones(2)) + bce(ra_fake, torch.zeros(2))) / 2))
    assert float(generator_adversarial("relativistic", real, fake)) == pytest.approx(
        float((bce(ra_fake, torch.ones(2)) + bce(ra_real, torch.zeros(2))) / 2))


def test_config_problems_refuse_impossible_settings():
    assert EnhanceConfig().problems() == []
    bad = EnhanceConfig(scale=5, model="vgg", patch=4, critic="wgan").problems()
    assert any("scale" in p for p in bad) and any("model" in p for p in bad)
    assert any("patch" in p for p in bad) and any("critic" in p for p in bad)
    assert any("divisible by 4" in p for p in EnhanceConfig(model="book", patch=30).problems())


def test_fixed_crops_are_the_centres():
    img = _photo(100, 120)
    crops = fixed_crops([img, _photo(10, 10)], 40)
    assert crops.shape == (1, 3, 40, 40)
    assert torch.equal(crops[0], img[:, 30:70, 40:80].float().div(255))
    assert to_tensor(Image.new("L", (5, 4))).shape == (3, 4, 5)
