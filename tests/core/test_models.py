"""core.models: registry, shapes, build_for, layer groups, transfer notice, text padding invariance, feature cache."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from core import models

IMAGE_SHAPES = [(1, 8, 8), (3, 32, 32)]
AUDIO = dict(sample_rate=8000, num_samples=4000)


def _fake_bundle(kind):
    """The parts of a DataBundle build_for reads."""
    shapes = {"image": (1, 8, 8), "audio": (1, 4000), "text": ()}
    b = SimpleNamespace(kind=kind, classes=["a", "b", "c"], input_shape=shapes[kind], source=f"fake:{kind}",
                        sample_rate=8000 if kind == "audio" else None,
                        vocab=_Vocab() if kind == "text" else None)
    return b


class _Vocab:
    pad_index = 0

    def __len__(self):
        return 40


def _input(kind, shape=(1, 8, 8), batch=2):
    if kind == "image":
        return torch.rand(batch, *shape)
    if kind == "audio":
        return torch.randn(batch, 1, AUDIO["num_samples"])
    return torch.randint(1, 40, (batch, 7))


def _opts(kind, shape=(1, 8, 8)):
    return {"image": {"input_shape": shape}, "audio": AUDIO, "text": {"vocab_size": 40}}[kind]


def test_names_by_kind():
    assert {"mlp", "cnn", "resnet18", "efficientnet_lite0"} <= set(models.names("image"))
    assert {"wave_cnn", "mel_cnn", "mel_resnet18"} <= set(models.names("audio"))
    assert models.names("text") == ["textcnn", "bag_ngrams", "bigru_max", "lstm", "gru"]
    assert set(models.names()) == set(models.MODELS)


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_forward_shape_and_groups(name):
    kind = models.spec(name).kind
    shapes = IMAGE_SHAPES if kind == "image" else [None]
    for shape in shapes:
        model = models.build(name, 3, **_opts(kind, shape))
        model.eval()
        out = model(_input(kind, shape))
        assert out.shape == (2, 3)
        groups = models.group_parameters(model)
        assert len(groups) >= 2
        all_params = [p for g in groups for p in g]
        assert len(all_params) == len(list(model.parameters())) == len({id(p) for p in all_params})


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_build_for_fills_in_bundle_options(name):
    kind = models.spec(name).kind
    model = models.build_for(_fake_bundle(kind), name)
    model.eval()
    assert model(_input(kind)).shape == (2, 3)
    assert model.model_name == name and model.num_classes == 3


def test_build_for_refuses_wrong_kind():
    with pytest.raises(ValueError, match="for text data"):
        models.build_for(_fake_bundle("image"), "lstm")


def test_unknown_model_and_too_few_classes():
    with pytest.raises(KeyError, match="known models"):
        models.build("nope", 3)
    with pytest.raises(ValueError, match="at least 2 classes"):
        models.build("mlp", 1)


def test_cnn_is_alexnet_style():
    net = models.build("cnn", 4, input_shape=(3, 32, 32))
    assert isinstance(net.avgpool, torch.nn.AdaptiveAvgPool2d)
    assert any(isinstance(m, torch.nn.Dropout) for m in net.classifier)
    assert models.build("cnn", 4, input_shape=(3, 32, 32), pool=1)(torch.rand(2, 3, 32, 32)).shape == (2, 4)


@pytest.mark.parametrize("size,blocks", [(8, 3), (28, 3), (32, 3), (64, 4), (224, 5)])
def test_cnn_depth_follows_image_size(size, blocks):
    net = models.build("cnn", 4, input_shape=(1, size, size), width=4)
    assert len(net.features) == blocks
    assert net.features(torch.rand(1, 1, size, size)).shape[-1] <= 7  # the last block sees most of the image


def test_resnet18_without_weights_has_notice_and_new_head(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # an empty hub cache
    net = models.build("resnet18", 4, input_shape=(3, 32, 32))
    assert not net.pretrained and "random" in net.notice
    kinds = [type(m) for m in net.head]
    assert kinds == [torch.nn.Linear, torch.nn.ReLU, torch.nn.Dropout, torch.nn.Linear]


def test_resnet18_loads_weights_file(tmp_path):
    import torchvision
    ref = torchvision.models.resnet18(weights=None)
    path = tmp_path / "w.pth"
    torch.save(ref.state_dict(), path)
    net = models.build("resnet18", 4, input_shape=(3, 32, 32), weights=str(path))
    assert net.pretrained and net.notice is None
    assert torch.equal(net.layer4[0].conv1.weight, ref.layer4[0].conv1.weight)
    with pytest.raises(FileNotFoundError):
        models.build("resnet18", 4, weights=str(tmp_path / "missing.pth"))


@pytest.mark.parametrize("name", ["textcnn", "bag_ngrams", "bigru_max"])
def test_new_text_models_ignore_padding(name):
    torch.manual_seed(0)
    net = models.build(name, 3, vocab_size=40).eval()
    batch = torch.tensor([[5, 6, 7, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7, 8]])
    torch.testing.assert_close(net(batch)[:1], net(torch.tensor([[5, 6, 7]])), rtol=1e-5, atol=1e-6)
    assert net(torch.zeros(1, 4, dtype=torch.long)).isfinite().all()  # an empty text still gets an answer


def test_bag_of_ngrams_is_the_mean_of_word_and_bigram_embeddings():
    net = models.build("bag_ngrams", 2, vocab_size=10, buckets=7).eval()
    ids = torch.tensor([[3, 4, 5, 0]])
    grams = [3, 4, 5] + [10 + (a * 1_000_003 + b) % 7 for a, b in ((3, 4), (4, 5))]  # written out by hand
    mean = net.embedding.weight[grams].mean(0)
    torch.testing.assert_close(net(ids), net.head(mean[None]))


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_text_padding_does_not_change_prediction(rnn, bidirectional):
    torch.manual_seed(0)
    net = models.build(rnn, 3, vocab_size=40, layers=2, bidirectional=bidirectional).eval()
    short = torch.tensor([[5, 6, 7]])
    padded = torch.tensor([[5, 6, 7, 0, 0, 0, 0]])
    # the same sentence inside a batch padded to a longer neighbour
    batch = torch.tensor([[5, 6, 7, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7, 8]])
    ref = net(short)
    torch.testing.assert_close(net(padded), ref)
    torch.testing.assert_close(net(batch)[:1], ref)
    # and the padding really is ignored, not just the model being constant
    assert not torch.allclose(net(torch.tensor([[5, 6, 8]])), ref)


def test_spectrogram_model_accepts_waveform_or_features():
    net = models.build("mel_cnn", 3, **AUDIO).eval()
    wave = torch.randn(2, 1, AUDIO["num_samples"])
    feats = net.features_of(wave)
    assert feats.shape[:3] == (2, 1, 64)
    torch.testing.assert_close(net(wave), net(feats))


def test_cached_features_compute_once_and_apply_transform():
    waves = torch.randn(4, 1, AUDIO["num_samples"])
    calls = []

    class Clips(torch.utils.data.Dataset):
        targets = [0, 1, 0, 1]

        def __len__(self):
            return 4

        def __getitem__(self, i):
            calls.append(i)
            return waves[i], self.targets[i]

    net = models.build("mel_cnn", 2, **AUDIO)
    ds = models.CachedFeatures(Clips(), net.frontend)
    first = [ds[i][0] for i in range(4)]
    again = [ds[i][0] for i in range(4)]
    assert calls == [0, 1, 2, 3] and ds.cached == 4  # waveforms read once
    torch.testing.assert_close(first[2], net.features_of(waves[2:3])[0])
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    ds.transform = lambda f: f * 0
    assert ds[1][0].abs().sum() == 0 and ds.features(1).abs().sum() > 0  # the cache itself is untouched


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_the_registry_says_what_the_model_reads_and_how_to_skip_pretrained_weights(name):
    s = models.spec(name)
    model = models.build(name, 3, **_opts(s.kind))
    assert getattr(model, "input_features", None) == s.input_features  # the trainer and the form read the registry
    assert bool(s.no_pretrained) == hasattr(model, "pretrained")  # every model that may load weights can skip them


def test_rebuild_does_not_look_for_pretrained_weights(tmp_path, monkeypatch):
    import torchvision

    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), hub / "checkpoints" / "resnet18-f37072fd.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    assert models.build("resnet18", 3, input_shape=(3, 32, 32)).pretrained  # the cached weights are found
    assert not models.rebuild("resnet18", 3, input_shape=(3, 32, 32)).pretrained
    assert not models.rebuild("mel_resnet18", 3, **AUDIO).pretrained
