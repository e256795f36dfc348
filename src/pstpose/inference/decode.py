"""Heatmaps → sub-pixel keypoints → image coordinates, and the flip test's flip-back.

Decoding methods (all return heatmap-pixel coordinates in the convention of
``pstpose.preprocess``, and the heatmap value at the integer peak as the joint score):

* ``"argmax"``: the integer peak.
* ``"quarter"``: the peak moved a quarter pixel towards the higher neighbour (the classic rule).
* ``"dark"`` (default): distribution-aware refinement — the heatmap is smoothed with a Gaussian,
  its logarithm is expanded to second order around the peak and the expansion's maximum is
  taken (offset = -H⁻¹∇). A Gaussian's log is exactly quadratic, so for Gaussian-shaped maps
  this recovers the centre up to numerical noise (see docs/inference.md for measured errors).
"""

from __future__ import annotations

import numpy as np

from pstpose.keypoints import flip_permutation
from pstpose.preprocess import HEATMAP_STRIDE, apply_affine, heatmap_to_crop, invert_affine

DECODE_METHODS = ("dark", "quarter", "argmax")
DEFAULT_BLUR_SIGMA = 1.0  # smoothing before the Taylor expansion; 0 disables it
_MAX_OFFSET = 1.0  # a refinement larger than this (heatmap px) means the expansion is not valid


def to_numpy(heatmaps) -> np.ndarray:
    """Accept a numpy array or a torch tensor (any device/dtype) → float32 numpy."""
    if hasattr(heatmaps, "detach"):
        heatmaps = heatmaps.detach().float().cpu().numpy()
    return np.asarray(heatmaps, dtype=np.float32)


def _peaks(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer (x, y) of each map's maximum, maps (M, h, w) → ((M,), (M,))."""
    m, h, w = maps.shape
    flat = maps.reshape(m, h * w).argmax(axis=1)
    return flat % w, flat // w


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(round(3 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def _smoothed_neighbourhood(maps: np.ndarray, px: np.ndarray, py: np.ndarray, blur_sigma: float) -> np.ndarray:
    """The 3x3 neighbourhood (M, 3, 3) of each peak in the Gaussian-smoothed maps.

    Only these 9 values per map enter the Taylor expansion, so the smoothing is computed there
    alone (a patch of the zero-padded map, separable 'valid' convolution) — the result equals
    smoothing the whole map with zero padding, at a fraction of the cost.
    """
    m = len(maps)
    kernel = _gaussian_kernel(blur_sigma) if blur_sigma > 0 else np.ones(1)
    r = len(kernel) // 2
    pad = r + 1
    padded = np.pad(maps.astype(np.float64), ((0, 0), (pad, pad), (pad, pad)))
    size = 2 * r + 3
    rows = py[:, None] + np.arange(size)  # padded index of orig row py-1-r .. py+1+r
    cols = px[:, None] + np.arange(size)
    patch = padded[np.arange(m)[:, None, None], rows[:, :, None], cols[:, None, :]]  # (M, size, size)
    windows_x = np.lib.stride_tricks.sliding_window_view(patch, len(kernel), axis=2)  # (M, size, 3, k)
    along_x = windows_x @ kernel  # (M, size, 3)
    windows_y = np.lib.stride_tricks.sliding_window_view(along_x, len(kernel), axis=1)  # (M, 3, 3, k)
    return windows_y @ kernel  # (M, 3, 3): [row, col]


def _dark_offsets(maps: np.ndarray, px: np.ndarray, py: np.ndarray, blur_sigma: float) -> np.ndarray:
    # log(scale * map) has the same derivatives as log(map): no peak renormalisation needed.
    logm = np.log(np.maximum(_smoothed_neighbourhood(maps, px, py, blur_sigma), 1e-10))

    def at(dx: int, dy: int) -> np.ndarray:
        return logm[:, 1 + dy, 1 + dx]

    f0 = at(0, 0)
    dx = 0.5 * (at(1, 0) - at(-1, 0))
    dy = 0.5 * (at(0, 1) - at(0, -1))
    dxx = at(1, 0) - 2 * f0 + at(-1, 0)
    dyy = at(0, 1) - 2 * f0 + at(0, -1)
    dxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = dxx * dyy - dxy * dxy
    # Only a negative-definite Hessian describes a maximum; otherwise keep the integer peak.
    valid = (dxx < 0) & (det > 1e-12)
    safe_det = np.where(valid, det, 1.0)
    off_x = -(dyy * dx - dxy * dy) / safe_det
    off_y = -(dxx * dy - dxy * dx) / safe_det
    offsets = np.stack([off_x, off_y], axis=1)
    valid &= (np.abs(offsets) <= _MAX_OFFSET).all(axis=1)
    offsets[~valid] = 0.0
    return offsets


def _quarter_offsets(maps: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    m, h, w = maps.shape
    i = np.arange(m)
    offsets = np.zeros((m, 2))
    inner_x = (px > 0) & (px < w - 1)
    inner_y = (py > 0) & (py < h - 1)
    gx = maps[i, py, np.minimum(px + 1, w - 1)] - maps[i, py, np.maximum(px - 1, 0)]
    gy = maps[i, np.minimum(py + 1, h - 1), px] - maps[i, np.maximum(py - 1, 0), px]
    offsets[:, 0] = np.where(inner_x, 0.25 * np.sign(gx), 0.0)
    offsets[:, 1] = np.where(inner_y, 0.25 * np.sign(gy), 0.0)
    return offsets


def decode_heatmaps(
    heatmaps,
    method: str = "dark",
    blur_sigma: float = DEFAULT_BLUR_SIGMA,
) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps (N, K, h, w) (numpy or torch) → (coords (N, K, 2) float64 heatmap px, scores (N, K)).

    Scores are the raw heatmap values at the integer peak.
    """
    if method not in DECODE_METHODS:
        raise ValueError(f"unknown decoding method {method!r}; choose one of {DECODE_METHODS}")
    hm = to_numpy(heatmaps)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must have shape (N, K, h, w), got {hm.shape}")
    n, k, h, w = hm.shape
    if n * k == 0:
        return np.zeros((n, k, 2)), np.zeros((n, k))
    maps = np.nan_to_num(hm.reshape(n * k, h, w), nan=0.0, posinf=0.0, neginf=0.0)
    px, py = _peaks(maps)
    scores = maps[np.arange(n * k), py, px].astype(np.float64)
    coords = np.stack([px, py], axis=1).astype(np.float64)
    if method == "dark":
        coords += _dark_offsets(maps, px, py, blur_sigma)
    elif method == "quarter":
        coords += _quarter_offsets(maps, px, py)
    return coords.reshape(n, k, 2), scores.reshape(n, k)


def flip_back(heatmaps_of_flipped):
    """Heatmaps predicted on horizontally mirrored crops → heatmaps of the unmirrored crops.

    Mirror the maps' width axis and swap left/right channels. With the stride-4 convention of
    ``pstpose.preprocess`` a mirrored crop is exactly a mirrored heatmap: no pixel shift.
    Works on numpy arrays and torch tensors of shape (..., K, h, w).
    """
    perm = flip_permutation()
    if hasattr(heatmaps_of_flipped, "flip"):  # torch
        return heatmaps_of_flipped.flip(-1)[..., perm, :, :]
    return np.asarray(heatmaps_of_flipped)[..., perm, :, ::-1]


def heatmap_stride(heatmap_hw: tuple[int, int], input_hw: tuple[int, int]) -> float:
    """The crop-pixels-per-heatmap-pixel factor; refuses non-uniform strides."""
    sy = input_hw[0] / heatmap_hw[0]
    sx = input_hw[1] / heatmap_hw[1]
    if abs(sx - sy) > 1e-9:
        raise ValueError(f"heatmap {heatmap_hw} and input {input_hw} imply different x/y strides")
    return sx


def to_image_coords(coords_hm: np.ndarray, crop_matrices: np.ndarray, stride: float = HEATMAP_STRIDE) -> np.ndarray:
    """Heatmap coordinates (N, K, 2) + the image→crop affines (N, 2, 3) → image coords (N, K, 2)."""
    coords_hm = np.asarray(coords_hm, dtype=np.float64)
    mats = np.asarray(crop_matrices, dtype=np.float64).reshape(-1, 2, 3)
    if len(mats) != len(coords_hm):
        raise ValueError(f"{len(coords_hm)} heatmap sets but {len(mats)} crop matrices")
    crop_xy = heatmap_to_crop(coords_hm, stride)
    out = np.empty_like(crop_xy)
    for i, mat in enumerate(mats):
        out[i] = apply_affine(crop_xy[i], invert_affine(mat))
    return out
