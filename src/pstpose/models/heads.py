"""Heatmap heads: ViTPose's classic decoder and its simple decoder.

Names follow mmpose (``deconv_layers.{0,1,3,4}``, ``final_layer``) so checkpoints map directly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pstpose.config import HeadConfig


class ClassicHead(nn.Module):
    """(B, C, h, w) -> num_deconv x [4x4 stride-2 deconv, BN, ReLU] -> 1x1 conv -> (B, K, 4h, 4w)."""

    def __init__(self, in_channels: int, num_keypoints: int, channels: int, num_deconv: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(num_deconv):
            layers += [
                nn.ConvTranspose2d(in_channels if i == 0 else channels, channels, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            ]
        self.deconv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(channels if num_deconv else in_channels, num_keypoints, 1)
        for m in self.modules():  # mmpose's initialisation of this head
            if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d)):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.deconv_layers(x))


class SimpleHead(nn.Module):
    """(B, C, h, w) -> ReLU -> bilinear x4 upsampling -> 3x3 conv -> (B, K, 4h, 4w)."""

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        self.final_layer = nn.Conv2d(in_channels, num_keypoints, 3, padding=1)
        nn.init.normal_(self.final_layer.weight, std=0.001)
        nn.init.zeros_(self.final_layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(F.relu(x), scale_factor=4, mode="bilinear", align_corners=False)
        return self.final_layer(x)


def build_head(cfg: HeadConfig, in_channels: int, num_keypoints: int) -> nn.Module:
    if cfg.kind == "classic":
        return ClassicHead(in_channels, num_keypoints, cfg.deconv_channels, cfg.num_deconv)
    if cfg.kind == "simple":
        return SimpleHead(in_channels, num_keypoints)
    raise ValueError(f"head.kind must be 'classic' or 'simple', got {cfg.kind!r}")
