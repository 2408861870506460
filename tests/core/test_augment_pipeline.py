"""Pipelines as a whole: code export reproduces the output, presets, the CLI, mixup."""
from __future__ import annotations

import json
import random
import runpy

import PIL.Image
import pytest
import torch

from core.augment import Pipeline, Step, flip_safe, preset, registry
from core.augment.image import to_tensor
from core.augment.mixup import beta_pdf, draw_lambda, mixup
from core.__main__ import main
from core.cli import augment as cli

EVERYTHING = Pipeline("image", [
    Step("RandomResizedCrop", {"size": 40, "scale": [0.3, 1.0]}), Step("RandomHorizontalFlip", {}, 0.5),
    Step("ColorJitter", {"brightness": 0.4, "hue": 0.05}, 0.8), Step("RandomColorSpace", {}, 0.5),
    Step("RandomRotation", {"degrees": 20.0, "expand": False}, 0.5), Step("AddGaussianNoise", {"std": 0.05}, 0.7),
    Step("RandomErasing", {}, 0.5), Step("Normalize", {"mean": [0.5], "std": [0.25]})])


def test_exported_code_runs_and_reproduces_the_pipeline():
    code = EVERYTHING.to_code()
    assert "core." not in code and "class AddGaussianNoise" in code and "class RandomColorSpace" in code
    namespace: dict = {"__name__": "exported"}
    exec(compile(code, "exported.py", "exec"), namespace)  # noqa: S102 - our own generated code
    x = torch.rand(3, 48, 64)
    for seed in range(8):
        torch.manual_seed(seed)
        assert torch.equal(namespace["pipeline"](x), EVERYTHING.sample(x, seed=seed).output)


def test_exported_code_runs_as_a_script(tmp_path, capsys):
    path = tmp_path / "pipe.py"
    path.write_text(Pipeline("image", [Step("RandomCrop", {"size": 200, "padding": 8, "padding_mode": "reflect"}),
                                       Step("GaussianBlur", {}, 0.5)]).to_code())
    runpy.run_path(str(path), run_name="__main__")  # as `python pipe.py` (in-process: no second torch import)
    assert "torch.Size([3, 200, 200])" in capsys.readouterr().out


def test_code_without_our_classes_has_no_class_definitions():
    code = Pipeline("image", [Step("Resize", {"size": 32})]).to_code()
    assert "class " not in code and "v2.Resize(size=(32, 32), antialias=True)" in code


def test_preset_image_has_no_flip_for_digits_and_unknown_sources():
    assert "RandomHorizontalFlip" not in [s.name for s in preset("image", "builtin:digits").steps]
    assert "RandomHorizontalFlip" not in [s.name for s in preset("image").steps]
    assert "RandomHorizontalFlip" in [s.name for s in preset("image", "builtin:shapes").steps]
    assert not flip_safe("/data/mnist_png") and flip_safe("/data/cats_and_dogs")


@pytest.mark.parametrize("kind", ["image", "audio", "spectrogram"])
def test_presets_build_and_keep_shapes(kind):
    pipe = preset(kind)
    x = {"image": torch.rand(3, 28, 28), "audio": torch.randn(1, 8000) * 0.1,
         "spectrogram": torch.randn(1, 64, 101)}[kind]
    assert Pipeline.from_dict(json.loads(json.dumps(pipe.to_dict()))) == pipe
    torch.manual_seed(0)
    assert pipe.build()(x).shape == x.shape


def test_image_preset_works_on_tiny_greyscale_digits():
    build = preset("image", "builtin:digits").build()
    for seed in range(10):
        torch.manual_seed(seed)
        assert build(torch.rand(1, 8, 8)).shape == (1, 8, 8)


def test_preset_text_is_none():
    assert preset("text") is None


def test_cli_writes_draws_and_params(tmp_path):
    image = tmp_path / "in.png"
    PIL.Image.new("RGB", (80, 60), (200, 40, 40)).save(image)
    pipe_file = tmp_path / "pipe.json"
    pipe = Pipeline("image", [Step("RandomResizedCrop", {"size": 32}), Step("ColorJitter", {}, 0.8)])
    pipe_file.write_text(json.dumps(pipe.to_dict()))
    out = tmp_path / "out"
    args = ["--pipeline", str(pipe_file), "--input", str(image), "--n", "3", "--out", str(out), "--seed", "4"]
    assert main(["augment", *args]) == 0  # python -m core augment ...
    summary = json.loads((out / "params.json").read_text())
    assert [d["file"] for d in summary["draws"]] == ["draw_00.png", "draw_01.png", "draw_02.png"]
    assert PIL.Image.open(out / "draw_01.png").size == (32, 32)
    first = summary["draws"][0]["steps"][0]
    assert first["name"] == "RandomResizedCrop" and set(first["params"]) == {"top", "left", "height", "width"}
    replay = pipe.sample(to_tensor(PIL.Image.open(image)), seed=5).records[0].params  # draw 1 used seed 4 + 1
    assert summary["draws"][1]["steps"][0]["params"] == replay


def test_cli_refuses_bad_pipeline(tmp_path, capsys):
    bad = {"kind": "image", "steps": [{"name": "Resize", "params": {"size": 0}}]}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    parser = __import__("argparse").ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--pipeline", str(tmp_path / "bad.json"), "--input", "x.png", "--out", str(tmp_path)])
    assert cli.run(args) == 2
    assert "Resize.size = 0 is outside" in capsys.readouterr().err


def test_mixup_matches_hand_computation():
    x1, x2 = torch.full((1, 2, 2), 1.0), torch.full((1, 2, 2), 3.0)
    result = mixup(x1, 2, x2, 0, 3, lam=0.25)
    assert torch.allclose(result.x, torch.full((1, 2, 2), 0.25 * 1 + 0.75 * 3))
    assert result.y.tolist() == pytest.approx([0.75, 0.0, 0.25]) and float(result.y.sum()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same shape"):
        mixup(x1, 0, torch.zeros(1, 3, 3), 1, 2, 0.5)


@pytest.mark.parametrize("alpha", [0.2, 0.4, 1.0, 2.5])
def test_lambda_draws_follow_beta(alpha):
    """Reference: scipy's Beta(alpha, alpha) distribution function (Kolmogorov-Smirnov) and its moments."""
    import scipy.stats

    g = torch.Generator().manual_seed(0)
    draws = [draw_lambda(alpha, g) for _ in range(3000)]
    assert all(0.0 <= d <= 1.0 for d in draws)
    assert scipy.stats.kstest(draws, "beta", args=(alpha, alpha)).pvalue > 0.01
    assert float(torch.tensor(draws).var()) == pytest.approx(scipy.stats.beta(alpha, alpha).var(), rel=0.1)
    again = torch.Generator().manual_seed(0)
    assert [draw_lambda(alpha, again) for _ in range(5)] == draws[:5]  # the generator alone decides the draws


def test_lambda_draws_with_a_tiny_alpha_pile_up_at_the_ends_without_nan():
    """alpha = 0.01: Gammas of about 1e-100 (computed in logs, no 0/0); mass near 0 and 1 as scipy's Beta says."""
    import scipy.stats

    g = torch.Generator().manual_seed(0)
    draws = torch.tensor([draw_lambda(0.01, g) for _ in range(2000)], dtype=torch.float64)
    assert torch.isfinite(draws).all() and draws.min() >= 0 and draws.max() <= 1
    near_ends = float(((draws < 0.01) | (draws > 0.99)).double().mean())
    expected = 2 * scipy.stats.beta(0.01, 0.01).cdf(0.01)
    assert near_ends == pytest.approx(expected, abs=0.03)


def test_lambda_draws_and_beta_density():
    lam, density = beta_pdf(1.0)
    assert torch.allclose(density, torch.ones_like(density))  # Beta(1, 1) is uniform
    with pytest.raises(ValueError):
        draw_lambda(0.0)


NON_IMAGE = [(kind, name) for kind in ("spectrogram", "audio", "text") for name in sorted(registry(kind))]
INPUTS = {"spectrogram": lambda: torch.randn(1, 64, 101), "audio": lambda: torch.randn(1, 8000) * 0.1,
          "text": lambda: "the movie was good and the price was cheap but the sound was bad"}


@pytest.mark.parametrize("kind, name", NON_IMAGE)
def test_other_registries_build_from_default_and_random_specs(kind, name):
    from tests.core.test_augment_image import random_value

    op = registry(kind)[name]
    assert all(p.help for p in op.params)
    x = INPUTS[kind]()
    for seed in range(3):
        rng = random.Random(f"{kind}-{name}-{seed}")
        params = op.defaults() if seed == 0 else {p.name: random_value(p, rng) for p in op.params}
        draw = Pipeline(kind, [Step(name, params, 1.0)], sample_rate=16000).sample(x, seed=seed)
        out = draw.output
        if kind == "text":
            assert isinstance(str(out), str) and str(out)
        else:
            assert out.shape == x.shape and torch.isfinite(out).all()


def test_built_pipelines_pickle_for_dataloader_workers():
    import pickle

    pipes = [EVERYTHING, preset("audio"), preset("spectrogram"), Pipeline("text", [Step("SynonymReplacement", {})])]
    x = torch.rand(3, 48, 64)
    for pipe in pipes:
        assert pickle.loads(pickle.dumps(pipe.build())) is not None
    torch.manual_seed(0)
    copy = pickle.loads(pickle.dumps(EVERYTHING.build()))(x)
    assert torch.equal(copy, EVERYTHING.sample(x, seed=0).output)


@pytest.mark.parametrize("kind, x", [("image", torch.rand(3, 8, 8)), ("spectrogram", torch.rand(1, 16, 20)),
                                     ("audio", torch.rand(1, 800)), ("text", "a short sentence")])
def test_an_empty_pipeline_leaves_the_input_unchanged(kind, x, tmp_path):
    empty = Pipeline(kind, [])
    same = (lambda a: str(a) == x) if kind == "text" else (lambda a: torch.equal(a, x))  # text: tagged Tokens
    draw = empty.sample(x, seed=0, keep_stages=True)
    assert draw.records == [] and same(draw.output) and same(empty.build()(x))
    if kind == "image":  # the exported code runs too (v2.Compose refuses an empty list)
        (tmp_path / "p.py").write_text(empty.to_code())
        assert torch.equal(runpy.run_path(str(tmp_path / "p.py"))["pipeline"](x), x)


@pytest.mark.parametrize("kind", ["image", "spectrogram", "audio", "text"])
def test_menu_help_is_plain_text(kind):
    """What the page shows next to a transform and its parameters: no ``markup`` from docstrings."""
    texts = [t for op in registry(kind).values() for t in (op.help, *(p.help for p in op.params))]
    assert texts and not [t for t in texts if "``" in t or "`" in t]
