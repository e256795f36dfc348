"""Shared geometry and image normalisation for training, evaluation and inference.

One convention everywhere, so that a keypoint mapped into a crop, into a heatmap and back
returns to itself:

* Coordinates are *pixel-index* coordinates: the centre of pixel (col i, row j) is (i, j).
  ``cv2.warpAffine`` uses the same convention.
* A person box is enlarged by ``BOX_ENLARGE`` (25%) and padded to the crop's aspect ratio; the
  crop is one affine transform (centre, scale, rotation) applied to every frame of a clip.
* Heatmaps have stride ``HEATMAP_STRIDE`` = 4; heatmap pixel i covers crop pixels [4i, 4i+4),
  so ``x_heatmap = (x_crop + 0.5) / 4 - 0.5``. With this convention a horizontal flip of the
  crop is exactly a horizontal flip of the heatmap array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INPUT_SIZE: tuple[int, int] = (256, 192)  # (height, width) of a crop
HEATMAP_STRIDE = 4
HEATMAP_SIZE: tuple[int, int] = (INPUT_SIZE[0] // HEATMAP_STRIDE, INPUT_SIZE[1] // HEATMAP_STRIDE)
BOX_ENLARGE = 1.25

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)  # RGB
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass(frozen=True)
class CropBox:
    """A crop region in image coordinates: centre (x, y), size (w, h) and rotation in degrees.

    ``size`` already has the crop's aspect ratio and includes the enlargement.
    """

    center: tuple[float, float]
    size: tuple[float, float]
    rotation: float = 0.0


def box_xywh_to_crop(
    box_xywh,
    input_size: tuple[int, int] = INPUT_SIZE,
    enlarge: float = BOX_ENLARGE,
) -> CropBox:
    """Person box [x, y, w, h] -> CropBox: pad to the crop's aspect ratio, then enlarge.

    Raises ValueError for non-finite boxes or boxes without positive width and height.
    """
    x, y, w, h = (float(v) for v in box_xywh)
    if not np.isfinite([x, y, w, h]).all():
        raise ValueError(f"box {list(box_xywh)} has non-finite values")
    if w <= 0 or h <= 0:
        raise ValueError(f"box {list(box_xywh)} has zero or negative size")
    cx, cy = x + w / 2.0, y + h / 2.0
    aspect = input_size[1] / input_size[0]  # width / height
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    return CropBox(center=(cx, cy), size=(w * enlarge, h * enlarge))


def crop_matrix(crop: CropBox, input_size: tuple[int, int] = INPUT_SIZE, flip: bool = False) -> np.ndarray:
    """2x3 affine matrix mapping image coordinates to crop coordinates.

    The box centre goes to the crop centre ((W-1)/2, (H-1)/2); the box (rotated by
    ``crop.rotation`` degrees, counter-clockwise in the image) fills the crop. With ``flip`` the
    crop is mirrored horizontally (x -> W-1-x) after the warp.
    """
    out_h, out_w = input_size
    sx = out_w / crop.size[0]
    sy = out_h / crop.size[1]
    theta = np.deg2rad(crop.rotation)
    cos, sin = np.cos(theta), np.sin(theta)
    # Rotate about the box centre by -rotation (so content rotates +rotation), then scale.
    rot = np.array([[cos, sin], [-sin, cos]])
    linear = np.diag([sx, sy]) @ rot
    dst_center = np.array([(out_w - 1) / 2.0, (out_h - 1) / 2.0])
    offset = dst_center - linear @ np.asarray(crop.center, dtype=np.float64)
    mat = np.concatenate([linear, offset[:, None]], axis=1)
    if flip:
        mirror = np.array([[-1.0, 0.0, out_w - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        mat = (mirror @ np.vstack([mat, [0.0, 0.0, 1.0]]))[:2]
    return mat


def invert_affine(mat: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix (as a 2x3 matrix)."""
    full = np.vstack([np.asarray(mat, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def apply_affine(points: np.ndarray, mat: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to points of shape (..., 2); returns float64 of the same shape."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ mat[:, :2].T + mat[:, 2]


def warp_frame(image: np.ndarray, mat: np.ndarray, input_size: tuple[int, int] = INPUT_SIZE) -> np.ndarray:
    """Crop one frame (H, W, C uint8) with a 2x3 matrix; outside pixels are zero."""
    import cv2

    out_h, out_w = input_size
    return cv2.warpAffine(
        image,
        mat.astype(np.float64),
        (out_w, out_h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def crop_to_heatmap(points: np.ndarray, stride: int = HEATMAP_STRIDE) -> np.ndarray:
    return (np.asarray(points, dtype=np.float64) + 0.5) / stride - 0.5


def heatmap_to_crop(points: np.ndarray, stride: int = HEATMAP_STRIDE) -> np.ndarray:
    return (np.asarray(points, dtype=np.float64) + 0.5) * stride - 0.5


def normalize_rgb(crops_uint8: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) RGB uint8 -> (..., 3, H, W) float32, ImageNet-normalised."""
    x = crops_uint8.astype(np.float32) / 255.0
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return np.moveaxis(x, -1, -3).copy()


def denormalize_rgb(tensor_chw: np.ndarray) -> np.ndarray:
    """Inverse of normalize_rgb, for visualising model inputs: (..., 3, H, W) -> uint8 HWC."""
    x = np.moveaxis(np.asarray(tensor_chw, dtype=np.float32), -3, -1)
    x = x * IMAGENET_STD + IMAGENET_MEAN
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)
