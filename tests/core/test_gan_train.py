"""GAN training: the three steps touch only the network they should (bitwise), and a recorded run leaves the
series, the progress strip, the collapse meter and weights_only-loadable checkpoints; stop, resume (exactly where it
left off), NaN, and randomness only from explicit generators."""
from __future__ import annotations

import json

import pytest
import torch

from core.gan import GanConfig, fit
from core.gan.checkpoint import load_generator
from core.gan.data import GanData, load_gan_data
from core.gan.snapshots import list_snapshots, load_seeds, read_report
from core.gan.train import SERIES, GanLoop
from core.train.store import RunStore

RING = dict(data="toy:ring", model="mlp", model_opts={"hidden": [16]}, batch_size=32, samples=128, log_every=3,
            snapshot_every=5, checkpoint_every=8)  # 4 steps per epoch


def _params(net) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.named_parameters()}


def _same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def _images(n=64) -> GanData:
    pixels = torch.randint(0, 256, (n, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return GanData("fake", "image", (1, 8, 8), pixels, classes=["a"], targets=torch.zeros(n, dtype=torch.long))


@pytest.mark.parametrize("cfg,data", [
    (GanConfig(**{**RING, "optimizer": "sgd"}), None),
    (GanConfig(**{**RING, "optimizer": "adam"}), None),
    (GanConfig(data="fake", model="dcgan-8", batch_size=16, layer_norm=False, model_opts={"width": 4}), _images()),
], ids=["mlp-sgd", "mlp-adam", "dcgan-batchnorm"])
def test_each_step_changes_only_the_network_it_trains(cfg, data):
    data = data or load_gan_data("toy:ring", samples=128)
    loop = GanLoop(cfg, data, torch.device("cpu"))
    real = data.batch(torch.arange(cfg.batch_size))
    g0, d0 = _params(loop.g), _params(loop.d)
    loop.d_step_real(real)  # step 1: D on real data, target 1
    assert _same(_params(loop.g), g0) and not _same(_params(loop.d), d0)
    d1 = _params(loop.d)
    loop.d_step_fake(cfg.batch_size)  # step 2: D on generated data, target 0; G not updated
    assert _same(_params(loop.g), g0) and not _same(_params(loop.d), d1)
    assert all(p.grad is None for p in loop.g.parameters())  # the fakes carried no graph back into G
    d2 = _params(loop.d)
    loop.g_step(cfg.batch_size)  # step 3: G through D, target 1; D not updated
    assert _same(_params(loop.d), d2) and not _same(_params(loop.g), g0)
    assert all(p.requires_grad for p in loop.d.parameters())  # D is trainable again afterwards


def test_k_discriminator_steps_per_generator_step():
    cfg = GanConfig(**{**RING, "d_steps": 2})
    loop = GanLoop(cfg, load_gan_data("toy:ring", samples=128), torch.device("cpu"))
    assert loop.steps_per_epoch == 2  # 4 batches of 32, two per generator step
    calls = []
    real, fake, gen = loop.d_step_real, loop.d_step_fake, loop.g_step
    loop.d_step_real = lambda x: calls.append("real") or real(x)
    loop.d_step_fake = lambda n: calls.append("fake") or fake(n)
    loop.g_step = lambda n: calls.append("G") or gen(n)
    out = loop.train_step([loop.data.batch(torch.arange(32)), loop.data.batch(torch.arange(32, 64))])
    assert calls == ["real", "fake", "real", "fake", "G"] and out.shape == (len(SERIES),)


def test_a_recorded_run(tmp_path):
    cfg = GanConfig(**RING, epochs=3, runs_dir=str(tmp_path / "runs"))
    result = fit(cfg)
    assert result.status == "finished" and result.steps == 12 and result.epochs_done == 3
    store = RunStore.open(result.run_dir)
    info = store.info()
    assert info.status == "finished" and info.total_steps == 12 and info.steps_per_epoch == 4
    scalars = store.scalars()
    series = scalars.dropna(subset=["g_loss"])
    assert list(series.step) == list(range(1, 13)) and set(SERIES) <= set(scalars.columns)
    assert ((series.d_real > 0) & (series.d_real < 1)).all()
    assert list(scalars.dropna(subset=["modes_covered"]).step) == [0, 5, 10, 12]  # the meter's readings
    assert [s.step for s in list_snapshots(result.run_dir)] == [0, 5, 10, 12]  # the progress strip
    assert len(list_snapshots(result.run_dir)[-1].values()) == 512 and len(load_seeds(result.run_dir)[0]) == 512
    assert read_report(result.run_dir).step == 12 and result.collapse["modes_total"] == 8
    assert [h["epoch"] for h in result.history] == [0, 1, 2] and "modes_covered" in result.history[-1]
    assert len(store.epochs()) == 3 and GanConfig.from_dict(store.config()) == cfg
    ckpt = torch.load(store.checkpoint_dir / "last.pt", weights_only=True)  # plain state_dicts and values
    assert ckpt["step"] == 12 and set(ckpt) >= {"generator", "discriminator", "g_optimizer", "d_optimizer"}
    g, gi = load_generator(result.run_dir)
    assert gi.latent_dim == 8 and gi.kind == "points" and not g.training
    z = load_seeds(result.run_dir)[1][:4]
    snap = torch.tensor(list_snapshots(result.run_dir)[-1].values()[:4])
    assert torch.allclose(g(z), snap, atol=1e-3)  # the strip's last frame is the checkpoint's generator


def test_image_run_writes_png_strip(tmp_path):
    cfg = GanConfig(data="fake", model="dcgan-8", batch_size=16, epochs=1, snapshot_every=2, preview=4,
                    model_opts={"width": 4}, runs_dir=str(tmp_path))
    result = fit(cfg, data=_images())
    snaps = list_snapshots(result.run_dir)
    assert [s.step for s in snaps] == [0, 2, 4] and all(s.path.suffix == ".png" for s in snaps)
    assert 0 < result.collapse["diversity_ratio"] and result.collapse["verdict"]


def test_stop_request_stops_after_the_step_and_keeps_a_checkpoint(tmp_path):
    class StopAt:
        def after_step(self, loop):
            if loop.step == 6:
                RunStore.open(run.run_dir).request_stop()

    run = RunStore.create(tmp_path, GanConfig(**RING).to_dict())
    result = fit(GanConfig(**RING, epochs=50), callbacks=[StopAt()], run=run)
    assert result.status == "stopped" and 6 <= result.steps < 200  # the flag is read at most every 0.2 s
    assert run.info().status == "stopped"
    assert torch.load(run.checkpoint_dir / "last.pt", weights_only=True)["step"] == result.steps
    assert run.scalars().dropna(subset=["g_loss"]).step.max() == result.steps  # the last step is recorded too


def test_resume_continues_exactly_where_the_run_stopped(tmp_path):
    whole = fit(GanConfig(**RING, epochs=4, runs_dir=str(tmp_path)))
    half = fit(GanConfig(**RING, epochs=4, max_steps=8, runs_dir=str(tmp_path)))
    assert half.steps == 8
    rest = fit(GanConfig(**RING, epochs=4, runs_dir=str(tmp_path), resume_from=half.run_dir))
    assert rest.steps == 16 and rest.epochs_done == 4 and any("resumed from" in n for n in rest.notices)
    a = torch.load(f"{whole.run_dir}/checkpoints/last.pt", weights_only=True)
    b = torch.load(f"{rest.run_dir}/checkpoints/last.pt", weights_only=True)
    for part in ("generator", "discriminator"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    with pytest.raises(ValueError, match="for data 'toy:ring', not 'toy:1010'"):
        fit(GanConfig(data="toy:1010", runs_dir=str(tmp_path), resume_from=half.run_dir))


@pytest.mark.parametrize("stop_at", [6, 7])
def test_resume_after_a_stop_in_mid_epoch_takes_the_next_batch_of_the_same_order(tmp_path, stop_at):
    whole = fit(GanConfig(**RING, epochs=4, runs_dir=str(tmp_path)))
    half = fit(GanConfig(**RING, epochs=4, max_steps=stop_at, runs_dir=str(tmp_path)))  # 4 steps per epoch
    assert half.steps == stop_at and half.epochs_done == 1  # the second epoch is not done
    rest = fit(GanConfig(**RING, epochs=4, runs_dir=str(tmp_path), resume_from=half.run_dir))
    assert rest.steps == 16 and rest.epochs_done == 4
    a = torch.load(f"{whole.run_dir}/checkpoints/last.pt", weights_only=True)
    b = torch.load(f"{rest.run_dir}/checkpoints/last.pt", weights_only=True)
    for part in ("generator", "discriminator"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    assert rest.history[-1] == pytest.approx(whole.history[-1])


def test_a_nan_loss_fails_the_run_with_advice(tmp_path):
    data = load_gan_data("toy:ring", samples=128)
    data.values[5] = float("nan")
    result = fit(GanConfig(**RING, epochs=2, runs_dir=str(tmp_path)), data=data)
    assert result.status == "failed" and "NaN" in result.error and "lower learning rates" in result.error
    assert RunStore.open(result.run_dir).info().error == result.error


def test_same_config_same_run_whatever_the_global_random_state(tmp_path):
    torch.manual_seed(1)
    state = torch.get_rng_state()
    a = fit(GanConfig(**RING, epochs=1, runs_dir=str(tmp_path)))
    assert torch.equal(torch.get_rng_state(), state)  # a whole run draws only from its own generators
    torch.manual_seed(2)
    torch.randn(100)
    b = fit(GanConfig(**RING, epochs=1, runs_dir=str(tmp_path)))
    c = fit(GanConfig(**RING, epochs=1, seed=1, runs_dir=str(tmp_path)))
    series = [RunStore.open(r.run_dir).scalars()[list(SERIES)].dropna() for r in (a, b, c)]
    assert series[0].equals(series[1]) and not series[0].equals(series[2])


def test_bad_settings_fail_before_training(tmp_path):
    with pytest.raises(ValueError, match="needs 128 real samples per step"):
        fit(GanConfig(**{**RING, "batch_size": 64, "d_steps": 2, "samples": 100}, runs_dir=str(tmp_path)))
    with pytest.raises(ValueError, match="loss must be one of"):
        fit(GanConfig(**{**RING, "loss": "hinge"}, runs_dir=str(tmp_path)))
    runs = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert [RunStore.open(r).info().status for r in runs] == ["failed", "failed"]  # recorded, with the reason
    assert "loss must be one of" in json.dumps([RunStore.open(r).info().error for r in runs])
