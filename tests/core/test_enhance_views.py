"""The Enhance page's views, on hand-made held-out images: the zoom takes the same region of the three images, the
checkerboard view finds a period-2 pattern at the corners of the spectrum and magnifies the flattest region, and
the trade-off points come from the runs' evaluation files."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from core.enhance.train import EVAL_NAME, HELD_DIR
from core.enhance.views import checkerboard, held_out_names, tradeoff_points, zoom


@pytest.fixture
def run_dir(tmp_path):
    h, w = 64, 96
    yy, xx = np.mgrid[0:h, 0:w]
    original = np.where(xx < 48, 120, (xx * 2 + yy) % 256).astype(np.uint8)  # flat left half, busy right half
    board = ((yy + xx) % 2 * 2 - 1) * 6  # a period-2 checkerboard of +-6 grey levels
    images = {"original": original, "bicubic": original, "model": np.clip(original + board, 0, 255)}
    folder = tmp_path / HELD_DIR
    folder.mkdir()
    for label, arr in images.items():
        Image.fromarray(np.stack([arr] * 3, -1).astype(np.uint8)).save(folder / f"cat_{label}.png")
    return tmp_path


def test_zoom_takes_the_same_region_of_the_three(run_dir):
    assert held_out_names(run_dir) == ["cat"]
    crops = zoom(run_dir, "cat", x=0.75, y=0.5, size=16)
    assert set(crops) == {"bicubic", "model", "original"}
    assert np.array_equal(crops["original"], crops["bicubic"]) and crops["model"].shape == (16, 16, 3)
    full = np.asarray(Image.open(run_dir / HELD_DIR / "cat_original.png"))
    assert np.array_equal(crops["original"], full[24:40, 64:80])
    assert zoom(run_dir, "cat", 1.0, 1.0, 500)["model"].shape == (64, 64, 3)  # clipped to the image


def test_checkerboard_shows_the_pattern_in_the_spectrum_and_the_flat_region(run_dir):
    view = checkerboard(run_dir, "cat")
    spec = view.spectrum
    assert np.unravel_index(np.argmax(spec), spec.shape) == (0, 0)  # (pi, pi): the corner of the centred spectrum
    top, left, side = view.flat_box
    assert left + side <= 48  # the flat half
    # +-6 grey levels in R, G and B are +-6 * 219/255 on Y (BT.601), magnified 8 times
    assert view.flat["model"].std() == pytest.approx(8 * 6 * 219 / 255, abs=1.0)
    assert view.flat["original"].std() == 0


def test_tradeoff_points_read_the_evaluations(tmp_path):
    for name, critic, p in (("a", "none", 0.5), ("b", "relativistic", 0.3), ("c", "none", float("nan"))):
        run = tmp_path / name
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"model": "espcn", "critic": critic}))
        means = {"psnr": 30.0, "perceptual": p, "sharpness": 1.0, "psnr_bicubic": 29.0, "perceptual_bicubic": 0.6}
        (run / EVAL_NAME).write_text(json.dumps({"means": means}))
    points = tradeoff_points([tmp_path / n for n in "abcd"])
    assert [(p.run, p.critic, p.perceptual) for p in points] == [("a", "none", 0.5), ("b", "relativistic", 0.3)]
