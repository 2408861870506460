"""The feature-caching phase reports its own progress with the time left (issue 19 item 11)."""
from __future__ import annotations

from core import data, models
from core.train import TrainConfig
from core.train.data import prepare_splits
from core.train.pace import caching_text


def test_caching_backbone_features_reports_images_done_of_all_and_time_left():
    bundle = data.load("builtin:digits")
    config = TrainConfig(data="builtin:digits", model="resnet18", epochs=1, freeze_epochs=1, batch_size=100,
                         train_bn=False, augment_preset=False,
                         model_opts={"weights": "none"})
    model = models.build_for(bundle, "resnet18", weights="none")
    seen = []
    train, val, notes = prepare_splits(config, bundle, model, progress=lambda d, t, text: seen.append((d, t, text)))
    total = len(bundle.splits["train"]) + len(bundle.splits["val"])
    assert train.cached + val.cached == total  # the phase happened
    done = [d for d, _, _ in seen]
    assert seen[0][:2] == (0, total) and done[-1] == total and done == sorted(done) and len(seen) > 3
    assert all(t == total for _, t, _ in seen)
    assert any(" left" in text for d, _, text in seen if 0 < d < total)
    assert "later epoch" not in notes[0]  # a 1-epoch run: no "the 0 later epoch(s) skip ... (about 0 s saved)"


def test_caching_text_time_left_is_the_pace_so_far():
    assert caching_text(100, 400, 20.0).endswith("about 1 min left")  # 20 s per 100 -> 60 s for the other 300
    assert " left" not in caching_text(0, 400, 0.0) and " left" not in caching_text(400, 400, 9.0)
