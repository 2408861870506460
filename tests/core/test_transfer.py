"""The image transfer model (EfficientNet-Lite0), its layer groups, and training on cached backbone features."""
import pytest
import torch

from core import models
from core.models.efficientnet import pretrained_lite0
from core.train import TrainConfig, fit
from core.train.checkpoint import load_checkpoint
from core.train.data import backbone_cache_blockers
from core.train.optim import group_lrs, make_optimizer, set_frozen
from core.train.synthetic import synthetic_bundle


@pytest.fixture(scope="module")
def lite0():
    return models.build("efficientnet_lite0", 3, input_shape=(3, 32, 32))


def test_lite0_transfer_starts_from_the_imagenet_weights(lite0):
    ref = pretrained_lite0()
    assert lite0.pretrained and lite0.notice is None and lite0.plan.source == "package"
    assert torch.equal(lite0.stem[0].weight, ref._conv_stem.weight)
    assert torch.equal(lite0.last[-3].weight, ref._conv_head.weight)  # the 1x1 head convolution
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(lite0.eval().features(x), ref.eval().features((x - 0.5) / 0.5))
    assert lite0(x).shape == (2, 3)


def test_lite0_layer_groups_like_resnet18(lite0):
    groups = models.group_parameters(lite0)
    assert len(groups) == 3
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids)) == len(list(lite0.parameters()))  # every parameter exactly once
    assert {id(p) for p in lite0.head.parameters()} == {id(p) for p in groups[-1]}
    opt = make_optimizer(lite0, TrainConfig(lr=0.09, lr_decay=3.0))
    assert [g["lr"] for g in opt.param_groups] == pytest.approx(group_lrs(0.09, 3, 3.0))


@pytest.mark.parametrize("train_bn", [True, False])
def test_lite0_freezing_keeps_batch_norm_only_when_asked(train_bn):
    net = models.build("efficientnet_lite0", 3, input_shape=(3, 32, 32))
    set_frozen(net, True, train_bn)
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert {n for n in trainable if n.startswith("head.")} == {n for n, _ in net.head.named_parameters(prefix="head")}
    bn = {n for n, m in net.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    backbone_trainable = {n.rsplit(".", 1)[0] for n in trainable if not n.startswith("head.")}
    assert backbone_trainable == (bn if train_bn else set())


def test_lite0_on_grey_images():
    net = models.build("efficientnet_lite0", 2, input_shape=(1, 32, 32))
    ref = pretrained_lite0()
    torch.testing.assert_close(net.stem[0].weight, ref._conv_stem.weight.sum(1, keepdim=True))
    assert net(torch.rand(2, 1, 32, 32)).shape == (2, 2)


def _frozen_config(**changes) -> TrainConfig:
    return TrainConfig(model="efficientnet_lite0", model_opts={"dropout": 0.0}, epochs=1, freeze_epochs=1,
                       train_bn=False, augment_preset=False, batch_size=8, max_steps=1, scheduler="none", lr=1e-2,
                       stats_every=0, tensorboard=False, **changes)


def test_cached_features_train_the_same_head_as_the_full_network():
    bundle = synthetic_bundle("image", n=8, classes=2, shape=(3, 32, 32))
    cached = fit(_frozen_config(), bundle=bundle)
    full = fit(_frozen_config(cache_features=False), bundle=bundle)
    assert cached.status == full.status == "finished" and cached.steps == full.steps == 1
    assert any(n.startswith("features cached: 12 images") for n in cached.notices)
    assert not any("features cached" in n for n in full.notices)
    a, b = load_checkpoint(cached.run_dir)["model"], load_checkpoint(full.run_dir)["model"]
    before = models.build("efficientnet_lite0", 2, input_shape=(3, 32, 32), dropout=0.0).state_dict()
    for name, value in a.items():
        if name.startswith("head."):
            assert not torch.equal(value, before[name])  # the step changed the head ...
            torch.testing.assert_close(value, b[name], rtol=1e-5, atol=1e-6)  # ... the same way
        else:
            assert torch.equal(value, before[name]), name  # frozen backbone: bitwise unchanged
            assert torch.equal(b[name], before[name]), name


def test_what_stops_feature_caching():
    net = models.build("efficientnet_lite0", 2, input_shape=(3, 32, 32))
    ok = _frozen_config()
    assert backbone_cache_blockers(ok, net, augmented=False) == []
    assert backbone_cache_blockers(ok, net, augmented=True) == ["augmentation changes the images every epoch"]
    assert "unfrozen" in backbone_cache_blockers(ok.replace(epochs=2), net, False)[0]
    assert "batch-norm" in backbone_cache_blockers(ok.replace(train_bn=True), net, False)[0]
    assert "mixup" in backbone_cache_blockers(ok.replace(mixup_alpha=0.2), net, False)[0]
    assert backbone_cache_blockers(ok, models.build("cnn", 2, input_shape=(3, 32, 32)), False)
