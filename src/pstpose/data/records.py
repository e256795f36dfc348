"""The one in-memory form of a PoseTrack sequence, whatever file format it came from.

Readers (``pstpose.data.posetrack``) produce these; the evaluator, the training dataset and the
prediction writers consume them. Keypoints are always in the 17-slot PoseTrack18 order
(``pstpose.keypoints.JOINT_NAMES``), whatever the source format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Person:
    """One annotated (ground truth) or predicted person in one frame.

    keypoints: (17, 3) float64, x, y, v exactly as in the file (v is the visibility flag; for
        predictions it is usually 1). Absent joints hold whatever the file held (0, 0, 0).
    present: (17,) bool — the joint exists (the file's rule for absence applied by the reader).
    scores: (17,) float64 joint scores for predictions, or None when the file has none.
    """

    keypoints: np.ndarray
    present: np.ndarray
    track_id: int | None = None
    scores: np.ndarray | None = None
    bbox: np.ndarray | None = None  # [x, y, w, h]
    head_box: np.ndarray | None = None  # [x1, y1, x2, y2]
    score: float | None = None  # person / box score, if any
    extra: dict = field(default_factory=dict)


@dataclass
class Frame:
    """One frame of a sequence, in file order."""

    file_name: str  # relative to the dataset root, e.g. images/val/000342_mpii_test/000000.jpg
    frame_index: int  # 0-based position in the video (not in the file)
    persons: list[Person]
    is_labeled: bool = True
    image_id: int | None = None
    ignore_regions: list[np.ndarray] = field(default_factory=list)  # polygons, each (n, 2)
    width: int | None = None
    height: int | None = None


@dataclass
class Sequence:
    """A whole video sequence as read from one file."""

    name: str  # e.g. 000342_mpii_test
    frames: list[Frame]
    format: str  # "pt17" | "pt18" | "pt21"
    source: Path | None = None
    nframes: int | None = None  # frames in the video (files may list fewer)
    vid_id: str | None = None

    @property
    def labeled_frames(self) -> list[Frame]:
        return [f for f in self.frames if f.is_labeled]
