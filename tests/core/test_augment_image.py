"""Image augmentation registry: specs build, bad values are refused, sampled-then-applied equals torchvision."""
from __future__ import annotations

import json
import random

import numpy as np
import PIL.Image
import pytest
import skimage.color
import skimage.data
import torch
from torchvision.transforms import v2

from core.augment import AugmentError, Pipeline, Step, describe, registry
from core.augment.extra import AddGaussianNoise, RandomColorSpace
from core.augment.image import IMAGE_OPS, image_warnings, to_image, to_tensor

NAMES = sorted(IMAGE_OPS)


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """A real photo (scikit-image's cat), downsized to 48x64 to keep tests fast: float (3, H, W) in [0, 1]."""
    return to_tensor(PIL.Image.fromarray(skimage.data.chelsea()).resize((64, 48)))


def random_value(spec, rng: random.Random):
    """A random valid value for ``spec`` (ints capped so outputs stay small)."""
    if spec.type == "bool":
        return rng.random() < 0.5
    if spec.type == "choice":
        return rng.choice(spec.choices)
    if spec.type == "choices":
        return rng.sample(list(spec.choices), rng.randint(1, len(spec.choices)))
    low, high = spec.low, spec.high
    if spec.strictly_positive:
        low = max(low, 1e-3)
    if spec.type == "int":
        value = rng.randint(int(low), int(min(high, low + 40)))
        return value | 1 if spec.odd else value
    one = lambda: rng.uniform(low, high)  # noqa: E731
    if spec.type == "float":
        return one()
    if spec.type == "range":
        return sorted([one(), one()])
    if spec.type == "xy":
        return [one(), one()]
    return [one() for _ in range(rng.choice([1, 3]))]  # floats


@pytest.mark.parametrize("name", NAMES)
def test_builds_and_applies_from_default_spec(name, photo):
    op = IMAGE_OPS[name]
    pipe = Pipeline("image", [Step(name, op.defaults(), 1.0)])
    out = pipe.build()(photo)
    assert out.dtype == torch.float32 and out.ndim == 3
    assert pipe.validated().steps[0].params == {p.name: p.check(p.default, name) for p in op.params}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_builds_and_applies_from_random_valid_spec(name, seed, photo):
    rng = random.Random(f"{name}-{seed}")
    params = {p.name: random_value(p, rng) for p in IMAGE_OPS[name].params}
    draw = Pipeline("image", [Step(name, params, rng.random())]).sample(photo, seed=seed)
    assert draw.output.ndim == 3 and torch.isfinite(draw.output).all()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [3, 4, 5, 6])
def test_sampled_then_applied_equals_torchvision(name, seed, photo):
    """Our recorded draw reproduces exactly what the torchvision object does with the same seed."""
    op = IMAGE_OPS[name]
    pipe = Pipeline("image", [Step(name, {}, 0.7)])
    draw = pipe.sample(photo, seed=seed)
    torch.manual_seed(seed)
    expected = pipe.build()(photo)
    assert torch.equal(draw.output, expected)
    assert draw.records[0].name == op.extra["cls"].__name__
    if not draw.records[0].applied:
        assert torch.equal(draw.output, photo) and draw.records[0].params == {}


def test_hand_built_torchvision_transforms_match(photo):
    """Reference: transforms constructed directly from torchvision, not through our registry."""
    pipe = Pipeline("image", [Step("RandomResizedCrop", {"size": 32, "scale": [0.3, 0.9]}),
                              Step("ColorJitter", {"brightness": 0.4, "hue": 0.1}, 0.6),
                              Step("RandomHorizontalFlip", {}, 0.5), Step("RandomErasing", {}, 0.9)])
    reference = v2.Compose([v2.RandomResizedCrop(32, scale=(0.3, 0.9), antialias=True),
                            v2.RandomApply([v2.ColorJitter(0.4, 0.2, 0.2, 0.1)], p=0.6),
                            v2.RandomHorizontalFlip(0.5), v2.RandomErasing(0.9, scale=(0.02, 0.2))])
    for seed in range(6):
        torch.manual_seed(seed)
        assert torch.equal(pipe.sample(photo, seed=seed).output, reference(photo))


def test_records_what_was_drawn(photo):
    draw = Pipeline("image", [Step("RandomRotation", {"degrees": 30.0}), Step("RandomGrayscale", {}, 0.0)]) \
        .sample(photo, seed=0, keep_stages=True)
    rotation, gray = draw.records
    assert rotation.applied and -30 <= rotation.params["angle"] <= 30 and not gray.applied
    assert torch.equal(v2.functional.rotate(photo, rotation.params["angle"]), draw.stages[0])
    assert len(draw.stages) == 2 and json.dumps(describe(rotation.params))


def test_seeded_sample_leaves_global_rng_alone(photo):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    Pipeline("image", [Step("RandomAffine", {})]).sample(photo, seed=7)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("name, params, p, message", [
    ("ColorJitter", {"brightness": 3.0}, 1.0, "ColorJitter.brightness = 3.0 is outside"),
    ("ColorJitter", {"hue": "a lot"}, 1.0, "must be a number"),
    ("ColorJitter", {"blur": 1}, 1.0, "has no parameter blur"),
    ("RandomCrop", {"padding_mode": "wrap"}, 1.0, "must be one of"),
    ("RandomCrop", {"size": 10.5}, 1.0, "whole number"),
    ("RandomResizedCrop", {"scale": [0.9, 0.2]}, 1.0, "low <= high"),
    ("RandomResizedCrop", {"scale": [0.5]}, 1.0, "must have 2 values"),
    ("GaussianBlur", {"kernel_size": 4}, 1.0, "must be odd"),
    ("GaussianBlur", {"sigma": [0.0, 1.0]}, 1.0, "GaussianBlur.sigma = 0.0 is outside the allowed range"),
    ("Normalize", {"std": [0.2, 0.0, 0.2]}, 1.0, "greater than 0"),
    ("Normalize", {"mean": [0.1, 0.2]}, 1.0, "1 or 3 values"),
    ("RandomRotation", {"expand": "yes"}, 1.0, "true or false"),
    ("RandomColorSpace", {"spaces": ["cmyk"]}, 1.0, "drawn from"),
    ("RandomColorSpace", {"spaces": []}, 1.0, "non-empty"),
    ("RandomAffine", {"degrees": float("nan")}, 1.0, "NaN"),
    ("RandomHorizontalFlip", {}, 1.5, "probability must be a number in [0, 1]"),
    ("Sharpen", {}, 1.0, "unknown image transform 'Sharpen'"),
])
def test_invalid_params_are_refused_with_a_message(name, params, p, message):
    with pytest.raises(AugmentError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        Pipeline("image", [Step(name, params, p)]).validated()


def test_from_dict_refuses_malformed_files():
    with pytest.raises(AugmentError, match="name"):
        Pipeline.from_dict({"kind": "image", "steps": [{"params": {}}]})
    with pytest.raises(AugmentError, match="unknown pipeline kind"):
        Pipeline.from_dict({"kind": "video", "steps": []})
    with pytest.raises(AugmentError, match="JSON object"):
        Pipeline.from_dict(["ColorJitter"])
    with pytest.raises(AugmentError, match="sample_rate"):
        Pipeline.from_dict({"kind": "audio", "steps": [], "sample_rate": "fast"})


def test_json_round_trip():
    pipe = Pipeline("image", [Step("RandomResizedCrop", {"size": 96, "scale": [0.4, 1.0]}, 1.0),
                              Step("ColorJitter", {"hue": 0.1}, 0.8),
                              Step("RandomColorSpace", {"spaces": ["lab"]}, 0.3),
                              Step("Normalize", {})])
    text = json.dumps(pipe.validated().to_dict())
    back = Pipeline.from_dict(json.loads(text))
    assert back == pipe.validated() and back.to_dict() == json.loads(text)


def test_registry_lists_every_issue_transform():
    wanted = {"ColorJitter", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomGrayscale", "RandomCrop",
              "RandomResizedCrop", "RandomRotation", "Pad", "RandomAffine", "GaussianBlur", "RandomPerspective",
              "RandomErasing", "Resize", "Normalize", "AddGaussianNoise", "RandomColorSpace"}
    assert wanted <= set(registry("image"))
    assert all(p.help for op in IMAGE_OPS.values() for p in op.params)


def test_gaussian_noise_matches_torchvision(photo):
    torch.manual_seed(0)
    ours = AddGaussianNoise(mean=0.01, std=0.1)(photo)
    torch.manual_seed(0)
    assert torch.allclose(ours, v2.GaussianNoise(mean=0.01, sigma=0.1)(photo), atol=1e-6)
    as_uint8 = AddGaussianNoise(std=0.1)((photo * 255).to(torch.uint8))
    assert as_uint8.dtype == torch.uint8
    assert isinstance(AddGaussianNoise(std=0.1)(to_image(photo)), PIL.Image.Image)


@pytest.mark.parametrize("space", ["hsv", "ycbcr", "lab"])
def test_colour_spaces_match_references(space, photo):
    out = RandomColorSpace(spaces=[space]).transform(photo, {"space": space})
    rgb = photo.permute(1, 2, 0).numpy().astype(np.float64)
    if space == "hsv":
        expected = skimage.color.rgb2hsv(rgb)
    elif space == "lab":
        expected = (skimage.color.rgb2lab(rgb) + [0, 128, 128]) / [100, 255, 255]
    else:
        pil = to_image(photo).convert("YCbCr")
        expected = np.asarray(pil, dtype=np.float64) / 255
    tol = 2.5 / 255 if space == "ycbcr" else 1e-3  # PIL rounds to 8 bits
    assert np.abs(out.permute(1, 2, 0).numpy() - expected).max() < tol


def test_colour_space_keeps_greyscale_and_dtype(photo):
    grey = photo[:1]
    assert torch.equal(RandomColorSpace()(grey), grey)
    assert RandomColorSpace()((photo * 255).to(torch.uint8)).dtype == torch.uint8


def test_destructive_settings_are_warned():
    steps = Pipeline("image", [Step("RandomResizedCrop", {"scale": [0.05, 1.0]}), Step("Normalize", {}),
                               Step("RandomRotation", {"degrees": 45.0}), Step("RandomVerticalFlip", {}, 0.5)]) \
        .validated().steps
    text = " ".join(image_warnings(steps))
    assert "cut out" in text and "Normalize is not the last" in text and "corners" in text and "digits" in text
    assert image_warnings(Pipeline("image", [Step("ColorJitter", {})]).validated().steps) == []


def test_flip_warning_depends_on_the_data_source():
    steps = Pipeline("image", [Step("RandomHorizontalFlip", {}, 0.5)]).validated().steps
    assert any("mirrored digits" in w for w in image_warnings(steps, (8, 8), "builtin:digits"))
    assert image_warnings(steps, (64, 64), "builtin:shapes") == []
    blur = Pipeline("image", [Step("GaussianBlur", {"kernel_size": 15})]).validated().steps
    assert any("wider than the 8px image" in w for w in image_warnings(blur, (8, 8)))


def test_to_image_undoes_a_final_normalize(photo):
    pipe = Pipeline("image", [Step("Normalize", {})]).validated()
    shown = np.asarray(to_image(pipe.build()(photo), pipe.steps), dtype=np.float64) / 255
    assert np.abs(shown - photo.permute(1, 2, 0).numpy()).max() <= 1 / 255 + 1e-6
