"""A spatial transformer network (Jaderberg et al. 2015): a small CNN that first straightens its input.

A localisation net looks at the image and predicts an affine transform theta (2x3); ``affine_grid`` turns it into
a sampling grid and ``grid_sample`` resamples the image; a small CNN classifies the result. The last layer of the
localisation net starts at zero weights and an identity bias, so at initialisation the transformer passes the
image through unchanged and learns to move away from the identity only when that helps the classifier.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IDENTITY_THETA = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # [[1, 0, 0], [0, 1, 0]] row by row


def _block(cin: int, cout: int, pool: bool) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.MaxPool2d(2)) if pool else nn.Sequential(*layers)


class STNCNN(nn.Module):
    """Localisation net -> theta (B, 2, 3) -> affine_grid + grid_sample -> conv blocks -> global pool -> linear."""

    def __init__(self, num_classes: int, input_shape=(1, 28, 28), width: int = 16, loc_width: int = 8,
                 dropout: float = 0.2):
        super().__init__()
        c, size = input_shape[0], min(input_shape[1:])
        self.localization = nn.Sequential(
            nn.Conv2d(c, loc_width, 3, padding=1), nn.MaxPool2d(2) if size >= 8 else nn.Identity(), nn.ReLU(True),
            nn.Conv2d(loc_width, 2 * loc_width, 3, padding=1), nn.ReLU(True),
            nn.AdaptiveAvgPool2d(4), nn.Flatten())  # (B, C, h, w) -> (B, 2*loc_width*16)
        self.theta = nn.Sequential(nn.Linear(2 * loc_width * 16, 32), nn.ReLU(True), nn.Linear(32, 6))
        nn.init.zeros_(self.theta[-1].weight)  # start as the identity transform
        with torch.no_grad():
            self.theta[-1].bias.copy_(torch.tensor(IDENTITY_THETA))
        blocks, cin = [], c
        for i in range(3):
            halve = size >= 8
            blocks.append(_block(cin, width * 2 ** i, halve))
            size, cin = (size // 2 if halve else size), width * 2 ** i
        self.features = nn.Sequential(*blocks)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())  # (B, C, h, w) -> (B, C)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(cin, num_classes))

    def affine(self, x: torch.Tensor) -> torch.Tensor:
        """The predicted transforms theta (B, 2, 3) for a batch of images."""
        return self.theta(self.localization(x)).view(-1, 2, 3)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """What the classifier sees: the input resampled by its predicted affine transform (same shape as x)."""
        grid = F.affine_grid(self.affine(x), list(x.shape), align_corners=False)  # (B, H, W, 2) in [-1, 1]
        return F.grid_sample(x, grid, align_corners=False)

    def forward(self, x):
        return self.head(self.pool(self.features(self.transform(x))))

    def layer_groups(self):
        return [[self.localization, self.theta], list(self.features), [self.pool, self.head]]
