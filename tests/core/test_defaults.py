"""The one rule for the default model of a data source, and the one function for (model, source) defaults."""
import json

import pytest

from core import data, models
from core.__main__ import main
from core.models import default_model
from core.train import recommended
from core.train.synthetic import synthetic_bundle


@pytest.mark.parametrize("source,expected", [("builtin:digits", "cnn"), ("builtin:shapes", "efficientnet_lite0"),
                                             ("builtin:sounds", "mel_cnn"), ("builtin:reviews", "textcnn")])
def test_default_model_of_each_builtin_set(source, expected):
    assert default_model(data.load(source, verify=False, cache_mb=0)) == expected


def _grey_images(side: int):
    bundle = synthetic_bundle("image", n=4, shape=(1, 32, 32))
    bundle.stats = {"images": {c: {"width": {"median": side}, "height": {"median": side + 10}}
                               for c in bundle.classes}}
    return bundle


def test_default_model_rule_by_kind_colour_and_size():
    assert default_model(_grey_images(48)) == "cnn"  # small and grey: a CNN from scratch
    assert default_model(_grey_images(200)) == "efficientnet_lite0"  # large grey photos (X-rays, scans)
    assert default_model(synthetic_bundle("image", n=4, shape=(3, 16, 16))) == "efficientnet_lite0"  # colour
    assert default_model(synthetic_bundle("audio", n=4)) == "mel_cnn"
    assert default_model(synthetic_bundle("text", n=4)) == "textcnn"
    assert all(default_model(b) in models.names(b.kind) for b in (_grey_images(8), synthetic_bundle("text", n=4)))


def test_recommended_follows_the_source():
    digits, shapes = recommended("cnn", "builtin:digits"), recommended("cnn", "builtin:shapes")
    assert (digits.epochs, digits.model_opts) == (6, {"width": 16}) and shapes.epochs == 30
    lite = recommended("efficientnet_lite0", "some/photos")
    assert lite.freeze_epochs == lite.epochs and not lite.train_bn and not lite.augment_preset  # head only, cached
    assert lite.data_opts == {"image_size": 224}
    longer = recommended("efficientnet_lite0", "some/photos", epochs=4)
    assert longer.freeze_epochs == 4  # frozen for the whole run stays so when only the length changes
    assert recommended("efficientnet_lite0", "x", epochs=4, freeze_epochs=1).freeze_epochs == 1


def test_cli_without_model_uses_the_default(tmp_path, capsys):
    code = main(["train", "--data", "builtin:sounds", "--max-steps", "2", "--epochs", "1", "--runs-dir",
                 str(tmp_path), "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out["status"] == "finished"
    config = json.loads((tmp_path / out["run_dir"].rsplit("/", 1)[-1] / "config.json").read_text())
    assert config["model"] == "mel_cnn" and config == {**recommended("mel_cnn", "builtin:sounds").to_dict(),
                                                      "runs_dir": str(tmp_path), "max_steps": 2, "epochs": 1}
