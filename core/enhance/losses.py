"""Training losses: pixel (L1 / MSE: PSNR-oriented), perceptual (EfficientNet-Lite0 features) and adversarial
(a critic, plain or relativistic).

Perceptual layers: the outputs of EfficientNet-Lite0's stage 2 (block 2: 24 channels at 1/4 resolution) and stage 3
(block 4: 40 channels at 1/8). Early stages respond to edges, textures and small patterns -- what an upsampler gets
wrong; the late stages (1/16 - 1/32 resolution) would be 2x2 or less on a 64 px training patch and encode object
classes the upsampler cannot change. (SRGAN / ESRGAN use VGG's conv5_4 / conv5_4-before-activation; VGG is a 500 MB
download, and Lite0 is the lab's offline ImageNet backbone.)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PIXEL_LOSSES = ("l1", "mse")
CRITICS = ("none", "plain", "relativistic")
PERCEPTUAL_BLOCKS = (2, 4)  # Lite0 block indices whose outputs are compared (end of stage 2 and of stage 3)


def pixel_loss(name: str, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """L1 (mean absolute error) or MSE between the output and the original."""
    return F.l1_loss(sr, hr) if name == "l1" else F.mse_loss(sr, hr)


class LiteFeatures(nn.Module):
    """Frozen EfficientNet-Lite0 (ImageNet weights, eval mode) up to block ``max(blocks)``; ``forward(x)`` returns
    the listed blocks' outputs. Inputs are [0, 1] images, 3 channels (a Y image is repeated to three)."""

    def __init__(self, blocks=PERCEPTUAL_BLOCKS):
        super().__init__()
        from core.models.efficientnet import pretrained_lite0

        net = pretrained_lite0()
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.blocks = nn.ModuleList(net._blocks[: max(blocks) + 1])
        self.keep = tuple(blocks)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):  # always eval: batch-norm keeps its ImageNet statistics
        return super().train(False)

    def forward(self, x):
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        h = self.stem((x - 0.5) / 0.5)  # Lite0's normalisation: [0, 1] -> [-1, 1]
        out = []
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i in self.keep:
                out.append(h)
        return out


def perceptual_distance(features: LiteFeatures, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """Mean over the chosen layers of the mean squared difference of their features (lower: more alike)."""
    return sum(F.mse_loss(a, b) for a, b in zip(features(sr), features(hr))) / len(features.keep)


class Critic(nn.Module):
    """An SRGAN-style critic, small: strided 3x3 convolutions with LeakyReLU(0.2) (32 -> 64 -> 128 channels, each
    halving the size), global average pooling, a linear logit. Works on any patch size."""

    def __init__(self, channels: int = 3, width: int = 32):
        super().__init__()
        layers, cin = [], channels
        for cout in (width, width * 2, width * 4):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(cin, 1)

    def forward(self, x):  # (B, C, H, W) -> (B,)
        return self.head(self.body(x).mean((2, 3))).squeeze(1)


def critic_losses(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The critic's loss (it wants real -> real, fake -> fake). 'plain': BCE on each logit, as the GAN page's loop;
    'relativistic' (ESRGAN's RaGAN): is a real image more real than the average fake, and vice versa."""
    if kind == "relativistic":
        real_logits, fake_logits = real_logits - fake_logits.mean(), fake_logits - real_logits.mean()
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))) / 2


def generator_adversarial(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The upsampler's adversarial loss: make the critic call its output real ('plain': ``real_logits`` unused);
    'relativistic' uses both terms, so the generator also gets a gradient from the real images' logits."""
    if kind == "relativistic":
        return critic_losses(kind, fake_logits, real_logits)  # the roles swapped
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
