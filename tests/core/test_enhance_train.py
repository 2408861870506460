"""Super-resolution training: a tiny run records its series, strip, checkpoint and held-out evaluation; it resumes
from its checkpoint; a stop keeps the checkpoint; the job kind refuses bad configs; the CLI trains, evaluates, applies."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest
import torch
from PIL import Image

from core.enhance.apply import load_enhancer
from core.enhance.config import EnhanceConfig
from core.enhance.data import SRImages, load_images
from core.enhance.train import fit, list_strips
from core.jobs import JobStopped, kinds
from core.train.store import RunStore

pytestmark = pytest.mark.slow  # each trains a tiny network (seconds on a busy machine)
TINY = dict(patch=12, batch_size=4, steps_per_epoch=4, epochs=2, eval_every=4, checkpoint_every=4,
            perceptual_eval=False, device="cpu")


def _images(n=3, side=80) -> SRImages:
    g = torch.Generator().manual_seed(0)
    imgs = [(torch.rand(3, side, side + 8, generator=g) * 255).byte() for _ in range(n)]
    return SRImages("synthetic", imgs[:-1], imgs[-1:], [f"t{i}" for i in range(n - 1)], ["held"])


def test_tiny_run_records_series_strip_checkpoint_and_evaluation(runs_dir):
    result = fit(EnhanceConfig(**TINY, runs_dir=str(runs_dir)), images=_images())
    assert result.status == "finished" and result.steps == 8
    store = RunStore.open(result.run_dir)
    series = store.scalars()
    assert {"loss", "pixel_loss", "psnr", "psnr_bicubic"} <= set(series.columns)
    assert [s for s, _ in list_strips(result.run_dir)] == [0, 4, 8]
    strip = Image.open(list_strips(result.run_dir)[-1][1])
    assert strip.size == (80, 240)  # one 80 px crop (the held-out image's centre), rows: bicubic, model, original
    [row] = result.evaluation["images"]
    assert row["name"] == "held" and row["psnr_bicubic"] > 0 and row["psnr"] > 0
    model, cfg = load_enhancer(result.run_dir)
    assert cfg.model == "espcn" and sum(p.numel() for p in model.parameters()) > 0
    for label in ("model", "bicubic", "original"):
        assert (store.run_dir / "heldout" / f"held_{label}.png").is_file()


def test_resume_continues_from_the_checkpoint(runs_dir):
    first = fit(EnhanceConfig(**{**TINY, "epochs": 1}, runs_dir=str(runs_dir)), images=_images())
    second = fit(EnhanceConfig(**TINY, runs_dir=str(runs_dir), resume_from=first.run_dir), images=_images())
    assert second.steps == 8 and any("resumed" in n for n in second.notices)
    trained = RunStore.open(second.run_dir).scalars().dropna(subset=["loss"])
    assert min(trained.step) == 5  # only the steps after the checkpoint


def test_a_stop_keeps_the_checkpoint(runs_dir):
    def stop_at_3(done, total, text):
        if done == 3:
            raise JobStopped()

    store = RunStore.create(runs_dir, EnhanceConfig(**TINY).to_dict(), kind="enhance")
    with pytest.raises(JobStopped):
        fit(EnhanceConfig(**TINY), run=store, progress=stop_at_3, images=_images())
    ckpt = torch.load(store.run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["step"] == 3


def test_critic_and_perceptual_switches_train(runs_dir):
    cfg = EnhanceConfig(**{**TINY, "epochs": 1}, critic="relativistic", perceptual_weight=0.1, channels="rgb",
                        model="resize_conv", runs_dir=str(runs_dir))
    series = RunStore.open(fit(cfg, images=_images()).run_dir).scalars()
    assert {"critic_loss", "adversarial_loss", "perceptual_loss"} <= set(series.columns)


def test_the_job_kind_refuses_bad_configs():
    assert kinds.problems("enhance", EnhanceConfig().to_dict()) == []
    assert any("scale" in p for p in kinds.problems("enhance", EnhanceConfig(scale=7).to_dict()))
    assert any("does not exist" in p for p in kinds.problems("enhance", EnhanceConfig(data="/no/such").to_dict()))
    assert kinds.problems("enhance", {"nonsense": 1})
    small = kinds.problems("enhance", EnhanceConfig(data="builtin:digits").to_dict())  # 8x8 images, 48 px crops
    assert any("too small for 48 px training crops" in p for p in small)
    assert kinds.problems("enhance_apply", {"run": "/nowhere", "image": "/nothing.png"})


def test_held_out_photos_are_fixed_whole_images_never_trained_on():
    imgs = load_images("builtin:photos")
    assert imgs.held_names == ["chelsea", "coffee", "camera"] and not set(imgs.held_names) & set(imgs.train_names)
    assert imgs.held_out[0].shape == (3, 300, 451)


def _cli(*argv) -> tuple[int, str]:
    from core.__main__ import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def test_cli_train_eval_apply(tmp_path, runs_dir):
    folder = tmp_path / "pics"
    folder.mkdir()
    g = torch.Generator().manual_seed(1)
    for i in range(3):
        arr = (torch.rand(72, 64, 3, generator=g) * 255).byte().numpy()
        Image.fromarray(arr).save(folder / f"p{i}.png")
    code, out = _cli("enhance", "train", "--data", str(folder), "--scale", "2", "--max-steps", "3", "--patch", "12",
                     "--batch-size", "2", "--json")
    result = json.loads(out)
    assert code == 0 and result["status"] == "finished" and result["steps"] == 3
    run_dir = result["run_dir"]
    code, out = _cli("enhance", "eval", run_dir, "--data", str(folder), "--split", "all", "--json")
    report = json.loads(out)
    assert code == 0 and len(report["images"]) == 3 and "psnr_bicubic" in report["means"]
    code, out = _cli("enhance", "eval", run_dir, "--data", str(folder), "--on", "rgb", "--json")
    rgb = json.loads(out)
    assert rgb["on"] == "rgb" and len(rgb["images"]) == 1  # the held-out image (every 5th, at least one)
    assert rgb["means"]["psnr_bicubic"] != pytest.approx(report["images"][-1]["psnr_bicubic"])
    code, out = _cli("enhance", "apply", run_dir, str(folder / "p0.png"), "--out", str(tmp_path / "big.png"),
                     "--json")
    assert code == 0 and Image.open(tmp_path / "big.png").size == (128, 144)
    (tmp_path / "notes.png").write_text("not an image")
    code, out = _cli("enhance", "apply", run_dir, str(tmp_path / "notes.png"), "--out", str(tmp_path / "x.png"))
    assert code == 2 and "not an image" in out
