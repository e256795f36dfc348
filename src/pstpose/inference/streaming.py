"""Streaming clips: each frame's person crops go through the backbone once.

In exact mode (the paper's) the keyframe's box crops all 2ξ+1 frames of its clip, so every frame
is cropped and embedded once for each of the 2ξ+1 clips it belongs to. In streaming mode each
frame's persons are cropped with their own boxes and embedded once; the clip of a keyframe
person takes, for each neighbouring frame, the embedding of the person there whose box overlaps
its box most (one-to-one, IoU >= ``link_iou``), and falls back to exact mode's crop (that frame
cut with the keyframe person's box, embedded on the spot) when nobody there is linked.

When boxes do not move the two modes cut the same crops and give the same heatmaps. When a
person moves, the neighbouring frames of a clip are in slightly shifted crop coordinates;
``benchmarks/streaming.py`` measures what that costs in accuracy and what it saves in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from pstpose.inference.sources import SourceFrame
from pstpose.inference.tracker import box_iou

CLIP_MODES = ("exact", "streaming")
LINK_IOU = 0.5


@dataclass
class EmbeddedFrame:
    """A frame's persons after the backbone: boxes, their crop affines and tokens."""

    frame: SourceFrame
    boxes: np.ndarray  # (n, 4) sanitised xyxy
    box_scores: np.ndarray  # (n,)
    matrices: np.ndarray  # (n, 2, 3)
    tokens: object  # torch (n, h*w, C), or (2n, h*w, C) with the mirrored crops second


def link_boxes(key_boxes: np.ndarray, other_boxes: np.ndarray, min_iou: float = LINK_IOU) -> np.ndarray:
    """For each keyframe box the index of its one-to-one partner in ``other_boxes`` (maximum
    total IoU), or -1 where the best partner overlaps less than ``min_iou``."""
    links = np.full(len(key_boxes), -1, dtype=np.int64)
    if len(key_boxes) == 0 or len(other_boxes) == 0:
        return links
    iou = box_iou(key_boxes, other_boxes)
    rows, cols = linear_sum_assignment(-iou)
    for r, c in zip(rows, cols):
        if iou[r, c] >= min_iou:
            links[r] = c
    return links


def clip_frame_indices(key_index: int, frames_per_side: int, last_index: int) -> list[int]:
    """The frames of keyframe ``key_index``'s clip, clamped to the stream like exact mode's
    ``ClipWindow`` (edge frames repeat at the ends)."""
    return [min(max(t, 0), last_index) for t in range(key_index - frames_per_side, key_index + frames_per_side + 1)]
