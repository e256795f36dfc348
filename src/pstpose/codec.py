"""Heatmap codec: Gaussian training targets (encode) and sub-pixel keypoints (decode).

Encoding and decoding share one owner so that both sides use the same stride, the same
heatmap-coordinate convention (``pstpose.preprocess``: ``x_hm = (x_crop + 0.5) / stride - 0.5``)
and the same Gaussian; a target encoded for a joint then decodes back to that joint.
``HeatmapCodec`` bundles one geometry (crop size, heatmap size, sigma, decoding method); the
module-level functions are the same operations for callers that hold the parts separately.

Encoding. The target of a joint is an unnormalised Gaussian (peak value 1 at the exact centre)
evaluated on the whole heatmap grid at the joint's sub-pixel heatmap coordinate
(``preprocess.crop_to_heatmap``). It is not truncated to a window and its centre is not
rounded, so the target's centroid is the joint itself (no quantisation bias to learn). Per-joint
weights select the supervised joints (the weighted MSE of Eq. 10).

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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import numpy as np

from pstpose.keypoints import NUM_JOINTS, UNANNOTATED_JOINTS, flip_permutation
from pstpose.preprocess import (
    HEATMAP_SIZE,
    HEATMAP_STRIDE,
    INPUT_SIZE,
    apply_affine,
    crop_to_heatmap,
    heatmap_to_crop,
    invert_affine,
)

if TYPE_CHECKING:
    import torch

Heatmaps = Union[np.ndarray, "torch.Tensor"]  # decoding accepts either; torch stays optional here

DECODE_METHODS = ("dark", "quarter", "argmax")
DEFAULT_BLUR_SIGMA = 1.0  # smoothing before the Taylor expansion; 0 disables it
DEFAULT_SIGMA = 2.0  # Gaussian target std in heatmap pixels (DataConfig.sigma's default)
_MAX_OFFSET = 1.0  # a refinement larger than this (heatmap px) means the expansion is not valid


# --------------------------------------------------------------------------------------------
# Encoding: joints -> targets
# --------------------------------------------------------------------------------------------


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
        (pts[finite, 0] >= -0.5) & (pts[finite, 0] < w - 0.5) & (pts[finite, 1] >= -0.5) & (pts[finite, 1] < h - 0.5)
    )
    weight &= inside
    if len(weight) == NUM_JOINTS:
        weight[list(UNANNOTATED_JOINTS)] = False
    return weight.astype(np.float32)


def gaussian_heatmaps(
    points_hm: np.ndarray, weights: np.ndarray, heatmap_size: tuple[int, int], sigma: float
) -> np.ndarray:
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
    stride: float = HEATMAP_STRIDE,
    use_visibility: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Crop-space joints -> (target (K, H, W) float32, target_weight (K,) float32)."""
    points_hm = crop_to_heatmap(points_crop, stride)
    weights = joint_weights(present, visibility, points_hm, heatmap_size, use_visibility)
    return gaussian_heatmaps(points_hm, weights, heatmap_size, sigma), weights


# --------------------------------------------------------------------------------------------
# Decoding: heatmaps -> keypoints
# --------------------------------------------------------------------------------------------


def to_numpy(heatmaps: Heatmaps) -> np.ndarray:
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
    """Normalised 1-D Gaussian of radius 3 sigma (at least 1), for the separable smoothing."""
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
    """(M, 2) sub-pixel offsets from the peaks: the maximum of the log-map's quadratic expansion."""
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
    """(M, 2) offsets of ±0.25 px towards the higher neighbour; 0 on the map's border."""
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
    heatmaps: Heatmaps,
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


def flip_back(heatmaps_of_flipped: Heatmaps, permutation: list[int] | None = None) -> Heatmaps:
    """Heatmaps predicted on horizontally mirrored crops → heatmaps of the unmirrored crops.

    Mirror the maps' width axis and swap left/right channels (``permutation``: the model's joint
    set's ``flip_permutation()``; PoseTrack's by default). With the stride-4 convention of
    ``pstpose.preprocess`` a mirrored crop is exactly a mirrored heatmap: no pixel shift.
    Works on numpy arrays and torch tensors of shape (..., K, h, w).
    """
    perm = flip_permutation() if permutation is None else list(permutation)
    if len(perm) != heatmaps_of_flipped.shape[-3]:
        raise ValueError(f"a flip permutation of {len(perm)} joints for {heatmaps_of_flipped.shape[-3]} heatmaps")
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


def heatmap_points_to_image(points_hm: np.ndarray, matrix: np.ndarray, stride: float = HEATMAP_STRIDE) -> np.ndarray:
    """Heatmap coordinates (..., 2) of one crop back into image coordinates (for predictions)."""
    return apply_affine(heatmap_to_crop(points_hm, stride), invert_affine(matrix))


def to_image_coords(coords_hm: np.ndarray, crop_matrices: np.ndarray, stride: float = HEATMAP_STRIDE) -> np.ndarray:
    """Heatmap coordinates (N, K, 2) + the image→crop affines (N, 2, 3) → image coords (N, K, 2)."""
    coords_hm = np.asarray(coords_hm, dtype=np.float64)
    mats = np.asarray(crop_matrices, dtype=np.float64).reshape(-1, 2, 3)
    if len(mats) != len(coords_hm):
        raise ValueError(f"{len(coords_hm)} heatmap sets but {len(mats)} crop matrices")
    out = np.empty_like(coords_hm)
    for i, mat in enumerate(mats):
        out[i] = heatmap_points_to_image(coords_hm[i], mat, stride)
    return out


# --------------------------------------------------------------------------------------------
# The codec: one geometry, both directions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeatmapCodec:
    """Encodes crop-space joints into Gaussian targets and decodes heatmaps back to joints.

    One object holds everything both directions must agree on — crop size and heatmap size
    (hence the stride) and the target's sigma — so that a model trained on ``encode``'s targets
    is read with the same conventions by ``decode``. ``method`` and ``blur_sigma`` choose the
    decoding (see the module docstring); ``use_visibility`` zeroes the weight of joints flagged
    v = 0 (see ``joint_weights``).
    """

    input_size: tuple[int, int] = INPUT_SIZE
    heatmap_size: tuple[int, int] = HEATMAP_SIZE
    sigma: float = DEFAULT_SIGMA
    use_visibility: bool = False
    method: str = "dark"
    blur_sigma: float = DEFAULT_BLUR_SIGMA

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", tuple(int(v) for v in self.input_size))
        object.__setattr__(self, "heatmap_size", tuple(int(v) for v in self.heatmap_size))
        if min(self.input_size + self.heatmap_size) <= 0:
            raise ValueError(
                f"HeatmapCodec: input_size {self.input_size} and heatmap_size {self.heatmap_size} must be positive"
            )
        heatmap_stride(self.heatmap_size, self.input_size)  # refuses different x/y strides
        if not self.sigma > 0:
            raise ValueError(f"HeatmapCodec: sigma must be > 0, got {self.sigma!r}")
        if self.method not in DECODE_METHODS:
            raise ValueError(f"HeatmapCodec: unknown decoding method {self.method!r}; choose one of {DECODE_METHODS}")
        if self.blur_sigma < 0:
            raise ValueError(f"HeatmapCodec: blur_sigma must be >= 0, got {self.blur_sigma!r}")

    @property
    def stride(self) -> float:
        """Crop pixels per heatmap pixel."""
        return heatmap_stride(self.heatmap_size, self.input_size)

    def encode(
        self, points_crop: np.ndarray, present: np.ndarray, visibility: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One person's crop-space joints (K, 2) → (target (K, h, w) float32, weight (K,) float32)."""
        return make_targets(
            points_crop, present, visibility, self.heatmap_size, self.sigma, self.stride, self.use_visibility
        )

    def decode(self, heatmaps: Heatmaps) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (N, K, h, w) → (crop-space joints (N, K, 2), peak scores (N, K)).

        The inverse of ``encode``: the joints come back in the crop coordinates they went in with.
        """
        coords_hm, scores = self._decode_heatmap_px(heatmaps)
        return heatmap_to_crop(coords_hm, self.stride), scores

    def decode_to_image(self, heatmaps: Heatmaps, crop_matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (N, K, h, w) + their image→crop affines (N, 2, 3) → (image joints (N, K, 2), scores)."""
        coords_hm, scores = self._decode_heatmap_px(heatmaps)
        return to_image_coords(coords_hm, crop_matrices, self.stride), scores

    def _decode_heatmap_px(self, heatmaps: Heatmaps) -> tuple[np.ndarray, np.ndarray]:
        """Decode in heatmap pixels after checking the maps have this codec's size (else the
        stride, and every coordinate, would be wrong)."""
        size = tuple(int(v) for v in heatmaps.shape[-2:])
        if size != self.heatmap_size:
            raise ValueError(
                f"HeatmapCodec: heatmaps are {size[0]}x{size[1]} but this codec decodes "
                f"{self.heatmap_size[0]}x{self.heatmap_size[1]} maps "
                f"(input {self.input_size[0]}x{self.input_size[1]})"
            )
        return decode_heatmaps(heatmaps, self.method, self.blur_sigma)
