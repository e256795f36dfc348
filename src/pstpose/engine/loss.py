"""Weighted heatmap MSE (Eq. 10 of the paper), the training loss.

Normalisation, exactly: for predictions P and targets G of shape (B, K, H, W) and per-joint
weights w of shape (B, K),

    loss = 1 / (B * K * H * W) * sum_{b,k,y,x} w[b,k]^2 * (P[b,k,y,x] - G[b,k,y,x])^2

i.e. the mean over joints of the per-joint pixel-mean squared error of the weighted heatmaps
``w * P`` against ``w * G``. This is the convention of the JointsMSELoss with target weights
used by ViTPose (without the extra 1/2 factor of some older code bases). Joints whose weight is
0 (not labelled, or outside the crop) contribute nothing but still count in the mean, so the
loss scale does not depend on how many joints a batch happens to have labelled.
"""

from __future__ import annotations

import torch
from torch import nn


def weighted_heatmap_mse(pred: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor) -> torch.Tensor:
    """Scalar loss, computed in float32 whatever the input precision (see module docstring)."""
    if pred.shape != target.shape:
        raise ValueError(f"heatmap shapes differ: prediction {tuple(pred.shape)}, target {tuple(target.shape)}")
    if target_weight.dim() == 3 and target_weight.shape[-1] == 1:  # (B, K, 1) form
        target_weight = target_weight[..., 0]
    if pred.dim() != 4 or target_weight.shape != pred.shape[:2]:
        raise ValueError(
            f"expected heatmaps (B, K, H, W) and weights (B, K); got {tuple(pred.shape)} and "
            f"{tuple(target_weight.shape)}"
        )
    diff = pred.float() - target.float()
    weight_sq = target_weight.float().square()[:, :, None, None]
    return (weight_sq * diff.square()).mean()


class WeightedHeatmapMSE(nn.Module):
    """Module form of :func:`weighted_heatmap_mse` (for code that wants an nn.Module)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor) -> torch.Tensor:
        return weighted_heatmap_mse(pred, target, target_weight)
