"""Image classifiers: a small MLP, a small AlexNet-style CNN and a resnet18 transfer backbone."""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from core.models.pretrained import IMAGENET_MEAN, IMAGENET_STD, load_torchvision


class MLP(nn.Module):
    """Flatten -> (Linear -> ReLU -> Dropout) x len(hidden) -> Linear."""

    def __init__(self, num_classes: int, input_shape=(3, 32, 32), hidden=(256, 128), dropout: float = 0.2):
        super().__init__()
        self.flatten = nn.Flatten()  # (B, C, H, W) -> (B, C*H*W)
        layers, width = [], math.prod(input_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.body(self.flatten(x)))

    def layer_groups(self):
        return [[self.flatten, self.body], [self.head]]


def _conv_block(cin: int, cout: int, pool: bool) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.MaxPool2d(2)) if pool else nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """AlexNet in miniature: ``features`` (conv blocks), adaptive average pooling, ``classifier`` with dropout.

    Each block halves the image while it is at least 8 pixels across; blocks are added (3 to 5) until it is at
    most 4 across, so the last block sees whole objects: 8x8 digits get 3 blocks, 64x64 photos 4, 224x224 five.
    """

    def __init__(self, num_classes: int, input_shape=(3, 32, 32), width: int = 32, dropout: float = 0.3,
                 pool: int = 2):
        super().__init__()
        c, size = input_shape[0], min(input_shape[1:])
        blocks, cin = [], c
        for i in range(5):
            if i >= 3 and size < 8:  # nothing left to pool
                break
            halve = size >= 8
            cout = width * 2 ** min(i, 2)  # width, 2*width, then 4*width
            blocks.append(_conv_block(cin, cout, halve))
            size, cin = (size // 2 if halve else size), cout
        self.features = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(pool)  # pool=1: global pooling, position-invariant
        self.classifier = nn.Sequential(
            nn.Flatten(),  # (B, C, pool, pool) -> (B, C*pool*pool)
            nn.Dropout(dropout), nn.Linear(cin * pool * pool, 128), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(128, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))

    def layer_groups(self):
        return [list(self.features[:-1]), [self.features[-1]], [self.avgpool, self.classifier]]


def transfer_head(width: int, num_classes: int, hidden: int = 256, dropout: float = 0.3) -> nn.Sequential:
    """The head put on a pretrained backbone: Linear -> ReLU -> Dropout -> Linear."""
    return nn.Sequential(nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                         nn.Linear(hidden, num_classes))


class Normalize(nn.Module):
    """(x - mean) / std per channel, with the statistics as buffers so they move with the model."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class ResNet18Transfer(nn.Module):
    """torchvision resnet18 with ImageNet weights when available (``core.models.pretrained``) and a new head.

    ``plan`` says where the weights came from and ``notice`` why there are none, so the UI can show it. Grey inputs
    (1 channel) get a 1-channel first convolution whose weights are the pretrained RGB weights summed over colour.
    ``features(x)`` is everything before the head: (B, C, H, W) -> (B, 512); ``forward`` also accepts those
    features directly (B, 512), which is how a frozen backbone's cached features are trained on.
    """

    input_features = "backbone"  # forward() also takes features(x): the trainer may cache them (frozen backbone)

    def __init__(self, num_classes: int, input_shape=(3, 224, 224), weights: str | None = "auto",
                 hidden: int = 256, dropout: float = 0.3):
        super().__init__()
        net, self.plan = load_torchvision("resnet18", weights)
        self.pretrained = self.plan.pretrained
        self.notice = None if self.pretrained else self.plan.description
        in_ch = input_shape[0]
        self.normalize = Normalize(IMAGENET_MEAN[:in_ch] if in_ch == 3 else (0.45,) * in_ch,
                                   IMAGENET_STD[:in_ch] if in_ch == 3 else (0.226,) * in_ch)
        if in_ch != 3:
            net.conv1 = grey_stem(net.conv1, in_ch)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.pool = nn.Sequential(net.avgpool, nn.Flatten())  # (B, 512, h, w) -> (B, 512)
        self.head = transfer_head(512, num_classes, hidden, dropout)

    def init_overrides(self) -> dict:
        """For ``core.models.init``: the pretrained backbone is kept; a random one follows torchvision's rule."""
        from core.models.init import kaiming_normal_relu

        rule = None if self.pretrained else kaiming_normal_relu
        return {m: rule for m in (self.stem, self.layer1, self.layer2, self.layer3, self.layer4)}

    def features(self, x):
        x = self.stem(self.normalize(x))  # (B, C, H, W) -> (B, 64, H/4, W/4)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # -> (B, 512, H/32, W/32)
        return self.pool(x)  # -> (B, 512)

    def forward(self, x):
        return self.head(x if x.dim() == 2 else self.features(x))

    def layer_groups(self):
        return [[self.normalize, self.stem, self.layer1, self.layer2, self.layer3], [self.layer4],
                [self.pool, self.head]]


def grey_stem(conv: nn.Conv2d, in_ch: int) -> nn.Conv2d:
    """A copy of a pretrained RGB first convolution for ``in_ch`` channels: weights summed over colour / in_ch."""
    new = copy.deepcopy(conv)
    new.in_channels = in_ch
    new.weight = nn.Parameter(conv.weight.detach().sum(1, keepdim=True).repeat(1, in_ch, 1, 1) / in_ch)
    return new
