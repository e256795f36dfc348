import numpy as np
import pytest
import torch

from pstpose.engine.loss import WeightedHeatmapMSE, weighted_heatmap_mse


def test_matches_a_hand_computation():
    # B=1, K=2, 1x2 heatmaps. Joint 0 weight 1: errors 1 and 2 -> squared 1, 4.
    # Joint 1 weight 0.5: errors 2 and 0 -> squared 4, 0, times 0.25 -> 1, 0.
    # mean over the 4 numbers: (1 + 4 + 1 + 0) / 4 = 1.5
    pred = torch.tensor([[[[1.0, 2.0]], [[2.0, 5.0]]]])
    target = torch.tensor([[[[0.0, 0.0]], [[0.0, 5.0]]]])
    weight = torch.tensor([[1.0, 0.5]])
    assert weighted_heatmap_mse(pred, target, weight).item() == pytest.approx(1.5)
    assert WeightedHeatmapMSE()(pred, target, weight.unsqueeze(-1)).item() == pytest.approx(1.5)


def test_equals_the_per_joint_mse_of_weighted_heatmaps(rng):
    pred = rng.normal(size=(3, 5, 4, 3))
    target = rng.normal(size=(3, 5, 4, 3))
    weight = rng.uniform(size=(3, 5))
    # mean over joints of MSE(pred_k * w_k, target_k * w_k), the per-joint loop form
    per_joint = [
        np.mean((pred[:, k] * weight[:, k, None, None] - target[:, k] * weight[:, k, None, None]) ** 2)
        for k in range(5)
    ]
    got = weighted_heatmap_mse(torch.from_numpy(pred), torch.from_numpy(target), torch.from_numpy(weight))
    assert got.item() == pytest.approx(np.mean(per_joint), rel=1e-6)
    assert got.dtype == torch.float32


def test_zero_weight_joints_do_not_matter_and_shapes_are_checked():
    pred, target = torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)
    pred[0, 1] = 100.0
    assert weighted_heatmap_mse(pred, target, torch.tensor([[1.0, 0.0]])).item() == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        weighted_heatmap_mse(pred, target[:, :1], torch.ones(1, 2))
    with pytest.raises(ValueError, match="weights"):
        weighted_heatmap_mse(pred, target, torch.ones(1, 3))
