"""Image folders and the built-in image sets: layouts, splits, decoding vs PIL, summaries, every bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from core.data import DataError, load
from core.data import images as images_mod
from core.data.layout import stratified_split


def _png(path, size=(20, 16), colour=(200, 30, 30), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour if mode == "RGB" else colour[0]).save(path)
    return path


def _folder(root, classes=("cat", "dog"), n=10, size=(20, 16), mode="RGB"):
    for ci, c in enumerate(classes):
        for i in range(n):
            _png(root / c / f"{i}.png", size, (ci * 100, i * 20, 50), mode)
    return root


def test_image_folder_without_splits_gets_seeded_stratified_split(tmp_path):
    b = load(str(_folder(tmp_path, n=10)), val_fraction=0.2, seed=3)
    assert b.kind == "image" and b.classes == ["cat", "dog"]
    assert b.counts() == {"train": {"cat": 8, "dog": 8}, "val": {"cat": 2, "dog": 2}}
    again = load(str(tmp_path), val_fraction=0.2, seed=3)
    assert again.splits["val"].paths == b.splits["val"].paths  # reproducible
    x, y = b.splits["train"][0]
    assert x.dtype == torch.float32 and x.shape == b.input_shape == (3, 32, 32)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert y == b.splits["train"].targets[0] and b.splits["train"].transform is None


def test_split_folders_are_used_and_val_is_carved_when_missing(tmp_path):
    for split in ("train", "val", "test"):
        _folder(tmp_path / "a" / split, n=3)
    b = load(str(tmp_path / "a"))
    assert {k: len(v) for k, v in b.splits.items()} == {"train": 6, "val": 6, "test": 6}
    for split in ("train", "test"):
        _folder(tmp_path / "b" / split, n=10)
    b = load(str(tmp_path / "b"), val_fraction=0.3)
    assert b.counts()["val"] == {"cat": 3, "dog": 3} and len(b.splits["test"]) == 20


def test_pixels_match_pil_resize_and_transform_is_applied(tmp_path):
    rng = np.random.RandomState(0)
    for c in ("a", "b"):
        for i in range(3):
            (tmp_path / c).mkdir(exist_ok=True)
            Image.fromarray(rng.randint(0, 255, (40, 30, 3), dtype=np.uint8)).save(tmp_path / c / f"{i}.png")
    b = load(str(tmp_path), image_size=24)
    ds = b.splits["train"]
    x, _ = ds[0]
    ref = np.asarray(Image.open(ds.paths[0]).convert("RGB").resize((24, 24), Image.Resampling.BILINEAR))
    assert torch.allclose(x, torch.from_numpy(ref.copy()).permute(2, 0, 1).float() / 255)
    ds.transform = lambda t: t.flip(-1)
    assert torch.equal(ds[0][0], x.flip(-1))


def test_grayscale_folder_gives_one_channel_and_mixed_modes_three(tmp_path):
    b = load(str(_folder(tmp_path / "g", mode="L", n=3)))
    assert b.input_shape[0] == 1 and b.splits["train"][0][0].shape[0] == 1
    _folder(tmp_path / "m", mode="L", n=3)
    _png(tmp_path / "m" / "cat" / "rgba.png", mode="RGB")
    assert load(str(tmp_path / "m")).input_shape[0] == 3


def test_bad_image_files_are_skipped_with_reasons(tmp_path):
    _folder(tmp_path, n=5)
    good = _png(tmp_path / "x.png", (64, 64))
    (tmp_path / "cat" / "corrupt.png").write_bytes(good.read_bytes()[:60])  # header ok, pixel data cut
    (tmp_path / "cat" / "empty.png").write_bytes(b"")
    (tmp_path / "dog" / "notes.jpg").write_text("this is a text file, not a photo")
    good.unlink()
    b = load(str(tmp_path))
    reasons = {p.split("/")[-1]: r for p, r in ((s.path, s.reason) for s in b.skipped)}
    assert set(reasons) == {"corrupt.png", "empty.png", "notes.jpg"}
    assert "corrupt" in reasons["corrupt.png"] and "zero-byte" in reasons["empty.png"]
    assert "not an image" in reasons["notes.jpg"]
    assert sum(len(d) for d in b.splits.values()) == 10
    assert all(b.splits["train"][i][0].shape == (3, 32, 32) for i in range(len(b.splits["train"])))


def test_header_only_load_never_decodes_pixels(tmp_path, monkeypatch):
    _folder(tmp_path, n=4)
    monkeypatch.setattr(images_mod, "decode", lambda *a: pytest.fail("decoded pixels during a header-only load"))
    s = load(str(tmp_path), verify=False).summary()
    assert s["images"]["cat"]["width"]["median"] == 20 and s["images"]["cat"]["height"]["median"] == 16


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "no images found"),
    (lambda p: _folder(p, classes=("only",)), "only one class"),
    (lambda p: None, "does not exist"),
    (lambda p: [_png(p / f"{i}.png") for i in range(3)], "holds 3 images but no class folders"),
    (lambda p: [(p / c).mkdir(parents=True) or (p / c / "a.png").write_bytes(b"") for c in "ab"], "could be read"),
])
def test_unusable_folders_raise_one_clear_error(tmp_path, make, message):
    make(tmp_path / "data")
    with pytest.raises(DataError, match=message):
        load(str(tmp_path / "data"), kind="image")


def test_summary_flags_the_class_with_much_smaller_images(tmp_path):
    _folder(tmp_path, classes=("big", "large"), n=3, size=(64, 64))
    _folder(tmp_path, classes=("tiny",), n=3, size=(16, 16))
    s = load(str(tmp_path)).summary()
    json.dumps(s)
    assert [x["class"] for x in s["small_classes"]] == ["tiny"]
    assert s["small_classes"][0]["area_ratio"] == pytest.approx(16 * 16 / (64 * 64))
    assert s["images"]["tiny"]["sizes"] == [[16, 16, 3]]
    assert s["images"]["tiny"]["channels"] == {"3": 3} and s["images"]["tiny"]["modes"] == {"RGB": 3}


def test_stratified_split_keeps_class_proportions_and_is_seeded():
    labels = [0] * 50 + [1] * 10
    s = stratified_split(labels, {"val": 0.2, "test": 0.1}, seed=1)
    assert (s[:50].count("val"), s[:50].count("test"), s[50:].count("val"), s[50:].count("test")) == (10, 5, 2, 1)
    assert s == stratified_split(labels, {"val": 0.2, "test": 0.1}, seed=1)
    assert s != stratified_split(labels, {"val": 0.2, "test": 0.1}, seed=2)


def test_builtin_digits_are_sklearn_digits_with_fixed_splits():
    from sklearn.datasets import load_digits

    b = load("builtin:digits")
    assert b.classes == [str(d) for d in range(10)] and set(b.splits) == {"train", "val", "test"}
    assert sum(len(d) for d in b.splits.values()) == 1797 and b.input_shape == (1, 32, 32)
    ds = b.splits["val"]
    index = int(ds.paths[0].stem)  # files are named by their index in load_digits()
    ref = load_digits()
    assert ds.targets[0] == ref.target[index]
    pixels = np.asarray(Image.open(ds.paths[0]))
    assert pixels.shape == (8, 8) and np.array_equal(pixels, np.round(ref.images[index] * 255 / 16))
    assert load("builtin:digits").splits["val"].paths == ds.paths


def test_builtin_shapes_are_imbalanced_with_one_low_resolution_class():
    b = load("builtin:shapes")
    assert b.input_shape[0] == 3 and len(b.classes) >= 4
    assert b.imbalance() >= 3
    assert [x["class"] for x in b.summary()["small_classes"]] == ["star"]


def test_memory_budget_zero_decodes_on_demand_with_the_same_pixels(tmp_path):
    _folder(tmp_path, n=3)
    cached, lazy = load(str(tmp_path)), load(str(tmp_path), cache_mb=0)
    assert cached.splits["train"]._cache is not None and lazy.splits["train"]._cache is None
    assert torch.equal(cached.splits["train"][1][0], lazy.splits["train"][1][0])


def test_images_outside_class_folders_are_listed_not_lost(tmp_path):
    _folder(tmp_path, n=3)
    _png(tmp_path / "stray.png")
    b = load(str(tmp_path))
    assert [(s.path.split("/")[-1], "class folder" in s.reason) for s in b.skipped] == [("stray.png", True)]
