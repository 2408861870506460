"""Grad-CAM against hand-written hooks and captum's LayerGradCam; batching; classic CAM; spectrogram models; overlay."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torchvision
from captum.attr import LayerGradCam
from torch import nn

from core import models
from core.inspect import classic_cam, default_cam_layer, explain, gap_linear_head, grad_cam, layer_table, overlay
from core.inspect.cam import cam_maps, class_probabilities, colormap, seen_by_classifier, stn_views
from tests.hook_spy import HookSpy


def _reference_cam(model: nn.Module, x: torch.Tensor, targets: list[int], layer: nn.Module) -> torch.Tensor:
    """Grad-CAM one sample at a time: a forward hook keeps the activation, a tensor hook its gradient."""
    maps = []
    for xi, t in zip(x, targets):
        kept = {}

        def forward_hook(_m, _args, out):
            kept["act"] = out
            out.register_hook(lambda g: kept.__setitem__("grad", g))

        handle = layer.register_forward_hook(forward_hook)
        model.zero_grad()
        model(xi[None])[0, t].backward()
        handle.remove()
        alpha = kept["grad"][0].mean(dim=(1, 2))  # (K,)
        cam = (alpha[:, None, None] * kept["act"][0]).sum(0)  # (K, h, w) -> (h, w)
        maps.append(torch.clamp(cam, min=0).detach())
    return torch.stack(maps)


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)  # test-only: fixed random weights
    return torchvision.models.resnet18(num_classes=7).eval()


def test_grad_cam_equals_hand_written_hooks(resnet):
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    targets = [0, 4, 6]
    ours = grad_cam(resnet, x, targets, "layer3")
    ref = _reference_cam(resnet, x, targets, resnet.layer3)
    assert ours.shape == (3, 4, 4)  # the layer's own resolution, not resized
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-6)
    assert ours.max() > 0


def test_grad_cam_before_an_in_place_relu(resnet):
    """bn1 inside a block is followed by ReLU(inplace=True): the kept activation must be bn1's own output."""
    plain = copy.deepcopy(resnet)
    for m in plain.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    ours = grad_cam(resnet, x, [1, 2], "layer2.1.bn1")
    ref = _reference_cam(plain, x, [1, 2], plain.layer2[1].bn1)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-6)


def test_grad_cam_matches_captum(resnet):
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    targets = torch.tensor([3, 3, 5, 0])
    theirs = LayerGradCam(resnet, resnet.layer4).attribute(x, target=targets, relu_attributions=True)
    torch.testing.assert_close(grad_cam(resnet, x, targets, resnet.layer4), theirs[:, 0].detach(),
                               rtol=1e-4, atol=1e-6)


def test_batched_equals_single_calls_and_predicted_class_by_default(resnet):
    x = torch.rand(5, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    ex = explain(resnet, x, None, "layer4")
    assert torch.equal(ex.targets, resnet(x).argmax(1))
    singles = torch.cat([grad_cam(resnet, x[i:i + 1], None, "layer4") for i in range(5)])
    torch.testing.assert_close(ex.maps, singles, rtol=1e-4, atol=1e-6)


def test_model_is_left_as_found(resnet, monkeypatch):
    net = copy.deepcopy(resnet).train()
    for p in net.layer1.parameters():
        p.requires_grad_(False)  # a frozen backbone still gets maps
    net.layer1.eval()  # ... and its batch norms stay frozen (eval) inside the training model
    spy = HookSpy(monkeypatch)
    maps = grad_cam(net, torch.rand(2, 3, 64, 64), 1, "layer1")
    assert net.training and maps.shape == (2, 16, 16) and maps.max() > 0
    assert [m.training for m in net.layer1.modules()] == [False] * len(list(net.layer1.modules()))
    assert net.layer2.training and net.bn1.training
    assert all(p.grad is None for p in net.parameters())
    assert spy.registered > 0 and spy.calls_in(net, torch.rand(1, 3, 64, 64)) == 0  # its hooks are gone


def test_classic_cam_is_grad_cam_times_positions_for_gap_linear_heads(resnet):
    """For GAP + one linear layer, d y_c / d A_k = w_ck / (h w): ReLU(CAM) = (h w) * Grad-CAM at the pool input."""
    assert gap_linear_head(resnet, (3, 64, 64)) == ("avgpool", "fc")
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    cam = classic_cam(resnet, x, [2, 2, 6])
    gc = grad_cam(resnet, x, [2, 2, 6], "layer4")
    torch.testing.assert_close(torch.clamp(cam, min=0), gc * 4, rtol=1e-4, atol=1e-6)
    assert (cam < 0).any()  # classic CAM is not rectified


def test_heads_without_a_single_linear_have_no_classic_cam():
    cnn = models.build("cnn", 4, input_shape=(3, 32, 32))
    assert gap_linear_head(cnn, (3, 32, 32)) is None  # two linear layers after the pooling
    with pytest.raises(ValueError, match="Grad-CAM"):
        classic_cam(cnn, torch.rand(1, 3, 32, 32))


def test_spectrogram_model_maps_over_mel_and_time():
    net = models.build("mel_cnn", 6, sample_rate=8000, num_samples=8000).eval()
    feats = net.features_of(torch.randn(3, 1, 8000, generator=torch.Generator().manual_seed(6)))  # (3, 1, 64, T)
    rows = layer_table(net, (), example=feats[:1])
    layer = default_cam_layer(net, None, rows=rows)
    assert layer == "features"
    maps = grad_cam(net, feats, None, layer)
    out_shape = {r.name: r.output_shape for r in rows}[layer]
    assert maps.shape == (3, *out_shape[2:])  # (mel bands, frames) at the layer's resolution
    ref = _reference_cam(net, feats, explain(net, feats).targets.tolist(), net.features)
    torch.testing.assert_close(maps, ref, rtol=1e-4, atol=1e-6)
    assert gap_linear_head(net, None, rows=rows) == ("pool.0", "head.1")


def test_waveform_model_maps_over_time():
    net = models.build("wave_cnn", 3, sample_rate=8000, num_samples=4000).eval()
    maps = grad_cam(net, torch.randn(2, 1, 4000), [0, 1], "stage3")
    assert maps.dim() == 2 and maps.shape[0] == 2


def test_layers_without_space_are_refused():
    mlp = models.build("mlp", 3, input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="spatial"):
        grad_cam(mlp, torch.rand(1, 1, 8, 8), 0, None)
    cnn = models.build("cnn", 3, input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="no layer"):
        grad_cam(cnn, torch.rand(1, 1, 8, 8), 0, "nonsense")


def test_overlay_blends_the_resized_map_over_the_image():
    image = torch.full((3, 20, 30), 0.5)
    cam = torch.tensor([[0.0, 2.0], [1.0, 0.0]])
    assert overlay(image, cam, opacity=0.0).shape == (20, 30, 3)
    assert (overlay(image, cam, opacity=0.0) == 128).all()  # opacity 0: the image
    only_map = overlay(image, cam, opacity=1.0)
    assert tuple(only_map[0, -1]) == tuple((colormap(1.0) * 255).round().astype(np.uint8))  # max at top right
    assert tuple(only_map[0, 0]) == tuple((colormap(0.0) * 255).round().astype(np.uint8))
    grey = overlay(np.zeros((8, 8)), torch.ones(2, 2), opacity=0.5)
    assert grey.shape == (8, 8, 3)


def test_jet_colormap_ends():
    assert np.allclose(colormap(0.0), [0, 0, 0.5]) and np.allclose(colormap(1.0), [0.5, 0, 0])
    assert np.allclose(colormap(0.5), [0.5, 1, 0.5])


def test_cam_maps_switch_and_what_the_classifier_sees(resnet):
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(cam_maps(resnet, x, 1, "layer3"), grad_cam(resnet, x, 1, "layer3"))
    torch.testing.assert_close(cam_maps(resnet, x, 1, method="classic CAM"), classic_cam(resnet, x, 1))
    assert seen_by_classifier(resnet, x) is x  # no spatial transformer: the input itself
    stn = models.build("stn_cnn", 3, input_shape=(1, 16, 16)).train()
    small = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.testing.assert_close(seen_by_classifier(stn, small), stn.eval().transform(small))
    assert not stn.training  # (eval above); seen_by_classifier leaves a model's mode as it found it
    stn.train()
    seen_by_classifier(stn, small)
    assert stn.training


def test_probabilities_and_stn_views_are_the_models_own():
    stn = models.build("stn_cnn", 3, input_shape=(1, 16, 16)).eval()
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(class_probabilities(stn, x), torch.softmax(stn(x), 1))
        warped, theta = stn_views(stn, x)
        torch.testing.assert_close(warped, stn.transform(x))
        assert theta.shape == (2, 2, 3)
