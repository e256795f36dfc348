"""Person boxes → one affine per person → normalised clip crops for the model.

Box rules (the predictor's; the low-level ``crop_clips`` refuses invalid boxes instead):
a box partly outside the image is clipped to the image rectangle [0, W] × [0, H]; a box whose
clipped width or height is below ``min_size`` pixels (wholly outside, zero-size, NaN) is
dropped. Detectors and box files produce such boxes legitimately, so they are not errors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pstpose.data.boxes import xyxy_to_xywh
from pstpose.preprocess import (
    INPUT_SIZE,
    box_xywh_to_crop,
    crop_matrix,
    normalize_rgb,
    warp_frame,
)


def sanitize_boxes(
    detections: np.ndarray, width: int, height: int, min_size: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Clip (N, 4|5) [x1, y1, x2, y2(, score)] boxes to the image; drop degenerate ones.

    Returns (boxes (M, 4), scores (M,)); a missing score column counts as 1.
    """
    det = np.asarray(detections, dtype=np.float64)
    if det.size == 0:
        return np.zeros((0, 4)), np.zeros(0)
    if det.ndim != 2 or det.shape[1] not in (4, 5):
        raise ValueError(f"boxes must have shape (N, 4) or (N, 5), got {det.shape}")
    scores = det[:, 4] if det.shape[1] == 5 else np.ones(len(det))
    boxes = det[:, :4].copy()
    finite = np.isfinite(boxes).all(axis=1) & np.isfinite(scores)
    boxes = np.nan_to_num(boxes)
    x1 = np.clip(np.minimum(boxes[:, 0], boxes[:, 2]), 0, width)
    x2 = np.clip(np.maximum(boxes[:, 0], boxes[:, 2]), 0, width)
    y1 = np.clip(np.minimum(boxes[:, 1], boxes[:, 3]), 0, height)
    y2 = np.clip(np.maximum(boxes[:, 1], boxes[:, 3]), 0, height)
    clipped = np.stack([x1, y1, x2, y2], axis=1)
    keep = finite & (x2 - x1 >= min_size) & (y2 - y1 >= min_size)
    return clipped[keep], scores[keep]


def crop_matrices(boxes_xyxy: np.ndarray, input_size: tuple[int, int] = INPUT_SIZE) -> np.ndarray:
    """(N, 4) boxes → (N, 2, 3) image→crop affines (25% enlargement, aspect padding).

    Raises ValueError (from ``box_xywh_to_crop``) for zero-size or non-finite boxes.
    """
    xywh = xyxy_to_xywh(np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4))
    mats = [crop_matrix(box_xywh_to_crop(b, input_size), input_size) for b in xywh]
    return np.stack(mats) if mats else np.zeros((0, 2, 3))


def crop_clips(
    frames: Sequence[np.ndarray],
    matrices: np.ndarray,
    input_size: tuple[int, int] = INPUT_SIZE,
    normalize: bool = True,
) -> np.ndarray:
    """Crop every frame of a clip with each person's affine.

    ``frames`` are BGR uint8 (OpenCV order). Returns the model input (N, T, 3, H, W) float32,
    RGB, ImageNet-normalised — or, with ``normalize=False``, the RGB uint8 crops (N, T, H, W, 3)
    (4x smaller; ``run_model`` moves those to the model's device and the model normalises them).
    """
    mats = np.asarray(matrices, dtype=np.float64).reshape(-1, 2, 3)
    h, w = input_size
    crops = np.empty((len(mats), len(frames), h, w, 3), dtype=np.uint8)
    for i, mat in enumerate(mats):
        for t, frame in enumerate(frames):
            crops[i, t] = warp_frame(frame, mat, input_size)[..., ::-1]  # BGR → RGB
    return normalize_rgb(crops) if normalize else crops
