"""stn_cnn: identity at initialisation, a moved theta moves the image, it trains; the sigmoid MLP option."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from core import models
from core.inspect import layer_table


def test_stn_is_the_identity_at_initialisation():
    net = models.build("stn_cnn", 4, input_shape=(1, 28, 28)).eval()
    x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    theta = net.affine(x)
    torch.testing.assert_close(theta, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(3, 2, 3))
    torch.testing.assert_close(net.transform(x), x, rtol=0, atol=1e-5)  # grid arithmetic in float32
    assert net(x).shape == (3, 4)


def test_a_translation_theta_shifts_the_image():
    net = models.build("stn_cnn", 2, input_shape=(1, 16, 16)).eval()
    with torch.no_grad():
        net.theta[-1].bias.copy_(torch.tensor([1.0, 0, 2 / 16, 0, 1.0, 0]))  # sample 1 pixel to the right
    x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    out = net.transform(x)
    torch.testing.assert_close(out[..., :-1], x[..., 1:], rtol=0, atol=1e-5)


def test_stn_learns_and_small_inputs_work():
    net = models.build("stn_cnn", 2, input_shape=(3, 8, 8))
    x = torch.rand(8, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 1] * 4)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    assert not torch.allclose(net.theta[-1].bias, torch.tensor([1.0, 0, 0, 0, 1.0, 0]))  # theta moved
    rows = {r.name: r for r in layer_table(net.eval(), (3, 8, 8))}
    # after the transformer every pixel can reach every unit: the sampling grid depends on the whole image
    assert rows["theta"].global_field and rows["features"].global_field and not rows["localization"].global_field


def test_sigmoid_mlp_option():
    net = models.build("mlp_sigmoid", 3, input_shape=(1, 8, 8), hidden=(16,))
    assert isinstance(net.body[1], torch.nn.Sigmoid)
    assert isinstance(models.build("mlp", 3, input_shape=(1, 8, 8)).body[1], torch.nn.ReLU)
