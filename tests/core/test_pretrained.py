"""Where pretrained weights come from: a named file, the torch cache, a download only when allowed, else random."""
import pytest
import torch
import torchvision

from core import models
from core.models.pretrained import cache_path, weights_plan
from core.settings import load_settings
from core.train import recommended


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


@pytest.fixture
def no_network(monkeypatch):
    """Any download attempt fails the test."""
    def refuse(*args, **kwargs):
        pytest.fail(f"a download was attempted: {args[:1]}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)


def test_downloads_off_means_no_download_and_random_weights(empty_cache, no_network):
    assert load_settings().allow_downloads is False  # tests/conftest.py turns them off
    plan = weights_plan("resnet18")
    assert plan.source == "none" and not plan.pretrained and "downloads are off" in plan.description
    net = models.build("resnet18", 3, input_shape=(3, 32, 32))
    assert not net.pretrained and "downloads are off" in net.notice
    config = recommended("resnet18", "some/photos")
    assert config.freeze_epochs == 0  # nothing pretrained: freezing cannot help, so the default is not to


def test_download_on_first_use_then_from_the_cache(empty_cache, monkeypatch):
    reference = torchvision.models.resnet18(weights=None)
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):  # what torch.hub would write
        calls.append((url, hash_prefix))
        torch.save(reference.state_dict(), dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    plan = weights_plan("resnet18", allow_downloads=True)
    assert plan.source == "download" and plan.path == str(cache_path("resnet18"))
    monkeypatch.setenv("DLLAB_ALLOW_DOWNLOADS", "1")
    assert recommended("resnet18").freeze_epochs == 1  # weights will be there: the registry's freeze stays
    net = models.build("resnet18", 3, input_shape=(3, 32, 32))
    assert net.pretrained and net.plan.source == "cache" and "downloaded" in net.plan.description
    assert calls == [(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url, "f37072fd")]
    assert torch.equal(net.layer4[0].conv1.weight, reference.layer4[0].conv1.weight)
    again = models.build("resnet18", 3, input_shape=(3, 32, 32))  # second time: read from the cache
    assert again.plan.source == "cache" and len(calls) == 1


def test_a_failed_download_trains_from_scratch_and_says_why(empty_cache, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    monkeypatch.setenv("DLLAB_ALLOW_DOWNLOADS", "1")
    net = models.build("resnet18", 3, input_shape=(3, 32, 32))
    assert not net.pretrained and "network unreachable" in net.notice


def test_a_named_file_wins_and_a_missing_one_is_refused(tmp_path, no_network):
    path = tmp_path / "mine.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    assert weights_plan("resnet18", str(path)).source == "file"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        weights_plan("resnet18", str(tmp_path / "missing.pth"))
    assert weights_plan("efficientnet_lite0").source == "package"  # shipped by pip: never downloaded
    assert weights_plan("resnet18", "none").source == "none"


def test_allow_downloads_from_lab_toml_and_environment(tmp_path, monkeypatch):
    cfg = tmp_path / "lab.toml"
    cfg.write_text("allow_downloads = false\n")
    monkeypatch.setenv("DLLAB_CONFIG", str(cfg))
    monkeypatch.delenv("DLLAB_ALLOW_DOWNLOADS")
    assert load_settings().allow_downloads is False
    cfg.write_text("")
    assert load_settings().allow_downloads is True  # the default: download on first use
    monkeypatch.setenv("DLLAB_ALLOW_DOWNLOADS", "0")
    assert load_settings().allow_downloads is False
