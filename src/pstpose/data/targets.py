"""Gaussian heatmap targets and per-joint target weights (the weighted MSE of Eq. 10).

The target of a joint is an unnormalised Gaussian (peak value 1 at the exact centre) evaluated
on the whole heatmap grid at the joint's sub-pixel heatmap coordinate
(``preprocess.crop_to_heatmap``). It is not truncated to a window and its centre is not
rounded, so the target's centroid is the joint itself (no quantisation bias to learn).
"""

from __future__ import annotations

import numpy as np

from pstpose import preprocess
from pstpose.keypoints import NUM_JOINTS, UNANNOTATED_JOINTS


def joint_weights(
    present: np.ndarray,
    visibility: np.ndarray | None,
    points_hm: np.ndarray,
    heatmap_size: tuple[int, int],
    use_visibility: bool = False,
) -> np.ndarray:
    """(K,) float32 weights: 1 for a supervised joint, 0 otherwise.

    A joint is supervised when it is present (annotated), lies inside the heatmap's area
    (heatmap pixel i covers [i - 0.5, i + 0.5), i.e. the crop itself), is not an ear (never
    annotated in PoseTrack), and — only with ``use_visibility`` — has a visibility flag > 0.
    """
    h, w = heatmap_size
    pts = np.asarray(points_hm, dtype=np.float64)
    weight = np.asarray(present, dtype=bool).copy()
    if use_visibility and visibility is not None:
        weight &= np.asarray(visibility, dtype=np.float64) > 0
    finite = np.isfinite(pts).all(axis=1)
    inside = np.zeros_like(weight)
    inside[finite] = (
        (pts[finite, 0] >= -0.5) & (pts[finite, 0] < w - 0.5)
        & (pts[finite, 1] >= -0.5) & (pts[finite, 1] < h - 0.5)
    )
    weight &= inside
    if len(weight) == NUM_JOINTS:
        weight[list(UNANNOTATED_JOINTS)] = False
    return weight.astype(np.float32)


def gaussian_heatmaps(points_hm: np.ndarray, weights: np.ndarray, heatmap_size: tuple[int, int], sigma: float) -> np.ndarray:
    """(K, H, W) float32 targets: exp(-((x - cx)^2 + (y - cy)^2) / (2 sigma^2)) for weighted
    joints, all zeros for joints with weight 0."""
    h, w = heatmap_size
    pts = np.asarray(points_hm, dtype=np.float64)
    active = np.asarray(weights) > 0
    out = np.zeros((len(pts), h, w), dtype=np.float32)
    if not active.any():
        return out
    xs = np.arange(w, dtype=np.float64)
    ys = np.arange(h, dtype=np.float64)
    # Separable: exp(-(dx^2 + dy^2) / 2s^2) = exp(-dy^2 / 2s^2) * exp(-dx^2 / 2s^2).
    gx = np.exp(-((xs[None, :] - pts[active, 0:1]) ** 2) / (2.0 * sigma**2))
    gy = np.exp(-((ys[None, :] - pts[active, 1:2]) ** 2) / (2.0 * sigma**2))
    out[active] = (gy[:, :, None] * gx[:, None, :]).astype(np.float32)
    return out


def make_targets(
    points_crop: np.ndarray,
    present: np.ndarray,
    visibility: np.ndarray | None,
    heatmap_size: tuple[int, int],
    sigma: float,
    stride: int = preprocess.HEATMAP_STRIDE,
    use_visibility: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Crop-space joints -> (target (K, H, W) float32, target_weight (K,) float32)."""
    points_hm = preprocess.crop_to_heatmap(points_crop, stride)
    weights = joint_weights(present, visibility, points_hm, heatmap_size, use_visibility)
    return gaussian_heatmaps(points_hm, weights, heatmap_size, sigma), weights
