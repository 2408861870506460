"""Start small and get bigger: the schedule rule, the resize against torchvision, a run that trains at 16 px then
32 px with the same model, each size made once, and refusals with reasons."""
from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2

from core.train import TrainConfig
from core.train import resize as rs
from core.train.loop import fit
from core.train.store import RunStore


def test_size_for_epoch_and_problems():
    schedule = [[0, 16], [2, 24], [4, 32]]
    assert [rs.size_for_epoch(schedule, e) for e in range(6)] == [16, 16, 24, 24, 32, 32]
    assert rs.schedule_problems(schedule, 6, 32, "image") == []
    assert "start at epoch 0" in " ".join(rs.schedule_problems([[1, 16], [2, 32]], 4))
    assert "must increase" in " ".join(rs.schedule_problems([[0, 32], [2, 16]], 4))
    assert "before the run ends" in " ".join(rs.schedule_problems([[0, 16], [4, 32]], 4))
    assert "end at the data's image size (32 px)" in " ".join(rs.schedule_problems([[0, 16], [2, 24]], 4, 32))
    assert rs.final_size_problems([[0, 16], [2, 32]], 32) == [] and rs.final_size_problems([[0, 16]], None) == []
    assert "text data has none" in " ".join(rs.schedule_problems([[0, 16]], 4, None, "text"))
    assert "pairs of whole numbers" in " ".join(rs.schedule_problems([[0]], 4))
    assert "size schedule" in " ".join(TrainConfig(epochs=2, size_schedule=[[0, 32], [1, 16]]).problems("image"))


def test_resized_images_match_torchvision_resize_and_keep_the_transform():
    g = torch.Generator().manual_seed(0)
    images = [(torch.rand(3, 40, 40, generator=g), i % 2) for i in range(5)]

    class Split(torch.utils.data.Dataset):
        transform = "a draw"  # the split's augmentation: left in place, not used for resizing

        def __len__(self):
            return len(images)

        def __getitem__(self, i):
            assert self.transform is None  # resizing reads the images themselves
            return images[i]

    split = Split()
    resized = rs.ResizedImages(split, 16, batch=2)
    assert split.transform == "a draw" and len(resized) == 5
    expected = v2.Resize(16, antialias=True)(torch.stack([x for x, _ in images]))
    got = torch.stack([resized[i][0] for i in range(5)])
    assert got.shape == (5, 3, 16, 16) and [resized[i][1] for i in range(5)] == [0, 1, 0, 1, 0]
    assert (got - expected.clamp(0, 1)).abs().max() <= 0.5 / 255 + 1e-6  # uint8 storage: at most half a level


class _Shapes:
    """Records the input size of the first training batch of each epoch."""

    def __init__(self):
        self.sizes = {}

    def before_batch(self, loop):
        self.sizes.setdefault(loop.epoch, loop.xb.shape[-1])


@pytest.mark.slow
def test_a_run_trains_small_then_at_the_datas_size_with_each_size_made_once(tmp_path, monkeypatch):
    made = []
    original = rs.ResizedImages.__init__
    monkeypatch.setattr(rs.ResizedImages, "__init__",
                        lambda self, ds, size, batch=256: (made.append(size), original(self, ds, size, batch))[1])
    shapes = _Shapes()
    cfg = TrainConfig(data="builtin:digits", data_opts={"image_size": 16}, model="cnn", epochs=3, batch_size=32,
                      size_schedule=[[0, 8], [2, 16]], stats_every=0, tensorboard=False, runs_dir=str(tmp_path))
    result = fit(cfg, callbacks=[shapes])
    assert result.status == "finished", result.error
    assert shapes.sizes == {0: 8, 1: 8, 2: 16} and made == [8]  # 8 px made once, used by two epochs
    assert [h["input_size"] for h in result.history] == [8.0, 8.0, 16.0]
    assert list(RunStore.open(result.run_dir).epochs()["input_size"]) == [8.0, 8.0, 16.0]  # what the charts read
    assert result.best_val_acc > 0.3  # the same model kept learning across sizes (10 classes: chance is 0.1)


def test_a_model_with_a_fixed_input_size_is_refused_with_the_reason(tmp_path):
    cfg = TrainConfig(data="builtin:digits", model="mlp", epochs=2, size_schedule=[[0, 16], [1, 32]],
                      stats_every=0, tensorboard=False, runs_dir=str(tmp_path))
    with pytest.raises(ValueError, match="cannot take 16 x 16 px inputs"):
        fit(cfg)
