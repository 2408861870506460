"""EfficientNet-Lite0 written out in core/models loads the pip package's ImageNet weights and gives known answers."""
import math

import pytest
import skimage.data
import torch
import torch.nn.functional as F

from core.models.efficientnet import Conv2dSame, EfficientNetLite0, lite0_weights_path
from core.models.imagenet import ImageNetModel, imagenet_classes, imagenet_input, load_imagenet


@pytest.fixture(scope="module")
def lite0() -> ImageNetModel:
    return load_imagenet("efficientnet_lite0")


def test_state_dict_loads_strictly():
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    net = EfficientNetLite0()
    result = net.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert set(net.state_dict()) == set(state)
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(4.65e6, rel=0.01)  # Lite0: 4.65 M parameters
    state.pop("_blocks.3._expand_conv.weight")
    with pytest.raises(RuntimeError, match="Missing key"):
        EfficientNetLite0().load_state_dict(state, strict=True)


@pytest.mark.parametrize("size,stride,kernel", [(8, 2, 3), (9, 2, 3), (8, 2, 5), (7, 1, 5), (224, 2, 3)])
def test_same_padding_is_tensorflows(size, stride, kernel):
    """TF 'SAME': output ceil(n / stride); total padding max((out-1)*stride + k - n, 0), extra on the bottom/right."""
    conv = Conv2dSame(2, 3, kernel, stride)
    x = torch.randn(1, 2, size, size)
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    before, after = total // 2, total - total // 2
    ref = F.conv2d(F.pad(x, [before, after, before, after]), conv.weight, stride=stride)
    assert conv(x).shape[-1] == out
    torch.testing.assert_close(conv(x), ref)


def test_coffee_is_espresso(lite0):
    with torch.no_grad():
        p = lite0.model(lite0.prepare(skimage.data.coffee())).softmax(1)[0]
    assert int(p.argmax()) == 967 and lite0.classes[967] == "espresso"
    assert float(p[967]) == pytest.approx(0.96, abs=0.03)


def test_chelsea_is_a_cat(lite0):
    top = int(lite0.model(lite0.prepare(skimage.data.chelsea())).argmax())
    assert top in (281, 282, 285)  # tabby, tiger cat, Egyptian cat
    assert "cat" in lite0.classes[top]


def test_normalisation_is_inside_the_model(lite0):
    x = torch.rand(1, 3, 64, 64)
    net = lite0.model[1]
    assert lite0.mean == (0.5, 0.5, 0.5) and lite0.std == (0.5, 0.5, 0.5) and lite0.input_size == 224
    torch.testing.assert_close(lite0.model(x), net((x - 0.5) / 0.5))
    assert not lite0.model.training and len(lite0.classes) == 1000 and "pip package" in lite0.source


def test_imagenet_input_is_resize_then_centre_crop():
    photo = skimage.data.chelsea()  # 300 x 451
    x = imagenet_input(photo, 224, 256)
    assert x.shape == (1, 3, 224, 224) and 0 <= float(x.min()) and float(x.max()) <= 1
    # by hand: shorter side 300 -> 256, the longer 451 * 256 / 300 rounded down, then the central 224 x 224
    full = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    scaled = F.interpolate(full[None], size=(256, int(451 * 256 / 300)), mode="bilinear", antialias=True,
                           align_corners=False)
    top, left = (256 - 224) // 2, (scaled.shape[-1] - 224) // 2
    torch.testing.assert_close(x, scaled[..., top:top + 224, left:left + 224].clamp(0, 1), atol=2e-3, rtol=0)


def test_class_names_come_from_torchvision_offline():
    names = imagenet_classes()
    assert len(names) == 1000 and names[0] == "tench" and names[281] == "tabby"


def test_unknown_name_and_unavailable_resnet18(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="efficientnet_lite0"):
        load_imagenet("vgg99")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # nothing cached; downloads are off in tests
    with pytest.raises(FileNotFoundError, match="downloads are off"):
        load_imagenet("resnet18")


def test_pooling_is_a_module_so_classic_cam_applies(lite0):
    from core.inspect import classic_cam, gap_linear_head

    assert gap_linear_head(lite0.model, (3, 224, 224)) is not None  # global-average-pool + one Linear, as hooks see it
    x = lite0.prepare(skimage.data.coffee())
    cam = classic_cam(lite0.model, x)  # for the predicted class (espresso)
    assert cam.shape == (1, 7, 7)
    # the CAM's mean over positions plus the bias is the class's logit (GAP is linear)
    fc = lite0.model[1]._fc
    with torch.no_grad():
        logit, bias = lite0.model(x)[0, 967], fc.bias.detach()[967]
    assert float(cam.mean() + bias) == pytest.approx(float(logit), rel=1e-4, abs=1e-4)
