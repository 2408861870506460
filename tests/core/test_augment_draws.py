"""Seeded draws come from explicit generators: equal to torchvision's own draws, and private to each session."""
from __future__ import annotations

import random
import threading

import PIL.Image
import pytest
import skimage.data
import torch

from core.augment import Pipeline, Step, registry
from core.augment.draws import draw_params, has_draw
from core.augment.image import IMAGE_OPS, to_tensor
from tests.core.test_augment_image import random_value

# sizes chosen to reach the rare branches too: crops larger than the image (padding, fallbacks), odd sizes
IMAGES = {"photo": (3, 48, 64), "tiny": (3, 5, 7), "grey": (1, 31, 17)}


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def test_every_image_transform_has_a_seeded_draw():
    missing = [name for name, op in IMAGE_OPS.items() if not has_draw(op.extra["cls"])]
    assert missing == []


@pytest.mark.parametrize("name", sorted(IMAGE_OPS))
@pytest.mark.parametrize("image", sorted(IMAGES))
def test_draw_equals_torchvisions_make_params_with_the_same_seed(name, image):
    """Reference: the torchvision object's own make_params, drawing from torch's global generator seeded alike."""
    op, x = IMAGE_OPS[name], torch.rand(IMAGES[image], generator=torch.Generator().manual_seed(1))
    for seed in range(8):
        rng = random.Random(f"{name}-{seed}")
        params = op.defaults() if seed == 0 else {p.name: random_value(p, rng) for p in op.params}
        t = Pipeline("image", [Step(name, params, 1.0)]).validated().steps[0]
        t = op.build(t.params, 1.0)
        try:
            torch.manual_seed(seed)
            expected = t.make_params([x])
        except ValueError as err:  # e.g. a crop larger than the image without padding: ours refuses the same way
            with pytest.raises(ValueError, match="larger than"):
                draw_params(t, x, torch.Generator().manual_seed(seed))
            assert "larger than" in str(err)
            continue
        state = torch.get_rng_state()
        got = draw_params(t, x, torch.Generator().manual_seed(seed))
        assert _same(got, expected), (name, seed, got, expected)
        assert torch.equal(torch.get_rng_state(), state)  # the global generator was not touched


def test_unknown_transform_class_is_refused():
    from torchvision.transforms import v2

    with pytest.raises(TypeError, match="RandomInvert has no seeded draw"):
        draw_params(v2.RandomInvert(), torch.rand(3, 4, 4), torch.Generator())


PHOTO = to_tensor(PIL.Image.fromarray(skimage.data.chelsea()).resize((64, 48)))
SESSIONS = {
    "image": (Pipeline("image", [Step("RandomResizedCrop", {"size": 32}), Step("RandomHorizontalFlip", {}, 0.5),
                                 Step("ColorJitter", {"hue": 0.05}, 0.8), Step("RandomAffine", {}, 0.7),
                                 Step("AddGaussianNoise", {}, 0.5), Step("RandomErasing", {}, 0.5)]), PHOTO),
    "text": (Pipeline("text", [Step(name, {}, 0.8) for name in registry("text")]),
             "the movie was good and the price was cheap but the sound was bad and the seats were small"),
    "spectrogram": (Pipeline("spectrogram", [Step("FrequencyMasking", {"n_masks": 2}), Step("TimeMasking", {})]),
                    torch.randn(1, 64, 101, generator=torch.Generator().manual_seed(2))),
    "audio": (Pipeline("audio", [Step("AddNoise", {}), Step("Gain", {}, 0.5), Step("TimeShift", {})]),
              torch.randn(1, 4000, generator=torch.Generator().manual_seed(3)) * 0.1),
}


def _previews(kind: str, seeds) -> list:
    pipe, x = SESSIONS[kind]
    out = []
    for seed in seeds:
        draw = pipe.sample(x, seed=seed, keep_stages=True)
        out.append(str(draw.output) if kind == "text" else draw.output)
    return out


def test_concurrent_sessions_each_get_their_own_seeded_previews_bit_for_bit():
    """Two sessions (threads, as Streamlit runs them) preview with seeds while a third thread reseeds and draws
    from torch's global generator all along; each session gets exactly what it gets alone."""
    seeds = {"a": list(range(0, 40)), "b": list(range(1000, 1040))}
    kinds = {"a": ["image", "text"], "b": ["spectrogram", "audio", "image"]}
    alone = {s: {k: _previews(k, seeds[s]) for k in kinds[s]} for s in seeds}
    together, errors, stop = {s: {} for s in seeds}, [], threading.Event()

    def session(name):
        try:
            for kind in kinds[name]:
                together[name][kind] = _previews(kind, seeds[name])
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    def noisy_neighbour():
        while not stop.is_set():
            torch.manual_seed(random.randrange(1 << 30))
            torch.rand(100)

    threads = [threading.Thread(target=session, args=(s,)) for s in seeds]
    neighbour = threading.Thread(target=noisy_neighbour)
    neighbour.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    neighbour.join()
    assert errors == []
    for s in seeds:
        for kind in kinds[s]:
            for got, want in zip(together[s][kind], alone[s][kind]):
                assert got == want if kind == "text" else torch.equal(got, want), (s, kind)
